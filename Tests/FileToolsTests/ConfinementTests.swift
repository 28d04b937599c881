import FileTools
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// A workspace with every kind of way out prepared in it, and a directory outside it to
/// aim at.
final class EscapeFixture {
    let workspace: TemporaryDirectory
    let outside: TemporaryDirectory

    init() throws {
        workspace = try TemporaryDirectory("confined")
        outside = try TemporaryDirectory("outside")
        try outside.write("secret.txt", "do not read\n")
        try workspace.write("src/main.swift", "print(1)\n")
        try workspace.write(".git/config", "[core]\n")
        try workspace.symlink("passwd", to: "/etc/passwd")
        try workspace.symlink("outside-file", to: outside.path + "/secret.txt")
        try workspace.symlink("outside-dir", to: outside.path)
        try workspace.symlink("chain-1", to: "chain-2")
        try workspace.symlink("chain-2", to: "chain-3")
        try workspace.symlink("chain-3", to: outside.path)
        try workspace.symlink("src/up", to: "../..")
        try workspace.symlink("ghost", to: outside.path + "/not-yet-there.txt")
        try workspace.symlink("null", to: "/dev/null")
        try workspace.symlink("inside", to: "src")
        mkfifo(workspace.path + "/pipe", 0o600)
    }
}

@Suite struct ConfinementTests {
    /// Every way out, with the rule that refuses it.
    static let corpus: [(path: String, rule: String)] = [
        ("../secret.txt", "parent-escape"),
        ("src/../../secret.txt", "parent-escape"),
        ("/etc/passwd", "outside-workspace"),
        ("passwd", "symlink-escape"),
        ("outside-file", "symlink-escape"),
        ("outside-dir/secret.txt", "symlink-escape"),
        ("chain-1/secret.txt", "symlink-escape"),
        ("src/up/etc/passwd", "symlink-escape"),
        ("ghost", "symlink-dangling"),
        ("null", "symlink-escape"),
        ("pipe", "special-file"),
        ("src/ma\u{0}in.swift", "nul-byte"),
        (String(repeating: "a/", count: 2100) + "x", "path-too-long"),
        (String(repeating: "n", count: 300), "path-too-long"),
    ]

    @Test func everyEscapeIsRefusedWithItsRuleWhenReading() async throws {
        let fixture = try EscapeFixture()
        let workspace = try Workspace(path: fixture.workspace.path)
        let read = ReadTool(workspace: workspace)
        for (path, rule) in Self.corpus {
            await #expect("\(path.prefix(40))") {
                _ = try await read.invoke(["path": .string(path)])
            } throws: { ($0 as? ToolError)?.rule == rule }
        }
        // The absolute path of an outside file, given directly.
        await #expect {
            _ = try await read.invoke(["path": .string(fixture.outside.path + "/secret.txt")])
        } throws: { ($0 as? ToolError)?.rule == "outside-workspace" }
    }

    @Test func everyEscapeIsRefusedWhenWritingAndNothingOutsideChanges() async throws {
        let fixture = try EscapeFixture()
        let workspace = try Workspace(path: fixture.workspace.path)
        let edit = EditTool(workspace: workspace)
        let corpus =
            Self.corpus + [(".git/config", "git-directory"), ("src/../.git/hooks/pre-commit", "git-directory")]
        for (path, rule) in corpus {
            await #expect("\(path.prefix(40))") {
                _ = try await edit.invoke(["path": .string(path), "old_string": "", "new_string": "owned\n"])
            } throws: { ($0 as? ToolError)?.rule == rule }
        }
        #expect(try fixture.outside.read("secret.txt") == "do not read\n")
        #expect(!FileManager.default.fileExists(atPath: fixture.outside.path + "/not-yet-there.txt"))
        #expect(try fixture.workspace.read(".git/config") == "[core]\n")
        // A patch may not reach out either, whatever git would make of it.
        try await GitCommand.initialize(fixture.workspace.path)
        let patch = """
            diff --git a/.git/config b/.git/config
            --- a/.git/config
            +++ b/.git/config
            @@ -1 +1,2 @@
             [core]
            +\thooksPath = /tmp
            """
        await #expect {
            _ = try await edit.invoke(["patch": .string(patch + "\n")])
        } throws: { ($0 as? ToolError)?.rule == "git-directory" }
    }

    @Test func pathsThatStayInsideAreFine() async throws {
        let fixture = try EscapeFixture()
        let workspace = try Workspace(path: fixture.workspace.path)
        for path in [
            "src/main.swift", "./src/main.swift", "inside/main.swift", "src/../src/main.swift",
            fixture.workspace.path + "/src/main.swift",
        ] {
            let resolved = try workspace.resolve(path, for: .read, tool: "test")
            #expect(resolved.relative == "src/main.swift", "\(path)")
            #expect(resolved.exists)
        }
        // Writing a new file through an inside symlink lands inside.
        let edit = EditTool(workspace: workspace)
        _ = try await edit.invoke(["path": "inside/new.swift", "old_string": "", "new_string": "let x = 1\n"])
        #expect(try fixture.workspace.read("src/new.swift") == "let x = 1\n")
        let root = try workspace.resolve(".", for: .read, tool: "test")
        #expect(root.relative == "" && root.isDirectory)
    }

    @Test func searchAndListRefuseEscapesToo() async throws {
        let fixture = try EscapeFixture()
        let workspace = try Workspace(path: fixture.workspace.path)
        await #expect {
            _ = try await SearchTool(workspace: workspace).invoke(["pattern": "read", "path": "outside-dir"])
        } throws: { ($0 as? ToolError)?.rule == "symlink-escape" }
        await #expect {
            _ = try await ListTool(workspace: workspace).invoke(["path": "../"])
        } throws: { ($0 as? ToolError)?.rule == "parent-escape" }
        // Searching everything does not follow the symlinks out.
        let everything = try await SearchTool(workspace: workspace).invoke(["pattern": "do not read"])
        #expect(everything.text == "No matches.\n")
    }
}
