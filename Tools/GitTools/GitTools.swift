import Foundation
import Git
import GitWorkspace
public import Switchyard

/// The git tools for a workspace that is the root of a git repository.
public enum GitTools {
    /// What the spec's `tools.git_commit` options say.
    public struct CommitPolicy: Sendable, Hashable {
        /// Branches a commit may never land on.
        public var protectedBranches: Set<String> = ["main", "master"]
        /// Whether a commit may land on the checked-out branch (when it is not protected).
        public var allowCheckedOutBranch = false

        public init(protectedBranches: Set<String> = ["main", "master"], allowCheckedOutBranch: Bool = false) {
            self.protectedBranches = protectedBranches
            self.allowCheckedOutBranch = allowCheckedOutBranch
        }

        /// Reads `protected_branches` and `allow_checked_out_branch`.
        public init(options: ToolOptions) throws(ConfigurationError) {
            var options = options
            if let protected = try options.strings("protected_branches") { protectedBranches = Set(protected) }
            allowCheckedOutBranch = try options.bool("allow_checked_out_branch") ?? false
            try options.finish()
        }
    }

    public static func make(workspace: Workspace, commitPolicy: CommitPolicy = CommitPolicy(), readOnly: Bool = false)
        -> [any Tool]
    {
        let reading: [any Tool] = [
            GitStatusTool(workspace: workspace), GitLogTool(workspace: workspace), GitShowTool(workspace: workspace),
            GitDiffTool(workspace: workspace), GitBlameTool(workspace: workspace), GitBranchTool(workspace: workspace),
        ]
        if readOnly { return reading }
        return reading + [
            GitCommitTool(workspace: workspace, policy: commitPolicy), GitApplyTool(workspace: workspace),
        ]
    }
}

/// What every git tool shares: the workspace, and how to open its repository.
protocol GitTool: Tool {
    var workspace: Workspace { get }
}

extension GitTool {
    public var reads: Labels { workspace.labels }
    var limit: OutputLimit { OutputLimit() }

    /// The repository whose work tree is the workspace.
    func openRepository() throws(ToolError) -> Repository {
        let repository = try workspace.openRepository(tool: name)
        if repository.isBare {
            throw ToolError(.unavailable, tool: name, "the repository is bare: it has no work tree")
        }
        return repository
    }

    /// Runs `body`, turning a libgit2 failure into an error the model can read.
    func git<Result>(_ body: () throws -> Result) throws(ToolError) -> Result {
        do {
            return try body()
        } catch let error as ToolError {
            throw error
        } catch let error as GitError {
            let code: ToolError.Code = error.code == GitError.notFound ? .notFound : .failed
            throw ToolError(code, tool: name, "cannot \(error.operation): \(error.message)")
        } catch {
            throw ToolError(.failed, tool: name, "\(error)")
        }
    }

    /// A path argument, checked against the workspace's rules and made relative to it.
    func relativePath(_ path: String, for access: Workspace.Access = .read) throws(ToolError) -> String {
        try workspace.resolve(path, for: access, tool: name).relative
    }

    func output(_ text: String, data: JSONValue, hint: String) -> ToolOutput {
        let capped = limit.apply(to: text, hint: hint)
        return ToolOutput(text: capped.text, data: data, labels: workspace.labels, truncated: capped.truncated)
    }
}

enum GitFormat {
    /// `2026-01-31 12:00:00 +0100`: the signature's time in its own time zone, as git prints it.
    static func date(_ signature: Signature) -> String {
        let offset = Int(signature.timeZoneOffset)
        var seconds = time_t(signature.time + Int64(offset * 60))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let sign = offset < 0 ? "-" : "+"
        let zone = two(Int32(abs(offset) / 60)) + two(Int32(abs(offset) % 60))
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) \(sign)\(zone)"
    }

    static func day(_ signature: Signature) -> String { String(date(signature).prefix(10)) }

    static func json(_ commit: Commit) -> JSONValue {
        [
            "id": .string(commit.id.hex), "author": .string(commit.author.name), "email": .string(commit.author.email),
            "date": .string(date(commit.author)), "summary": .string(commit.summary),
            "parents": .array(commit.parents.map { .string($0.hex) }),
        ]
    }

    static func json(_ diff: Diff) -> JSONValue {
        [
            "files": .array(
                diff.files.map { file in
                    var object: [String: JSONValue] = [
                        "path": .string(file.path), "status": .string(String(file.status)),
                        "insertions": .number(Double(file.insertions)), "deletions": .number(Double(file.deletions)),
                    ]
                    if let old = file.oldPath { object["old_path"] = .string(old) }
                    if file.isBinary { object["binary"] = true }
                    return .object(object)
                }),
            "insertions": .number(Double(diff.insertions)), "deletions": .number(Double(diff.deletions)),
        ]
    }

    /// `git diff --stat`-like lines: `path | +3 -1`, then a summary.
    static func stat(_ diff: Diff) -> String {
        var text = ""
        for file in diff.files {
            let name = file.oldPath.map { "\($0) => \(file.path)" } ?? file.path
            text += file.isBinary ? " \(name) | binary\n" : " \(name) | +\(file.insertions) -\(file.deletions)\n"
        }
        let count = diff.files.count
        text +=
            " \(count) file\(count == 1 ? "" : "s") changed, \(diff.insertions) insertions(+), \(diff.deletions) deletions(-)\n"
        return text
    }

    /// Reads `2026-01-31`, `2026-01-31T12:00:00Z` or `3 weeks ago` (days, weeks, months, years).
    static func time(_ text: String, now: Date = Date()) -> Int64? {
        let parts = text.lowercased().split(separator: " ")
        if parts.count == 3, parts[2] == "ago", let count = Double(parts[0]) {
            let unit = parts[1].hasSuffix("s") ? parts[1].dropLast() : parts[1]
            let seconds: Double? =
                switch unit {
                case "minute": 60
                case "hour": 3600
                case "day": 86400
                case "week": 7 * 86400
                case "month": 30 * 86400
                case "year": 365 * 86400
                default: nil
                }
            return seconds.map { Int64(now.timeIntervalSince1970 - count * $0) }
        }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return Int64(date.timeIntervalSince1970) }
        iso.formatOptions = [.withFullDate]
        if let date = iso.date(from: text) { return Int64(date.timeIntervalSince1970) }
        return nil
    }
}
