import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// A model server that never stops streaming: the run's wall-time budget ends the call, which
/// is recorded as the model's error, and the run stops for its budget.
@Suite struct DeadlineTests {
    let binary = BuiltProducts.executable("switchyard")

    /// An OpenAI-compatible server whose every answer is an endless stream of deltas (for at
    /// most a minute, so that a broken client cannot keep the test's thread forever).
    static func endlessServer() throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { _, writer in
            writer.writeHead(status: 200, headers: [("Content-Type", "text/event-stream")], contentLength: nil)
            let started = ContinuousClock.now
            while !writer.isBroken, ContinuousClock.now - started < .seconds(60) {
                writer.write(
                    #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"la "},"finish_reason":null}]}"#
                        + "\n\n")
                usleep(50_000)
            }
        }
    }

    /// A stream that never ends stops the run at its wall-time budget (the server never ends
    /// it: the time limit fails a run that waits for it), and the run replays.
    @Test(.timeLimit(.minutes(1))) func anEndlessStreamStopsAtTheWallTimeBudgetAndReplays() async throws {
        let server = try Self.endlessServer()
        defer { server.stop() }
        let directory = try TemporaryDirectory("endless")
        try directory.write(
            "agents/talker.md",
            """
            ---
            name: talker
            model: local
            profiles:
              local: { provider: openai-compatible, base_url: "\(server.baseURL)/v1", model: m }
            tools:
              read: {}
            budgets: { wall_seconds: 2 }
            ---
            You talk.
            """)
        let environment = cliEnvironment(home: directory.path)
        let result = try await runProgram(
            binary, ["run", "talker", "Say something.", "--workspace", directory.path, "--json"],
            environment: environment)
        #expect(result.status == 3, "\(result.standardError)")
        let output = try JSONValue(parsing: result.standardOutput)
        #expect(output["stop_reason"] == "stopped: the wall-time budget (2 s) is spent")
        let run = try #require(output["run"]?.stringValue)
        let export = try await runProgram(binary, ["trace", "export", run, "--jsonl"], environment: environment)
        let events = export.standardOutput.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        let error = try #require(events.first { $0["kind"] == "model.error" })
        #expect(error["payload"]?["code"] == "deadline-exceeded")
        #expect(events.contains { $0["kind"] == "run.finished" })
        // The replay takes the same turn from the record, without waiting for anything.
        let replay = try await runProgram(binary, ["replay", run, "--json"], environment: environment)
        #expect(try JSONValue(parsing: replay.standardOutput)["diverged"] == false, "\(replay)")
    }

    /// Triage gives each ticket the spec's wall time: with a local model that never stops,
    /// each ticket fails with the budget's reason when its time is up, and the batch goes on.
    @Test(.timeLimit(.minutes(1))) func eachTicketHasTheWallTimeBudget() async throws {
        let server = try Self.endlessServer()
        defer { server.stop() }
        let fixture = try TriageFixture(tickets: [TriageCommandTests.tickets[1], TriageCommandTests.tickets[3]])
        fixture.embed([0, 0, 1])
        fixture.embed([0, 1, 0])
        let result = try await fixture.triage([
            "--set", "profiles.local.base_url=\(server.baseURL)/v1", "--set", "profiles.local.options.stream=true",
            "--set", "budgets.wall_seconds=2",
        ])
        #expect(result.status == 1, "\(result.standardError)")
        for id in ["T-2", "T-4"] {
            #expect(
                result.standardError.contains("\(id): FAILED — the wall-time budget (2 s) is spent"),
                "\(result.standardError)")
        }
    }
}
