public import Git

/// Applying a patch to a work tree: every path it names is checked against the workspace's
/// rules first, then git checks that every hunk applies, then it is applied.
extension Workspace {
    public func apply(patch: String, to repository: Repository, tool: String)
        throws(ToolError)
    {
        let paths: [String]
        do {
            paths = try Repository.paths(inPatch: patch)
        } catch {
            throw ToolError(.invalidArguments, tool: tool, "not a unified diff git can read: \(Self.message(error))")
        }
        if paths.isEmpty { throw ToolError(.invalidArguments, tool: tool, "the patch changes no file") }
        for path in paths { _ = try resolve(path, for: .write, tool: tool) }
        do {
            try repository.apply(patch: patch, checkOnly: true)
            try repository.apply(patch: patch)
        } catch {
            throw ToolError(.invalidArguments, tool: tool, "the patch does not apply: \(Self.message(error))")
        }
    }

    private static func message(_ error: any Error) -> String {
        (error as? GitError)?.message ?? "\(error)"
    }
}
