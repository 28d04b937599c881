import Composition
import Foundation
import SQLite
import Switchyard
import SwitchyardTesting
import Testing

/// One model called directly, as `switchyard chat` calls it: recorded as a run without the
/// secrets it streamed, replayed, changed in a what-if, or left unrecorded.
@Suite struct ChatRunTests {
    /// Settings that make `name` an Ollama profile for llama3.2 at `server`.
    func ollama(_ name: String, at server: ScriptedModelServer) -> [String] {
        [
            "profiles.\(name).provider=ollama", "profiles.\(name).model=llama3.2",
            "profiles.\(name).base_url=\(server.baseURL)",
        ]
    }

    func chat(_ fixture: AgentRunFixture, _ overrides: [String], recorded: Bool = true) -> ChatRun {
        ChatRun(
            profile: "l", workspace: fixture.directory.path, environment: fixture.environment, overrides: overrides,
            store: recorded ? fixture.store : nil)
    }

    @Test func aChatIsRecordedAsARunWithoutItsSecretsAndReplays() async throws {
        let server = try ScriptedModelServer()
        // The key arrives split across two deltas.
        server.enqueueOllamaKeyInTwoDeltas()
        let fixture = try AgentRunFixture("chat-run", apiKey: nil)
        let streamed = Shared<String>("")
        let outcome = try await chat(fixture, ollama("l", at: server)).run(
            ModelRequest(messages: [.user("what is my key?")]), prompt: "what is my key?"
        ) { event in
            if case .textDelta(let text) = event { streamed.update { $0 += text } }
        }
        // The user sees the key, as it streamed and whole.
        #expect(outcome.response.text == "your key is sk-AbCdEfGhIjKlMnOpQrStUvWxYz012345.")
        #expect(streamed.value == outcome.response.text)
        let run = try #require(outcome.run)
        let summary = try #require(try await fixture.store.run(run))
        #expect(summary.status == .finished)
        #expect(summary.eventCount == 2)
        let header = try await fixture.store.runHeader(run)
        #expect(header.command == RunHeader.chatCommand)
        #expect(header.workspace?.path == fixture.directory.path)
        #expect(header.profile?.model == "llama3.2")
        // The store does not: no file of it holds the key.
        for file in try FileManager.default.contentsOfDirectory(atPath: fixture.home.path) where !file.hasSuffix(".key")
        {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.home.path + "/" + file))
            #expect(bytes.range(of: Data("sk-AbCdEfGhIjKlMnOp".utf8)) == nil, "\(file) holds the key")
        }
        #expect(try await fixture.events(run).last?.payload.canonicalText.contains("[REDACTED:openai-key:") == true)

        // It replays asking no one; a changed prompt or model parts from the record.
        let replayer = Replayer(
            store: fixture.store, assembly: StandardAssembly(environment: fixture.environment),
            environment: fixture.environment)
        #expect(try await replayer.replay(run).divergence == nil)
        let whatIf = try #require(try await replayer.replay(run, prompt: "what is your key?").divergence)
        #expect(whatIf.path == "request.messages[0].content")
        #expect(whatIf.recorded == "what is my key?")
        #expect(whatIf.replayed == "what is your key?")
        let otherModel = try await Replayer(
            store: fixture.store, assembly: StandardAssembly(environment: fixture.environment),
            environment: fixture.environment, overrides: ["profiles.l.model=llama3.1"]
        ).replay(run)
        #expect(otherModel.divergence?.path == "wire.body.model")
        #expect(server.requests.count == 1)

        // Unrecorded, a call that fails (nothing is scripted any more) leaves no run either.
        do {
            _ = try await chat(fixture, ollama("l", at: server), recorded: false).run(
                ModelRequest(messages: [.user("again")]), prompt: "again")
            Issue.record("a call with nothing scripted succeeded")
        } catch {
            #expect(error is ModelError, "\(error)")
        }
        #expect(try await fixture.store.runs().count == 1)
    }

    /// A prompt past the store's inline limit is kept as a blob: the run replays, and its
    /// events read back with the prompt whole, in the request and in the wire body.
    @Test func aLongPromptIsKeptWholeAndReplays() async throws {
        let server = try ScriptedModelServer()
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"Long."},"done":true,"done_reason":"stop","prompt_eval_count":26000,"eval_count":2}"#
            ]))
        let fixture = try AgentRunFixture("chat-long", apiKey: nil)
        let prompt = (1...13_000).map { "w\($0)" }.joined(separator: " ")  // 79 KB
        #expect(prompt.utf8.count > 64 * 1024)
        let run = try #require(
            try await chat(fixture, ollama("l", at: server)).run(
                ModelRequest(messages: [.user(prompt)]), prompt: prompt
            ).run)
        #expect(try await fixture.replayer.replay(run).divergence == nil)
        let payload = try #require(try await fixture.events(run).first?.payload)
        // (Compared apart from #expect, which would print 79 KB on a failure.)
        let requestIsWhole = payload["request"]?["messages"]?.arrayValue?.first?["content"] == .string(prompt)
        let wireIsWhole = payload["wire"]?["body"]?["messages"]?.arrayValue?.first?["content"] == .string(prompt)
        #expect(requestIsWhole)
        #expect(wireIsWhole)
    }

    /// A trace whose last event was cut off is neither replayed nor resumed, and the refusal
    /// names the broken chain.
    @Test func aCutTraceIsNotReplayedOrResumed() async throws {
        let server = try ScriptedModelServer()
        server.enqueue(
            "/api/chat",
            .ndjson([#"{"message":{"role":"assistant","content":"hi"},"done":true,"done_reason":"stop"}"#]))
        let fixture = try AgentRunFixture("chat-cut", apiKey: nil)
        let run = try #require(
            try await chat(fixture, ollama("l", at: server)).run(
                ModelRequest(messages: [.user("hello")]), prompt: "hello"
            ).run)
        try Database(path: fixture.home.path + "/traces.db").execute("DELETE FROM events WHERE seq = 2")
        #expect(try await fixture.store.verify(run).holds == false)
        await #expect(throws: TraceError.self) { _ = try await fixture.replayer.replay(run) }
        do {
            _ = try await fixture.replayer.resume(run)
            Issue.record("a run with a broken chain was resumed")
        } catch {
            #expect("\(error)".contains("is not resumed: its hash chain is BROKEN"), "\(error)")
        }
        #expect(server.requests.count == 1)
    }

    /// A profile that does not exist is a configuration error, before anything is recorded.
    @Test func anUnknownProfileRecordsNothing() async throws {
        let fixture = try AgentRunFixture("chat-unknown", apiKey: nil)
        do {
            _ = try await chat(fixture, []).run(ModelRequest(messages: [.user("hi")]), prompt: "hi")
            Issue.record("an unknown profile was called")
        } catch {
            #expect(error is ConfigurationError, "\(error)")
        }
        #expect(try await fixture.store.runs().isEmpty)
    }
}
