import Curl
import Git
import SQLite
public import Switchyard

/// Where a run ran, as its header records it: the workspace and its git state, and the
/// versions of Switchyard and of the C libraries it was built with.
public enum Provenance {
    /// `header`, as a run of `command` in `workspace` records it.
    public static func stamp(_ header: RunHeader, workspace: String, command: String) -> RunHeader {
        var header = header
        var git: RunHeader.Workspace.Git?
        if let repository = try? Repository(path: workspace, discover: true) {
            let head = try? repository.head()
            git = RunHeader.Workspace.Git(
                head: head?.commit?.hex, branch: head?.branchName, dirty: try? repository.isDirty())
        }
        header.workspace = RunHeader.Workspace(path: workspace, git: git)
        header.command = command
        header.switchyard = Switchyard.version
        header.libraries = [
            "libcurl": CurlLibrary.version, "libgit2": Repository.libraryVersion, "sqlite": Database.libraryVersion,
        ]
        return header
    }
}
