import Composition
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// A model server that never stops streaming: the run's wall-time budget ends the call, which
/// is recorded as the model's error, and the run stops for its budget.
@Suite struct DeadlineTests {
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
        let fixture = try AgentRunFixture("endless", apiKey: nil)
        try fixture.directory.write(
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
        let (run, result) = try await fixture.run("talker", "Say something.")
        #expect(result.stopReason.description == "stopped: the wall-time budget (2 s) is spent")
        let events = try await fixture.events(run)
        let error = try #require(events.first { $0.kind == .modelError })
        #expect(error.payload["code"] == "deadline-exceeded")
        #expect(events.contains { $0.kind == .runFinished })
        // The replay takes the same turn from the record, without waiting for anything.
        let replay = try await fixture.replayer.replay(run)
        #expect(replay.divergence == nil)
    }

    /// Triage gives each ticket the spec's wall time: with a local model that never stops,
    /// each ticket fails with the budget's reason when its time is up, and the batch goes on.
    @Test(.timeLimit(.minutes(1))) func eachTicketHasTheWallTimeBudget() async throws {
        let server = try Self.endlessServer()
        defer { server.stop() }
        let fixture = try TriageFixture()
        fixture.embed([0, 0, 1])
        fixture.embed([0, 1, 0])
        let events = TriageFixture.Events()
        let summary = try await fixture.triage(
            [TriageBatchTests.tickets[1], TriageBatchTests.tickets[3]],
            overrides: [
                "profiles.local.base_url=\(server.baseURL)/v1", "profiles.local.options.stream=true",
                "budgets.wall_seconds=2",
            ], events: events)
        #expect(summary.failed == 2)
        let failures = events.seen.value.compactMap { event -> String? in
            guard case .failed(let ticket, let error) = event else { return nil }
            return "\(ticket): \(error)"
        }
        #expect(
            failures.sorted() == [
                "T-2: the wall-time budget (2 s) is spent", "T-4: the wall-time budget (2 s) is spent",
            ], "\(failures)")
    }
}
