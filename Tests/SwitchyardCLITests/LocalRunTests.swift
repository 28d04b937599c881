import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// `switchyard run` end to end with the real local model server: one instance for the
/// local profile, another standing in for the cloud planner. The run goes through the
/// whole machinery — plans, tools, routes, the guard — and replays with zero divergence.
@Suite(.usesLocalModel) struct LocalRunTests {
    let binary = BuiltProducts.executable("switchyard")
    static let bare = "/opt/swift-packages/mxcl/Version.git"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: bare)))
    func aRunWithTheLocalModelCompletesMechanicallyAndReplaysExactly() async throws {
        let peer = try await LocalModelPeer.endpoints()
        let scratch = try TemporaryDirectory("local-run")
        let checkout = try #require(try await GitCommand.cloneLocal(Self.bare, into: scratch.path))
        // A private file the cloud planner must never see, whatever the tools read.
        try "// CANARY-8086 internal release key rotation\npublic struct Version {}\n".write(
            toFile: checkout + "/Sources/Canary.swift", atomically: true, encoding: .utf8)
        // The second instance stands in for the cloud profile, cleared only for internal data.
        try scratch.write(
            "agents/finder.md",
            """
            ---
            name: finder
            planner: cloud
            model: local
            profiles:
              local: { provider: openai-compatible, base_url: "\(peer.chat)", model: smollm2, options: { quirks: llama.cpp, temperature: 0, max_output_tokens: 512 } }
              cloud: { provider: openai-compatible, base_url: "\(peer.cloud)", model: smollm2, clearance: internal, options: { quirks: llama.cpp, temperature: 0, max_output_tokens: 512 } }
            tools:
              list: {}
              read: {}
              search: {}
            budgets: { steps: 4, tokens: 100000, wall_seconds: 300 }
            ---
            You find where things are defined in a repository. Plan tool steps (search, read, list), then answer.
            """)
        let environment = cliEnvironment(home: scratch.path)
        let result = try await runProgram(
            binary,
            [
                "run", scratch.path + "/agents/finder.md", "Where is the Version struct defined?", "--workspace",
                checkout, "--json",
            ],
            environment: environment)
        // Finished, or stopped by the step budget: both are mechanical completion.
        #expect([0, 3].contains(result.status), "\(result.standardError)")
        let output = try JSONValue(parsing: result.standardOutput)
        let run = try #require(output["run"]?.stringValue)

        let export = try await runProgram(binary, ["trace", "export", run, "--jsonl"], environment: environment)
        let events = export.standardOutput.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        let kinds = events.compactMap { $0["kind"]?.stringValue }
        // The planner planned (its schema admits only runnable steps), tools ran, and every
        // model request was decided by the guard before it went out.
        #expect(kinds.contains("plan"))
        #expect(kinds.contains("tool.call"), "\(kinds)")
        #expect(kinds.filter { $0 == "model.request" }.count >= 1)
        #expect(kinds.filter { $0 == "guard" }.count >= kinds.filter { $0 == "model.request" }.count)
        #expect((output["tokens"]?.intValue ?? 0) > 0)
        let cloudRequests = events.filter {
            $0["kind"] == "model.request" && $0["payload"]?["profile"] == "cloud"
        }
        #expect(!cloudRequests.isEmpty)
        #expect(!cloudRequests.contains { $0.canonicalText.contains("CANARY-8086") })

        let replay = try await runProgram(binary, ["replay", run], environment: environment)
        #expect(replay.status == 0, "\(replay.standardOutput)\(replay.standardError)")
        #expect(replay.standardOutput.contains("no divergence"))
        let audit = try await runProgram(binary, ["audit", run, "--json"], environment: environment)
        #expect(try JSONValue(parsing: audit.standardOutput)["above_clearance"] == false)
    }

    /// The repository's `agents/code-assistant.md` itself — fourteen tools, the cloud planner
    /// working on handles — pointed at the model server's instances with `--set` (the index
    /// kept to `Sources/`: SmolLM2 embeds ~170 tokens a second here), on a checkout
    /// with a planted private file: "find where X is defined" runs to completion, the workspace
    /// is indexed on first use, tools run and are recorded, nothing private reaches the cloud
    /// stand-in, the work tree is untouched (no `--apply`), and the run replays exactly.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: bare)))
    func theCodeAssistantFindsWhereSomethingIsDefinedAndReplays() async throws {
        let peer = try await LocalModelPeer.endpoints()
        let scratch = try TemporaryDirectory("code-assistant")
        let checkout = try #require(try await GitCommand.cloneLocal(Self.bare, into: scratch.path))
        try "// CANARY-6502 signing key rotation schedule\npublic struct Release {}\n".write(
            toFile: checkout + "/Sources/Canary.swift", atomically: true, encoding: .utf8)
        let before = try await (
            GitCommand.run(["rev-parse", "HEAD"], in: checkout),
            GitCommand.run(["status", "--porcelain"], in: checkout)
        )
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("agents/code-assistant.md").path
        var settings: [String] = []
        for (profile, url) in [("local", peer.chat), ("cloud", peer.cloud)] {
            settings += [
                "profiles.\(profile).provider=openai-compatible", "profiles.\(profile).base_url=\(url)",
                "profiles.\(profile).model=smollm2", "profiles.\(profile).options.quirks=llama.cpp",
                "profiles.\(profile).options.temperature=0", "profiles.\(profile).options.max_output_tokens=512",
            ]
        }
        settings += [
            "profiles.cloud.clearance=internal", "profiles.embed.provider=openai-compatible",
            "profiles.embed.base_url=\(peer.embed)", "profiles.embed.model=smollm2", "index.include=Sources/**",
            "budgets.steps=6",
        ]
        let environment = cliEnvironment(home: scratch.path)
        let result = try await runProgram(
            binary,
            ["run", spec, "Where is the Version struct defined?", "--workspace", checkout, "--json"]
                + settings.flatMap { ["--set", $0] },
            environment: environment)
        #expect([0, 3].contains(result.status), "\(result.standardError)")
        let output = try JSONValue(parsing: result.standardOutput)
        let run = try #require(output["run"]?.stringValue)
        #expect(output["sources"]?.arrayValue != nil)

        let export = try await runProgram(binary, ["trace", "export", run, "--jsonl"], environment: environment)
        let lines = export.standardOutput.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        let header = try #require(lines.first?["header"])
        #expect(header["agent"]?["name"] == "code-assistant")
        #expect((header["index"]?["indexed"]?.intValue ?? 0) > 0, "\(header)")
        let kinds = lines.compactMap { $0["kind"]?.stringValue }
        #expect(kinds.contains("plan"))
        #expect(kinds.contains("tool.call"), "\(kinds)")
        let cloudRequests = lines.filter { $0["kind"] == "model.request" && $0["payload"]?["profile"] == "cloud" }
        #expect(!cloudRequests.isEmpty)
        #expect(!cloudRequests.contains { $0.canonicalText.contains("CANARY-6502") })
        let after = try await (
            GitCommand.run(["rev-parse", "HEAD"], in: checkout),
            GitCommand.run(["status", "--porcelain"], in: checkout)
        )
        #expect(after == before)

        let replay = try await runProgram(binary, ["replay", run], environment: environment)
        #expect(replay.status == 0, "\(replay.standardOutput)\(replay.standardError)")
        #expect(replay.standardOutput.contains("no divergence"))
    }
}
