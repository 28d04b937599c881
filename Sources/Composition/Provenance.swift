import Curl
import Git
import SQLite
public import Switchyard

/// Where a run ran, as its header records it: the workspace and its git state, and the
/// versions of Switchyard and of the C libraries it was built with.
public enum Provenance {
    /// The header fields of a run of `command` in `workspace`.
    public static func header(workspace: String, command: String) -> [String: JSONValue] {
        var repository: JSONValue = .null
        if let git = try? Repository(path: workspace, discover: true) {
            let head = try? git.head()
            repository = [
                "head": head?.commit.map { .string($0.hex) } ?? .null,
                "branch": head?.branchName.map(JSONValue.string) ?? .null,
                "dirty": (try? git.isDirty()).map(JSONValue.bool) ?? .null,
            ]
        }
        return [
            "workspace": ["path": .string(workspace), "git": repository],
            "command": .string(command), "switchyard": .string(Switchyard.version),
            "libraries": [
                "libcurl": .string(CurlLibrary.version), "libgit2": .string(Repository.libraryVersion),
                "sqlite": .string(Database.libraryVersion),
            ],
        ]
    }
}
