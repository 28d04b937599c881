import Foundation
import GitTools
import Switchyard
import SwitchyardTesting
import Testing

/// A repository with two commits on `main`, as the git tools see it.
func makeRepository() async throws -> (TemporaryDirectory, Workspace) {
    let directory = try TemporaryDirectory("gittools")
    try await GitCommand.initialize(directory.path)
    try directory.write("src/app.swift", "let greeting = \"hello\"\nprint(greeting)\n")
    try await GitCommand.run(["add", "-A"], in: directory.path)
    try await GitCommand.run(["commit", "-q", "-m", "Greet"], in: directory.path)
    try directory.write("src/app.swift", "let greeting = \"hello, world\"\nprint(greeting)\n")
    try await GitCommand.run(["commit", "-q", "-am", "Greet the world"], in: directory.path)
    return (directory, try Workspace(path: directory.path))
}

func tool(_ name: String, _ workspace: Workspace, policy: GitTools.CommitPolicy = GitTools.CommitPolicy()) throws
    -> any Tool
{
    try #require(GitTools.make(workspace: workspace, commitPolicy: policy).first { $0.name == name })
}

@Suite struct GitToolTests {
    @Test func statusLogShowAndBlameReadLikeGit() async throws {
        let (directory, workspace) = try await makeRepository()
        try directory.write("notes.txt", "todo\n")
        let status = try await tool("git_status", workspace).invoke([:])
        let head = try await GitCommand.run(["rev-parse", "--short=12", "HEAD"], in: directory.path)
        #expect(status.text == "On branch main at \(head.trimmingCharacters(in: .newlines))\n?? notes.txt\n")
        #expect(status.labels == Labels(.private, .trusted))

        let log = try await tool("git_log", workspace).invoke(["limit": 1])
        #expect(
            log.text.hasPrefix(head.trimmingCharacters(in: .newlines) + " 2026-01-02 Ada Author: Greet the world\n"))
        #expect(log.text.hasSuffix("[1 commits shown; raise limit or narrow with path, author or since for more]\n"))
        let filtered = try await tool("git_log", workspace).invoke([
            "author": "ada@", "since": "2026-01-01", "path": "src",
        ])
        #expect(filtered.data["commits"]?.arrayValue?.count == 2)
        await #expect {
            _ = try await tool("git_log", workspace).invoke(["since": "last tuesday-ish"])
        } throws: { ($0 as? ToolError)?.code == .invalidArguments }

        let show = try await tool("git_show", workspace).invoke([:])
        #expect(show.text.contains("Author: Ada Author <ada@example.com>\n"))
        #expect(show.text.contains("    Greet the world\n"))
        #expect(show.text.contains("-let greeting = \"hello\"\n+let greeting = \"hello, world\"\n"))

        let blame = try await tool("git_blame", workspace).invoke([
            "path": "src/app.swift", "start_line": 2, "end_line": 2,
        ])
        let first = try await GitCommand.run(["rev-parse", "--short=12", "HEAD~1"], in: directory.path)
        #expect(blame.text == "\(first.trimmingCharacters(in: .newlines)) (Ada Author 2026-01-02 2) print(greeting)\n")
    }

    @Test func diffModes() async throws {
        let (directory, workspace) = try await makeRepository()
        try directory.write("src/app.swift", "let greeting = \"hi\"\nprint(greeting)\n")
        let unstaged = try await tool("git_diff", workspace).invoke([:])
        #expect(unstaged.text.hasPrefix(" src/app.swift | +1 -1\n 1 file changed, 1 insertions(+), 1 deletions(-)\n"))
        #expect(try await tool("git_diff", workspace).invoke(["staged": true]).text == "No differences.\n")
        let between = try await tool("git_diff", workspace).invoke(["from": "HEAD~1", "to": "HEAD", "stat_only": true])
        #expect(between.text == " src/app.swift | +1 -1\n 1 file changed, 1 insertions(+), 1 deletions(-)\n")
        await #expect {
            _ = try await tool("git_diff", workspace).invoke(["to": "HEAD"])
        } throws: { ($0 as? ToolError)?.message == "to needs from" }
        await #expect {
            _ = try await tool("git_diff", workspace).invoke(["from": "no-such-branch"])
        } throws: { ($0 as? ToolError)?.code == .notFound }
    }

    @Test func commitsGoOnANewBranchNeverOnTheCheckedOutOrAProtectedOne() async throws {
        let (directory, workspace) = try await makeRepository()
        try directory.write("src/app.swift", "let greeting = \"bonjour\"\nprint(greeting)\n")
        let commit = try tool("git_commit", workspace)
        for branch in ["main", "master"] {
            await #expect {
                _ = try await commit.invoke(["branch": .string(branch), "message": "x", "paths": ["src/app.swift"]])
            } throws: { ($0 as? ToolError)?.rule == "protected-branch" }
        }
        try await GitCommand.run(["checkout", "-q", "-b", "work"], in: directory.path)
        await #expect {
            _ = try await commit.invoke(["branch": "work", "message": "x", "paths": ["src/app.swift"]])
        } throws: { ($0 as? ToolError)?.rule == "checked-out-branch" }
        await #expect {
            _ = try await commit.invoke(["branch": "a..b", "message": "x"])
        } throws: { ($0 as? ToolError)?.code == .invalidArguments }
        await #expect {
            _ = try await commit.invoke(["branch": "escape", "message": "x", "paths": ["../elsewhere.txt"]])
        } throws: { ($0 as? ToolError)?.rule == "parent-escape" }

        let output = try await commit.invoke([
            "branch": "switchyard/french", "message": "Greet in French", "paths": ["src/app.swift"],
        ])
        #expect(output.text.hasPrefix("Committed "))
        #expect(
            try await GitCommand.run(["log", "-1", "--format=%s", "switchyard/french"], in: directory.path)
                == "Greet in French\n")
        #expect(try await GitCommand.run(["rev-parse", "--abbrev-ref", "HEAD"], in: directory.path) == "work\n")
        #expect(try await GitCommand.run(["status", "--porcelain"], in: directory.path) == " M src/app.swift\n")

        // The spec can allow the checked-out branch.
        let allowed = try tool("git_commit", workspace, policy: GitTools.CommitPolicy(allowCheckedOutBranch: true))
        _ = try await allowed.invoke(["branch": "work", "message": "On work", "paths": ["src/app.swift"]])
        #expect(try await GitCommand.run(["status", "--porcelain"], in: directory.path) == "")
    }

    /// A change proposed as a patch lands on a new branch; the work tree, the index and the
    /// checked-out branch stay as they were — also when the work tree is read-only.
    @Test func aPatchIsCommittedOnANewBranchWithoutTouchingTheWorkTree() async throws {
        let (directory, base) = try await makeRepository()
        var workspace = base
        workspace.readOnlyReason = "read-only in this run"
        let patch = """
            diff --git a/src/app.swift b/src/app.swift
            --- a/src/app.swift
            +++ b/src/app.swift
            @@ -1,2 +1,2 @@
            -let greeting = "hello, world"
            +let greeting = "hej, världen"
             print(greeting)
            diff --git a/NOTES.md b/NOTES.md
            new file mode 100644
            --- /dev/null
            +++ b/NOTES.md
            @@ -0,0 +1 @@
            +Greets in Swedish now.

            """
        let commit = try tool("git_commit", workspace)
        let output = try await commit.invoke([
            "branch": "switchyard/swedish", "message": "Greet in Swedish", "patch": .string(patch),
        ])
        #expect(output.text.contains("Greet in Swedish"))
        #expect(
            try await GitCommand.run(["show", "switchyard/swedish:src/app.swift"], in: directory.path)
                == "let greeting = \"hej, världen\"\nprint(greeting)\n")
        #expect(
            try await GitCommand.run(["show", "switchyard/swedish:NOTES.md"], in: directory.path)
                == "Greets in Swedish now.\n")
        #expect(try await GitCommand.run(["status", "--porcelain"], in: directory.path) == "")
        #expect(try directory.read("src/app.swift") == "let greeting = \"hello, world\"\nprint(greeting)\n")
        #expect(try await GitCommand.run(["rev-parse", "--abbrev-ref", "HEAD"], in: directory.path) == "main\n")

        // The work tree is read-only here: work-tree paths and edits are refused, with the reason.
        await #expect {
            _ = try await commit.invoke(["branch": "switchyard/x", "message": "x", "paths": ["src/app.swift"]])
        } throws: { ($0 as? ToolError)?.rule == "read-only" }
        await #expect {
            _ = try await tool("git_apply", workspace).invoke(["patch": .string(patch)])
        } throws: { ($0 as? ToolError)?.message.contains("read-only in this run") == true }
        // A patch that reaches outside, or comes with paths too, is refused.
        let outside = patch.replacingOccurrences(of: "NOTES.md", with: "../NOTES.md")
        await #expect {
            _ = try await commit.invoke(["branch": "switchyard/y", "message": "x", "patch": .string(outside)])
        } throws: { ($0 as? ToolError)?.rule == "outside-workspace" }
        await #expect {
            _ = try await commit.invoke([
                "branch": "switchyard/z", "message": "x", "patch": .string(patch), "paths": ["src/app.swift"],
            ])
        } throws: { ($0 as? ToolError)?.code == .invalidArguments }
        // A patch that does not apply to the branch says so and commits nothing.
        await #expect {
            _ = try await commit.invoke(["branch": "switchyard/swedish", "message": "again", "patch": .string(patch)])
        } throws: { $0 is ToolError }
        #expect(
            try await GitCommand.run(["log", "-1", "--format=%s", "switchyard/swedish"], in: directory.path)
                == "Greet in Swedish\n")
    }

    @Test func branchesAndPatches() async throws {
        let (directory, workspace) = try await makeRepository()
        let created = try await tool("git_branch", workspace).invoke(["create": "topic", "start": "HEAD~1"])
        #expect(created.text.hasPrefix("Created branch topic at "))
        let listed = try await tool("git_branch", workspace).invoke([:])
        #expect(
            listed.text.split(separator: "\n").map { $0.split(separator: " ").dropLast().joined(separator: " ") } == [
                "* main", "topic",
            ])
        await #expect {
            _ = try await tool("git_branch", workspace).invoke(["create": "topic"])
        } throws: { ($0 as? ToolError)?.message == "branch topic already exists" }

        try directory.write("src/app.swift", "let greeting = \"hey\"\nprint(greeting)\n")
        let patch = try await GitCommand.run(["diff"], in: directory.path)
        try await GitCommand.run(["checkout", "--", "."], in: directory.path)
        let apply = try tool("git_apply", workspace)
        #expect(try await apply.invoke(["patch": .string(patch), "check": true]).data["applies"] == true)
        #expect(try directory.read("src/app.swift").contains("hello, world"))
        _ = try await apply.invoke(["patch": .string(patch)])
        #expect(try directory.read("src/app.swift").contains("hey"))
        #expect(try await apply.invoke(["patch": .string(patch), "check": true]).data["applies"] == false)
        let hostile = patch.replacingOccurrences(of: "src/app.swift", with: ".git/hooks/post-checkout")
        await #expect {
            _ = try await apply.invoke(["patch": .string(hostile)])
        } throws: { ($0 as? ToolError)?.rule == "git-directory" }
    }

    @Test func aWorkspaceThatIsNoRepositorySaysSo() async throws {
        let directory = try TemporaryDirectory("norepo")
        let workspace = try Workspace(path: directory.path)
        await #expect {
            _ = try await tool("git_status", workspace).invoke([:])
        } throws: { ($0 as? ToolError)?.code == .unavailable }
        let fresh = try TemporaryDirectory("fresh")
        try await GitCommand.initialize(fresh.path)
        let log = try await tool("git_log", try Workspace(path: fresh.path)).invoke([:])
        #expect(log.text == "Branch main has no commits yet.\n")
    }
}
