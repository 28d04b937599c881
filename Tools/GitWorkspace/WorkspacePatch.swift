import Foundation
public import Git
public import Switchyard

/// Applying a patch to a work tree: every path it names is checked against the workspace's
/// rules and opened beneath the workspace (``Workspace/openForWriting(_:tool:)``); git computes
/// the result in memory from what those descriptors read, and only when every hunk applies is
/// anything written, through the same descriptors. libgit2 never writes the work tree by path,
/// so a symlink swapped in meanwhile leads nowhere.
extension Workspace {
    /// Applies `patch`; with `checkOnly`, only says (by throwing or not) whether it applies.
    public func apply(patch: String, to repository: Repository, checkOnly: Bool = false, tool: String)
        throws(ToolError)
    {
        let paths: [String]
        do {
            paths = try Repository.paths(inPatch: patch)
        } catch {
            throw ToolError(.invalidArguments, tool: tool, "not a unified diff git can read: \(Self.message(error))")
        }
        if paths.isEmpty { throw ToolError(.invalidArguments, tool: tool, "the patch changes no file") }
        var files: [String: FileForWriting] = [:]
        var preimage: [String: Repository.PatchedFile] = [:]
        for path in paths {
            let file = try openForWriting(path, tool: tool)
            files[path] = file
            if let content = try file.contents() {
                preimage[path] = Repository.PatchedFile(content: Array(content), executable: try file.isExecutable())
            }
        }
        let postimage: [String: Repository.PatchedFile?]
        do {
            postimage = try repository.applying(patch: patch, to: preimage)
        } catch {
            throw ToolError(.invalidArguments, tool: tool, "the patch does not apply: \(Self.message(error))")
        }
        if checkOnly { return }
        for path in paths {
            guard let file = files[path], let result = postimage[path] else { continue }
            if let result {
                try file.write(Data(result.content), executable: result.executable)
            } else {
                try file.remove()
            }
        }
    }

    private static func message(_ error: any Error) -> String {
        (error as? GitError)?.message ?? "\(error)"
    }
}
