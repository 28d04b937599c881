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
              local: { provider: openai-compatible, base_url: "\(peer.chat)", model: smollm2, options: { quirks: llama-cpp-python, temperature: 0 } }
              cloud: { provider: openai-compatible, base_url: "\(peer.cloud)", model: smollm2, clearance: internal, options: { quirks: llama-cpp-python, temperature: 0 } }
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
}
