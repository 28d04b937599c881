import Foundation
import Switchyard
import SwitchyardTesting
import Testing

@Suite struct ToolCommandTests {
    let binary = BuiltProducts.executable("switchyard")
    let environment = [
        "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory(),
        "SWITCHYARD_HOME": NSTemporaryDirectory() + "switchyard-none",
    ]

    @Test func listsTheToolsAndCallsOneByHand() async throws {
        let directory = try TemporaryDirectory("cli-tool")
        try directory.write("notes/plan.md", "first\nsecond\nthird\n")
        let listed = try await runProgram(
            binary, ["tool", "--workspace", directory.path, "--json"], environment: environment)
        #expect(listed.status == 0, "\(listed.standardError)")
        let names = try JSONValue(parsing: listed.standardOutput).arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(
            names == [
                "search", "read", "list", "edit", "git_status", "git_log", "git_show", "git_diff", "git_blame",
                "git_branch", "git_commit", "git_apply", "shell", "vector_search", "vector_upsert", "http_fetch",
            ])
        // Calling one tool opens only what that tool needs: no vector store appears.
        let home = directory.path + "/home"
        let read = try await runProgram(
            binary,
            ["tool", "read", "--workspace", directory.path, "--args", #"{"path": "notes/plan.md", "start_line": 2}"#],
            environment: environment.merging(["SWITCHYARD_HOME": home]) { $1 })
        #expect(read.status == 0)
        #expect(read.standardOutput == "     2\tsecond\n     3\tthird\n")
        #expect(!FileManager.default.fileExists(atPath: home + "/vectors.db"))
        let json = try await runProgram(
            binary, ["tool", "read", "--workspace", directory.path, "--json", "--args", #"{"path": "notes/plan.md"}"#],
            environment: environment)
        let output = try JSONValue(parsing: json.standardOutput)
        #expect(output["labels"] == ["confidentiality": "private", "integrity": "trusted"])
        #expect(output["data"]?["total_lines"] == 3)
    }

    /// With `--agent`, an agent's tools: its own and its MCP servers', listed (their servers
    /// started for it) and called by hand.
    @Test func listsAndCallsAnAgentsMCPToolsByHand() async throws {
        let directory = try TemporaryDirectory("cli-tool-mcp")
        let log = directory.path + "/calls.jsonl"
        try directory.write(
            "agents/tracker.md",
            """
            ---
            name: tracker
            model: local
            profiles:
              local: { provider: ollama, model: small }
            tools:
              read: {}
            mcp:
              peer: { command: \(try await MCPPeers.peerCommand(log: log)), tools: [echo, lookup] }
            ---
            You look things up.
            """)
        let listed = try await runProgram(
            binary, ["tool", "--agent", "tracker", "--workspace", directory.path], environment: environment)
        #expect(listed.status == 0, "\(listed.standardError)")
        let lines = listed.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.map { String($0.prefix { $0 != " " }) } == ["mcp__peer__echo", "mcp__peer__lookup", "read"])
        #expect(lines.first?.hasSuffix(" Answers with the text it is given.") == true, "\(lines)")

        let called = try await runProgram(
            binary,
            [
                "tool", "mcp__peer__echo", "--agent", "tracker", "--workspace", directory.path, "--json", "--args",
                #"{"text": "by hand"}"#,
            ], environment: environment)
        #expect(called.status == 0, "\(called.standardError)")
        let output = try JSONValue(parsing: called.standardOutput)
        #expect(output["text"] == "echo: by hand")
        // What a server returns is untrusted, and as private as the workspace.
        #expect(output["labels"] == ["confidentiality": "private", "integrity": "untrusted"])
        #expect(try directory.read("calls.jsonl").contains(#""arguments": {"text": "by hand"}"#))

        let schema = try await runProgram(
            binary, ["tool", "mcp__peer__lookup", "--agent", "tracker", "--workspace", directory.path, "--schema"],
            environment: environment)
        #expect(try JSONValue(parsing: schema.standardOutput)["required"] == ["key"])

        // A tool the allowlist leaves out is not the agent's.
        let flood = try await runProgram(
            binary, ["tool", "mcp__peer__flood", "--agent", "tracker", "--workspace", directory.path],
            environment: environment)
        #expect(flood.status == 64)
        #expect(
            flood.standardError.contains(
                "no tool is called 'mcp__peer__flood' in agent tracker; the tools are: mcp__peer__echo, mcp__peer__lookup, read"
            ), "\(flood.standardError)")
    }

    @Test func refusalsAndBadArgumentsExitNonZeroWithTheRule() async throws {
        let directory = try TemporaryDirectory("cli-refuse")
        let escape = try await runProgram(
            binary, ["tool", "read", "--workspace", directory.path, "--args", #"{"path": "../../etc/passwd"}"#],
            environment: environment)
        #expect(escape.status == 1)
        #expect(escape.standardError.contains("[rule: parent-escape]"))
        let json = try await runProgram(
            binary, ["tool", "read", "--workspace", directory.path, "--json", "--args", #"{"path": 7}"#],
            environment: environment)
        #expect(json.status == 1)
        #expect(try JSONValue(parsing: json.standardOutput)["error"]?["code"] == "invalid_arguments")
        let notJSON = try await runProgram(
            binary, ["tool", "read", "--workspace", directory.path, "--args", "{path"], environment: environment)
        #expect(notJSON.status != 0)
        #expect(notJSON.standardError.contains("--args is not JSON"))
        // A file of arguments that is missing, a directory or not JSON: one line that says which.
        try directory.write("args.json", "{path\n")
        for (file, reason) in [
            ("missing.json", "No such file or directory"), (".", "Is a directory"), ("args.json", "is not JSON"),
        ] {
            let bad = try await runProgram(
                binary, ["tool", "read", "--workspace", directory.path, "--args", "@" + directory.path + "/" + file],
                environment: environment)
            #expect(bad.status != 0)
            #expect(bad.standardError.contains("--args"), "\(bad.standardError)")
            #expect(bad.standardError.contains(reason), "\(bad.standardError)")
            #expect(!bad.standardError.contains("NSCocoaErrorDomain"))
            #expect(bad.standardError.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1)
        }
        let unknown = try await runProgram(
            binary, ["tool", "teleport", "--workspace", directory.path], environment: environment)
        #expect(unknown.standardError.contains("no tool is called 'teleport'"))
    }

    @Test func shellOptionsComeFromSettingsAndAskFailsClosedWithoutATerminal() async throws {
        let directory = try TemporaryDirectory("cli-shell")
        let asked = try await runProgram(
            binary, ["tool", "shell", "--workspace", directory.path, "--args", #"{"command": "echo hi"}"#],
            environment: environment)
        #expect(asked.status == 1)
        #expect(asked.standardError.contains("[rule: shell-ask]"))
        let allowed = try await runProgram(
            binary,
            [
                "tool", "shell", "--workspace", directory.path, "--set", "tools.shell.allow=echo *", "--args",
                #"{"command": "echo hi"}"#,
            ],
            environment: environment)
        #expect(allowed.status == 0, "\(allowed.standardError)")
        #expect(allowed.standardOutput == "$ echo hi\nexit status 0\n--- stdout ---\nhi\n")
        let misspelt = try await runProgram(
            binary, ["tool", "shell", "--workspace", directory.path, "--set", "tools.shell.alow=echo *"],
            environment: environment)
        #expect(misspelt.status == 2)
        #expect(misspelt.standardError.contains("tools.shell.alow is not an option"))
    }
}
