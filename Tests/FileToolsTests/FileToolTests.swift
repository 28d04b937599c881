import FileTools
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// A small project in a git repository, with an ignored build directory.
func makeProject() async throws -> (TemporaryDirectory, Workspace) {
    let directory = try TemporaryDirectory("project")
    try await GitCommand.initialize(directory.path)
    try directory.write(".gitignore", ".build/\n*.log\n")
    try directory.write(
        "Sources/App/main.swift", "import Parser\n\nlet parser = Parser()\nprint(parser.parse(\"1 + 2\"))\n")
    try directory.write(
        "Sources/Parser/Parser.swift",
        "public struct Parser {\n    public init() {}\n\n    public func parse(_ text: String) -> Int {\n        // TODO: a real grammar\n        return 3\n    }\n}\n"
    )
    try directory.write("Tests/ParserTests.swift", "func testParse() { assert(Parser().parse(\"1 + 2\") == 3) }\n")
    try directory.write(".build/debug/generated.swift", "struct Parser {}\n")
    try directory.write("run.log", "Parser crashed\n")
    return (directory, try Workspace(path: directory.path))
}

@Suite struct SearchToolTests {
    @Test func findsMatchesWithPathLineAndColumnAndRespectsGitignore() async throws {
        let (directory, workspace) = try await makeProject()
        defer { withExtendedLifetime(directory) {} }
        let output = try await SearchTool(workspace: workspace).invoke(["pattern": "struct Parser"])
        #expect(output.text == "Sources/Parser/Parser.swift:1:8: public struct Parser {\n")
        #expect(output.labels == Labels(.private, .trusted))
        #expect(output.data["matches"] == 1)
        // Literal text, case and globs.
        let literal = try await SearchTool(workspace: workspace).invoke([
            "pattern": "parse(", "literal": true, "include": ["*.swift"], "exclude": ["Tests/*"],
        ])
        #expect(
            literal.data["lines"]?.arrayValue?.compactMap { $0["path"]?.stringValue } == [
                "Sources/App/main.swift", "Sources/Parser/Parser.swift",
            ])
        let insensitive = try await SearchTool(workspace: workspace).invoke(["pattern": "todo", "case": "insensitive"])
        #expect(insensitive.text.contains("Sources/Parser/Parser.swift:5:12: "))
        let sensitive = try await SearchTool(workspace: workspace).invoke(["pattern": "todo", "case": "sensitive"])
        #expect(sensitive.text == "No matches.\n")
    }

    @Test func contextLinesAndAPathToSearchIn() async throws {
        let (directory, workspace) = try await makeProject()
        defer { withExtendedLifetime(directory) {} }
        let output = try await SearchTool(workspace: workspace).invoke([
            "pattern": "TODO", "context": 1, "path": "Sources/Parser",
        ])
        #expect(
            output.text == """
                Sources/Parser/Parser.swift-4-     public func parse(_ text: String) -> Int {
                Sources/Parser/Parser.swift:5:12:         // TODO: a real grammar
                Sources/Parser/Parser.swift-6-         return 3

                """)
    }

    @Test func stopsAtMaxResultsAndSaysSo() async throws {
        let directory = try TemporaryDirectory("many")
        try directory.write("big.txt", (1...5000).map { "match \($0)\n" }.joined())
        let output = try await SearchTool(workspace: try Workspace(path: directory.path)).invoke([
            "pattern": "match", "max_results": 25,
        ])
        #expect(output.data["matches"] == 25)
        #expect(output.truncated)
        #expect(output.text.hasSuffix("[stopped at 25 matches; narrow the pattern or path, or raise max_results]\n"))
    }

    @Test func aBadPatternOrAMissingRipgrepIsAClearError() async throws {
        let (directory, workspace) = try await makeProject()
        defer { withExtendedLifetime(directory) {} }
        await #expect {
            _ = try await SearchTool(workspace: workspace).invoke(["pattern": "(unclosed"])
        } throws: { error in
            let error = error as? ToolError
            return error?.code == .invalidArguments && error?.message.contains("regex") == true
        }
        await #expect {
            _ = try await SearchTool(workspace: workspace, ripgrep: nil).invoke(["pattern": "x"])
        } throws: { error in
            (error as? ToolError)?.code == .unavailable && "\(error)".contains("apt install ripgrep")
        }
    }
}

@Suite struct ReadAndListToolTests {
    @Test func readsNumberedLinesAndRanges() async throws {
        let (directory, workspace) = try await makeProject()
        defer { withExtendedLifetime(directory) {} }
        let all = try await ReadTool(workspace: workspace).invoke(["path": "Sources/App/main.swift"])
        #expect(
            all.text
                == "     1\timport Parser\n     2\t\n     3\tlet parser = Parser()\n     4\tprint(parser.parse(\"1 + 2\"))\n"
        )
        let part = try await ReadTool(workspace: workspace).invoke([
            "path": "Sources/Parser/Parser.swift", "start_line": 4, "end_line": 5,
        ])
        #expect(part.text.hasPrefix("     4\t    public func parse"))
        #expect(part.text.hasSuffix("[lines 4–5 of 8]\n"))
        await #expect {
            _ = try await ReadTool(workspace: workspace).invoke(["path": "Sources/App/main.swift", "start_line": 50])
        } throws: { ($0 as? ToolError)?.message.contains("has 4 lines") == true }
        await #expect {
            _ = try await ReadTool(workspace: workspace).invoke(["path": "Sources"])
        } throws: { ($0 as? ToolError)?.message.contains("use list") == true }
        await #expect {
            _ = try await ReadTool(workspace: workspace).invoke(["path": "nope.swift"])
        } throws: { ($0 as? ToolError)?.code == .notFound }
    }

    @Test func aLongFileIsCutWithWhereToContinue() async throws {
        let directory = try TemporaryDirectory("long")
        try directory.write("long.txt", (1...3000).map { "line \($0)\n" }.joined())
        let tool = ReadTool(workspace: try Workspace(path: directory.path))
        let first = try await tool.invoke(["path": "long.txt"])
        #expect(first.truncated)
        #expect(
            first.text.hasSuffix("[truncated: showing lines 1–2000 of 3000; call read with start_line=2001 for more]\n")
        )
        let next = try await tool.invoke(["path": "long.txt", "start_line": 2001])
        #expect(!next.truncated)
        #expect(next.text.hasPrefix("  2001\tline 2001\n"))
        #expect(next.data["end_line"] == 3000)
    }

    @Test func binaryFilesAreDescribedNotShown() async throws {
        let directory = try TemporaryDirectory("binary")
        try Data([0x7F, 0x45, 0x4C, 0x46, 0, 1, 2, 3]).write(to: URL(fileURLWithPath: directory.path + "/a.out"))
        try Data([0xC3, 0x28, 0x41]).write(to: URL(fileURLWithPath: directory.path + "/latin.txt"))
        let tool = ReadTool(workspace: try Workspace(path: directory.path))
        #expect(
            try await tool.invoke(["path": "a.out"]).text
                == "a.out is a binary file (8 bytes, contains NUL bytes); not shown.\n")
        #expect(try await tool.invoke(["path": "latin.txt"]).data["binary"] == true)
    }

    @Test func listsATreeWithoutGitOrIgnoredFiles() async throws {
        let (directory, workspace) = try await makeProject()
        defer { withExtendedLifetime(directory) {} }
        try directory.symlink("link", to: "/etc")
        let output = try await ListTool(workspace: workspace).invoke([:])
        #expect(
            output.text == """
                ./
                  .gitignore (14 B)
                  Sources/
                    App/
                      main.swift (66 B)
                    Parser/
                      Parser.swift (149 B)
                  Tests/
                    ParserTests.swift (58 B)
                  link -> /etc

                """)
        let shallow = try await ListTool(workspace: workspace).invoke(["depth": 1, "max_entries": 2])
        #expect(
            shallow.text
                == "./\n  .gitignore (14 B)\n  Sources/ (2 entries)\n[truncated: 2 more entries not shown; list a subdirectory or raise max_entries]\n"
        )
        #expect(shallow.truncated)
    }
}

@Suite struct EditToolTests {
    @Test func replacesAUniqueStringAtomicallyAndShowsTheDiff() async throws {
        let (directory, workspace) = try await makeProject()
        chmod(directory.path + "/Sources/Parser/Parser.swift", 0o640)
        let output = try await EditTool(workspace: workspace).invoke([
            "path": "Sources/Parser/Parser.swift", "old_string": "        return 3\n",
            "new_string": "        return text.count\n",
        ])
        #expect(output.text.contains("-        return 3\n+        return text.count\n"))
        #expect(output.text.hasPrefix("diff --git a/Sources/Parser/Parser.swift b/Sources/Parser/Parser.swift\n"))
        #expect(try directory.read("Sources/Parser/Parser.swift").contains("return text.count"))
        var info = stat()
        stat(directory.path + "/Sources/Parser/Parser.swift", &info)
        #expect(info.st_mode & 0o777 == 0o640)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/Sources/Parser")
        #expect(leftovers == ["Parser.swift"])
    }

    @Test func ambiguousMissingAndIdenticalEditsAreRefusedAndChangeNothing() async throws {
        let (directory, workspace) = try await makeProject()
        let tool = EditTool(workspace: workspace)
        let before = try directory.read("Sources/Parser/Parser.swift")
        await #expect {
            _ = try await tool.invoke([
                "path": "Sources/Parser/Parser.swift", "old_string": "public", "new_string": "internal",
            ])
        } throws: { ($0 as? ToolError)?.message.contains("occurs 3 times") == true }
        await #expect {
            _ = try await tool.invoke([
                "path": "Sources/Parser/Parser.swift", "old_string": "privat", "new_string": "x",
            ])
        } throws: { ($0 as? ToolError)?.code == .notFound }
        await #expect {
            _ = try await tool.invoke(["path": "Sources/Parser/Parser.swift", "old_string": "3", "new_string": "3"])
        } throws: { ($0 as? ToolError)?.code == .invalidArguments }
        #expect(try directory.read("Sources/Parser/Parser.swift") == before)
        _ = try await tool.invoke([
            "path": "Sources/Parser/Parser.swift", "old_string": "public", "new_string": "internal",
            "replace_all": true,
        ])
        #expect(try directory.read("Sources/Parser/Parser.swift") == before.replacing("public", with: "internal"))
    }

    @Test func createsNewFilesButNeverOverwritesByCreating() async throws {
        let (directory, workspace) = try await makeProject()
        let tool = EditTool(workspace: workspace)
        let created = try await tool.invoke([
            "path": "Sources/Lexer/Lexer.swift", "old_string": "", "new_string": "struct Lexer {}\n",
        ])
        #expect(created.data["created"] == true)
        #expect(try directory.read("Sources/Lexer/Lexer.swift") == "struct Lexer {}\n")
        await #expect {
            _ = try await tool.invoke(["path": "Sources/Lexer/Lexer.swift", "old_string": "", "new_string": "oops\n"])
        } throws: { ($0 as? ToolError)?.message.contains("already exists") == true }
    }

    @Test func appliesAUnifiedDiffOrNothingAtAll() async throws {
        let (directory, workspace) = try await makeProject()
        try await GitCommand.run(["add", "-A"], in: directory.path)
        try await GitCommand.run(["commit", "-q", "-m", "Initial"], in: directory.path)
        try directory.write(
            "Sources/App/main.swift", "import Parser\n\nlet parser = Parser()\nprint(parser.parse(\"2 + 2\"))\n")
        let patch = try await GitCommand.run(["diff"], in: directory.path)
        try await GitCommand.run(["checkout", "--", "."], in: directory.path)
        let tool = EditTool(workspace: workspace)
        _ = try await tool.invoke(["patch": .string(patch)])
        #expect(try directory.read("Sources/App/main.swift").contains("2 + 2"))
        // Applying it again fails as a whole, and says why.
        await #expect {
            _ = try await tool.invoke(["patch": .string(patch)])
        } throws: { ($0 as? ToolError)?.message.contains("does not apply") == true }
        await #expect {
            _ = try await tool.invoke(["patch": "not a diff"])
        } throws: { ($0 as? ToolError)?.code == .invalidArguments }
    }

    @Test func argumentsAreCheckedAgainstTheSchemaFirst() async throws {
        let (directory, workspace) = try await makeProject()
        defer { withExtendedLifetime(directory) {} }
        let cases: [(JSONValue, String)] = [
            ([:], "arguments.path is required"),
            (["path": 3], "arguments.path: expected a string, got a number (3)"),
            (["path": "a", "start_line": 0], "arguments.start_line: must be at least 1, got 0"),
            (["path": "a", "start_line": 1.5], "arguments.start_line: expected an integer, got a number (1.5)"),
            (
                ["path": "a", "lines": 3],
                "arguments.lines is not an argument of this tool (it takes: end_line, path, start_line)"
            ),
            ("a.txt", "arguments: expected an object, got a string (\"a.txt\")"),
        ]
        for (arguments, message) in cases {
            await #expect(throws: ToolError(.invalidArguments, tool: "read", message)) {
                _ = try await ReadTool(workspace: workspace).invoke(arguments)
            }
        }
    }
}
