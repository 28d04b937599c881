import Foundation
import GitTools
import Switchyard
import SwitchyardTesting
import Testing

/// A hostile repository that points libgit2 out of the workspace: every git tool refuses it
/// with the rule, and nothing of the other place comes back.
@Suite struct RepositoryConfinementTests {
    /// Another repository, outside the workspace, whose commit message and file are canaries.
    static func otherRepository() async throws -> TemporaryDirectory {
        let other = try TemporaryDirectory("other-repository")
        try await GitCommand.initialize(other.path)
        try other.write("payroll.txt", "CANARY-6161 salaries\n")
        try await GitCommand.run(["add", "-A"], in: other.path)
        try await GitCommand.run(["commit", "-q", "-m", "CANARY-6262 private history"], in: other.path)
        return other
    }

    static let readers: [(String, JSONValue)] = [
        ("git_status", [:]), ("git_log", [:]), ("git_show", [:]), ("git_diff", [:]),
        ("git_blame", ["path": "payroll.txt"]), ("git_branch", [:]),
    ]

    func expectRefused(_ workspace: Workspace, _ situation: String) async throws {
        for (name, arguments) in Self.readers {
            var leaked = ""
            await #expect("\(situation): \(name)") {
                do {
                    _ = try await tool(name, workspace).invoke(arguments)
                } catch {
                    leaked = "\(error)"
                    throw error
                }
            } throws: { ($0 as? ToolError)?.rule == "repository-escape" }
            #expect(!leaked.contains("CANARY"), "\(situation): \(name)")
        }
    }

    @Test func aWorkTreeElsewhereIsRefused() async throws {
        let other = try await Self.otherRepository()
        let (directory, workspace) = try await makeRepository()
        try await GitCommand.run(["config", "core.worktree", other.path], in: directory.path)
        try await expectRefused(workspace, "core.worktree")
    }

    @Test func aGitdirFileElsewhereIsRefused() async throws {
        let other = try await Self.otherRepository()
        let directory = try TemporaryDirectory("gitdir-file")
        try directory.write(".git", "gitdir: \(other.path)/.git\n")
        try directory.write("payroll.txt", "mine\n")
        try await expectRefused(try Workspace(path: directory.path), "gitdir:")
    }

    @Test func borrowedObjectsAreRefused() async throws {
        let other = try await Self.otherRepository()
        let (directory, workspace) = try await makeRepository()
        try directory.write(".git/objects/info/alternates", "\(other.path)/.git/objects\n")
        let foreign = try await GitCommand.run(["rev-parse", "HEAD"], in: other.path)
        try await expectRefused(workspace, "alternates")
        await #expect {
            _ = try await tool("git_show", workspace).invoke([
                "revision": .string(foreign.trimmingCharacters(in: .whitespacesAndNewlines))
            ])
        } throws: { ($0 as? ToolError)?.rule == "repository-escape" }
    }

    @Test func aSymlinkInsideGitThatLeavesIsRefused() async throws {
        let other = try await Self.otherRepository()
        let (directory, workspace) = try await makeRepository()
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/.git/refs/heads/borrowed",
            withDestinationPath: other.path + "/.git/refs/heads/main")
        try await expectRefused(workspace, "symlinked ref")
    }

    /// The same repository, confined, still works: the test can fail.
    @Test func aConfinedRepositoryIsFine() async throws {
        let (directory, workspace) = try await makeRepository()
        for (name, arguments) in Self.readers where name != "git_blame" {
            _ = try await tool(name, workspace).invoke(arguments)
        }
        withExtendedLifetime(directory) {}
    }
}
