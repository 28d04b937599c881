import Foundation
import Git
import GitWorkspace
public import Switchyard

/// `git_status`: the branch and `git status --porcelain`.
public struct GitStatusTool: GitTool {
    public let workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }

    public var name: String { "git_status" }
    public var description: String {
        "Show the checked-out branch and which files are staged, modified or untracked (git status --porcelain: XY path, X the index, Y the work tree)."
    }
    public var parameters: JSONValue { ["type": "object", "properties": [:], "additionalProperties": false] }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        let (head, entries) = try git { (try repository.head(), try repository.status()) }
        var text: String
        switch head {
        case .branch(let name, let commit): text = "On branch \(name) at \(commit.short)\n"
        case .detached(let commit): text = "HEAD detached at \(commit.short)\n"
        case .unborn(let name): text = "On branch \(name), no commits yet\n"
        }
        text += entries.isEmpty ? "Nothing to commit, working tree clean.\n" : entries.map { "\($0)\n" }.joined()
        let data: JSONValue = [
            "branch": head.branchName.map(JSONValue.string) ?? .null,
            "head": head.commit.map { .string($0.hex) } ?? .null,
            "entries": .array(
                entries.map { entry in
                    [
                        "path": .string(entry.path), "index": .string(String(entry.index)),
                        "work_tree": .string(String(entry.workTree)),
                        "original_path": entry.originalPath.map(JSONValue.string) ?? .null,
                    ]
                }),
        ]
        return output(text, data: data, hint: "use git_diff with paths to look at part of it")
    }
}

/// `git_log`: commits, newest first.
public struct GitLogTool: GitTool {
    public let workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }

    public var name: String { "git_log" }
    public var description: String {
        "List commits, newest first: id, date, author and summary. Filter by path, author or date."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "revision": [
                    "type": "string", "description": "Where to start (default HEAD): a branch, tag or commit.",
                ],
                "limit": [
                    "type": "integer", "minimum": 1, "maximum": 5000,
                    "description": "At most this many commits (default 20).",
                ],
                "path": ["type": "string", "description": "Only commits that changed this file or directory."],
                "author": ["type": "string", "description": "Only commits whose author name or email contains this."],
                "since": ["type": "string", "description": "Only commits since a date: 2026-01-31, or '2 weeks ago'."],
            ],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        var query = LogQuery(start: arguments.string("revision") ?? "HEAD", limit: arguments.int("limit") ?? 20)
        if let path = arguments.string("path") { query.path = try relativePath(path) }
        query.author = arguments.string("author")
        if let since = arguments.string("since") {
            guard let time = GitFormat.time(since) else {
                throw ToolError(
                    .invalidArguments, tool: name,
                    "since: expected a date like 2026-01-31 or '2 weeks ago', got '\(since)'")
            }
            query.since = time
        }
        if case .unborn(let branch) = try git({ try repository.head() }), query.start == "HEAD" {
            return output("Branch \(branch) has no commits yet.\n", data: ["commits": []], hint: "")
        }
        let commits = try git { try repository.log(query) }
        var text = commits.map { "\($0.id.short) \(GitFormat.day($0.author)) \($0.author.name): \($0.summary)\n" }
            .joined()
        if commits.isEmpty { text = "No commits match.\n" }
        if commits.count == query.limit {
            text += "[\(commits.count) commits shown; raise limit or narrow with path, author or since for more]\n"
        }
        return output(
            text, data: ["commits": .array(commits.map(GitFormat.json))], hint: "lower limit or narrow the query")
    }
}

/// `git_show`: one commit with its diff.
public struct GitShowTool: GitTool {
    public let workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }

    public var name: String { "git_show" }
    public var description: String {
        "Show a commit: its id, author, date, full message, which files changed, and the diff against its first parent."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "revision": ["type": "string", "description": "The commit (default HEAD)."],
                "paths": [
                    "type": "array", "items": ["type": "string"], "description": "Only the diff of these paths.",
                ],
            ],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        let revision = arguments.string("revision") ?? "HEAD"
        var paths: [String] = []
        for path in arguments.strings("paths") ?? [] { paths.append(try relativePath(path)) }
        let (commit, diff) = try git {
            let commit = try repository.commit(revision)
            return (commit, try repository.diff(commit: commit, options: DiffOptions(paths: paths)))
        }
        var text = "commit \(commit.id.hex)\n"
        if commit.parents.count > 1 {
            text += "Merge: \(commit.parents.map(\.short).joined(separator: " ")) (diff against the first parent)\n"
        }
        text += "Author: \(commit.author.name) <\(commit.author.email)>\nDate:   \(GitFormat.date(commit.author))\n\n"
        text += commit.message.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)\n" }.joined()
        text += "\n" + GitFormat.stat(diff) + "\n" + diff.patch
        var data = GitFormat.json(commit)
        if case .object(var object) = data {
            object["message"] = .string(commit.message)
            object["diff"] = GitFormat.json(diff)
            data = .object(object)
        }
        return output(text, data: data, hint: "call git_show with paths, or git_diff, to see one file's changes")
    }
}

/// `git_diff`: the work tree, the index or two revisions compared.
public struct GitDiffTool: GitTool {
    public let workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }

    public var name: String { "git_diff" }
    public var description: String {
        "Show changes as a unified diff with statistics. Without from/to: the work tree against the index (unstaged changes); staged=true: the index against HEAD; from only: the work tree against that revision; from and to: between two revisions."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "staged": [
                    "type": "boolean", "description": "Compare the index (staged changes) with HEAD, or with from.",
                ],
                "from": ["type": "string", "description": "A revision to compare from."],
                "to": ["type": "string", "description": "A revision to compare to (needs from)."],
                "paths": [
                    "type": "array", "items": ["type": "string"], "description": "Only these files or directories.",
                ],
                "context_lines": [
                    "type": "integer", "minimum": 0, "maximum": 100, "description": "Lines of context (default 3).",
                ],
                "stat_only": ["type": "boolean", "description": "Only the statistics, no patch."],
            ],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        let target: DiffTarget
        switch (arguments.string("from"), arguments.string("to"), arguments.bool("staged") ?? false) {
        case (nil, nil, false): target = .workTree
        case (let from, nil, true): target = .index(against: from ?? "HEAD")
        case (let from?, nil, false): target = .workTreeAgainst(from)
        case (let from?, let to?, false): target = .revisions(from: from, to: to)
        case (nil, _?, _):
            throw ToolError(.invalidArguments, tool: name, "to needs from")
        case (_, _?, true):
            throw ToolError(.invalidArguments, tool: name, "staged compares the index; it cannot take to")
        }
        var paths: [String] = []
        for path in arguments.strings("paths") ?? [] { paths.append(try relativePath(path)) }
        let options = DiffOptions(contextLines: arguments.int("context_lines") ?? 3, paths: paths)
        let diff = try git { try repository.diff(target, options: options) }
        var text = diff.files.isEmpty ? "No differences.\n" : GitFormat.stat(diff)
        if arguments.bool("stat_only") != true, !diff.files.isEmpty { text += "\n" + diff.patch }
        var data = GitFormat.json(diff)
        if case .object(var object) = data, arguments.bool("stat_only") != true {
            object["patch"] = .string(diff.patch)
            data = .object(object)
        }
        return output(text, data: data, hint: "call git_diff with paths for one file at a time, or stat_only")
    }
}

/// `git_blame`: who last changed each line.
public struct GitBlameTool: GitTool {
    public let workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }

    public var name: String { "git_blame" }
    public var description: String {
        "Show, for each line of a committed file, the commit, author and date that last changed it. Use start_line/end_line for a range."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "path": ["type": "string", "minLength": 1],
                "revision": ["type": "string", "description": "Blame the file as of this revision (default HEAD)."],
                "start_line": ["type": "integer", "minimum": 1],
                "end_line": ["type": "integer", "minimum": 1],
            ],
            "required": ["path"],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        let path = try relativePath(arguments.string("path") ?? "")
        let start = arguments.int("start_line") ?? 1
        let end = arguments.int("end_line") ?? Int.max
        guard end >= start else {
            throw ToolError(.invalidArguments, tool: name, "end_line (\(end)) is before start_line (\(start))")
        }
        let lines = try git {
            try repository.blame(path: path, at: arguments.string("revision") ?? "HEAD", lines: start...end)
        }
        let text = lines.map { line in
            "\(line.commit.short) (\(line.author.name) \(GitFormat.day(line.author)) \(line.line)) \(line.text)\n"
        }.joined()
        let data: JSONValue = [
            "path": .string(path),
            "lines": .array(
                lines.map { line in
                    [
                        "line": .number(Double(line.line)), "commit": .string(line.commit.hex),
                        "author": .string(line.author.name), "date": .string(GitFormat.date(line.author)),
                        "original_line": .number(Double(line.originalLine)),
                        "original_path": .string(line.originalPath),
                    ]
                }),
        ]
        return output(
            text.isEmpty ? "The file is empty.\n" : text, data: data,
            hint: "blame a smaller range with start_line and end_line")
    }
}

/// `git_branch`: list branches, or create one.
public struct GitBranchTool: GitTool {
    public let workspace: Workspace
    public init(workspace: Workspace) { self.workspace = workspace }

    public var name: String { "git_branch" }
    public var description: String {
        "List the local branches (the checked-out one marked *), or with create, create a branch at a revision without checking it out."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "create": ["type": "string", "description": "The name of a branch to create."],
                "start": ["type": "string", "description": "Where the new branch starts (default HEAD)."],
            ],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let repository = try openRepository()
        if let name = arguments.string("create") {
            guard Repository.isValidBranchName(name) else {
                throw ToolError(.invalidArguments, tool: self.name, "'\(name)' is not a valid branch name")
            }
            if try git({ try repository.branchTip(name) }) != nil {
                throw ToolError(.invalidArguments, tool: self.name, "branch \(name) already exists")
            }
            let branch = try git { try repository.createBranch(name, at: arguments.string("start") ?? "HEAD") }
            return output(
                "Created branch \(branch.name) at \(branch.commit.short).\n",
                data: ["created": .string(branch.name), "commit": .string(branch.commit.hex)], hint: "")
        }
        let branches = try git { try repository.branches() }
        let text = branches.map { "\($0.isCheckedOut ? "*" : " ") \($0.name) \($0.commit.short)\n" }.joined()
        return output(
            text.isEmpty ? "No branches yet.\n" : text,
            data: [
                "branches": .array(
                    branches.map {
                        [
                            "name": .string($0.name), "commit": .string($0.commit.hex),
                            "checked_out": .bool($0.isCheckedOut),
                        ]
                    })
            ], hint: "")
    }
}
