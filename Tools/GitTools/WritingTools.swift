import Git
import GitWorkspace
public import Switchyard

/// `git_commit`: commits staged or given changes on a branch, by default never on the
/// checked-out branch or a protected one.
public struct GitCommitTool: GitTool {
    public let workspace: Workspace
    public let policy: GitTools.CommitPolicy

    public init(workspace: Workspace, policy: GitTools.CommitPolicy = GitTools.CommitPolicy()) {
        self.workspace = workspace
        self.policy = policy
    }

    public var name: String { "git_commit" }
    public var description: String {
        "Commit changes on a branch without checking it out (it is created at HEAD if needed). With patch: a unified diff applied to the branch, the work tree untouched (how to propose a change); with paths: those files as they are in the work tree, on top of the branch; with neither: the staged changes. The checked-out branch and protected branches are refused."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "branch": [
                    "type": "string", "minLength": 1,
                    "description": "The branch to commit on, e.g. switchyard/fix-parser.",
                ],
                "message": ["type": "string", "minLength": 1, "description": "The commit message."],
                "paths": [
                    "type": "array", "items": ["type": "string"], "minItems": 1,
                    "description": "The files to commit as they are now; a deleted file is removed.",
                ],
                "patch": [
                    "type": "string", "minLength": 1,
                    "description": "A unified diff (git diff format) to commit, applied to the branch's tip.",
                ],
            ],
            "required": ["branch", "message"],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        let branch = arguments.string("branch") ?? ""
        guard Repository.isValidBranchName(branch) else {
            throw ToolError(.invalidArguments, tool: name, "'\(branch)' is not a valid branch name")
        }
        if policy.protectedBranches.contains(branch) {
            throw ToolError(
                .refused, tool: name, "\(branch) is a protected branch; commit on a new branch instead",
                rule: "protected-branch")
        }
        let head = try git { try repository.head() }
        if head.branchName == branch, !policy.allowCheckedOutBranch {
            throw ToolError(
                .refused, tool: name,
                "\(branch) is checked out; commit on another branch (the spec can allow this with allow_checked_out_branch)",
                rule: "checked-out-branch")
        }
        let content: CommitContent
        if let patch = arguments.string("patch") {
            guard arguments.strings("paths") == nil else {
                throw ToolError(.invalidArguments, tool: name, "give a patch or paths, not both")
            }
            // The patch goes into the branch, not the work tree; its paths still have to be
            // ones the workspace could hold.
            for path in try git({ try Repository.paths(inPatch: patch) }) {
                let parts = path.split(separator: "/")
                if path.hasPrefix("/") || parts.contains("..") || parts.contains(".git") {
                    throw ToolError(
                        .refused, tool: name, "the patch touches \(path), outside the repository's files",
                        rule: "outside-workspace")
                }
            }
            content = .patch(patch)
        } else if let given = arguments.strings("paths") {
            var paths: [String] = []
            for path in given {
                let resolved = try workspace.resolve(path, for: .write, tool: name)
                if resolved.isDirectory {
                    throw ToolError(.invalidArguments, tool: name, "\(path) is a directory; name the files")
                }
                paths.append(resolved.relative)
            }
            content = .paths(paths)
        } else {
            content = .staged
        }
        let message = arguments.string("message") ?? ""
        let commit = try git { try repository.commit(content, on: branch, message: message) }
        let diff = try git { try repository.diff(commit: commit) }
        return output(
            "Committed \(commit.id.short) on \(branch): \(commit.summary)\n" + GitFormat.stat(diff),
            data: ["branch": .string(branch), "commit": GitFormat.json(commit), "diff": GitFormat.json(diff)], hint: "")
    }
}

/// `git_apply`: applies a unified diff to the work tree.
public struct GitApplyTool: GitTool {
    public let workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }

    public var name: String { "git_apply" }
    public var description: String {
        "Apply a unified diff (git diff format) to the work tree; with check, only say whether it applies. Nothing is written unless every hunk applies."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "patch": ["type": "string", "minLength": 1],
                "check": ["type": "boolean", "description": "Only check that the patch applies."],
            ],
            "required": ["patch"],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        let patch = arguments.string("patch") ?? ""
        let paths = try git { try Repository.paths(inPatch: patch) }
        if arguments.bool("check") == true {
            do {
                try workspace.apply(patch: patch, to: repository, checkOnly: true, tool: name)
            } catch let error where error.code == .invalidArguments {
                return output(
                    "The patch does not apply: \(error.message.replacing("the patch does not apply: ", with: ""))\n",
                    data: ["applies": false, "paths": .array(paths.map(JSONValue.string))], hint: "")
            }
            return output(
                "The patch applies cleanly to: \(paths.joined(separator: ", "))\n",
                data: ["applies": true, "paths": .array(paths.map(JSONValue.string))], hint: "")
        }
        try workspace.apply(patch: patch, to: repository, tool: name)
        return output(
            "Applied the patch to: \(paths.joined(separator: ", "))\n",
            data: ["applied": true, "paths": .array(paths.map(JSONValue.string))], hint: "")
    }
}
