import Composition
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// A planned agent (planner `cloud`, model steps on `local`, both scripted OpenAI-format
/// servers) that reads a note in a workspace, recorded in a store on disk: the fixture for the
/// core's run, replay, fork and resume APIs, used in-process.
struct RecordedAgentFixture {
    let cloud: ScriptedModelServer
    let local: ScriptedModelServer
    let directory: TemporaryDirectory
    let store: TraceStore

    init(_ prefix: String) throws {
        cloud = try ScriptedModelServer()
        local = try ScriptedModelServer()
        directory = try TemporaryDirectory(prefix)
        try directory.write("notes/todo.txt", "Ship the release on Friday.\n")
        try directory.write("agents/helper.md", Self.spec(local: local, cloud: cloud, prompt: "You help with notes."))
        store = try TraceStore(path: directory.path + "/home/traces.db")
    }

    static func spec(local: ScriptedModelServer, cloud: ScriptedModelServer, prompt: String) -> String {
        plannedAgent("helper", local: local, cloud: cloud, tools: ["read: {}"], prompt: prompt)
    }

    var environment: [String: String] {
        ["HOME": directory.path, "SWITCHYARD_HOME": directory.path + "/home", "OPENAI_API_KEY": "sk-test-runs"]
    }

    var replayer: Replayer {
        Replayer(store: store, assembly: StandardAssembly(environment: environment), environment: environment)
    }

    /// The planner's rounds: read the note, ask the local model about it, answer with that.
    func scriptThreeRounds() {
        let rounds: [JSONValue] = [
            ["steps": [["kind": "tool", "tool": "read", "arguments": ["path": "notes/todo.txt"]]]],
            ["steps": [["kind": "model", "instruction": "When?", "inputs": ["$2"]]]], ["answer": "$3"],
        ]
        for (index, round) in rounds.enumerated() {
            cloud.enqueue("/v1/chat/completions", .openAIPlan(round, id: index))
        }
    }

    /// Runs the agent on `task` and records it, as `switchyard run` does; `started` hears the
    /// run's id as soon as it has one.
    func record(_ task: String, started: @Sendable (RunID) -> Void = { _ in }) async throws -> (RunID, RunResult) {
        let outcome = try await AgentRun(
            agent: "helper", workspace: directory.path, environment: environment, store: store
        )
        .run(task, started: started)
        return (try #require(outcome.run), outcome.result)
    }
}

@Suite struct ReplayerTests {
    /// A recorded run replays with nothing sent; the same run with an edited system prompt
    /// parts from the record at its first model request, and says where.
    @Test func aRunReplaysWithoutTheNetworkAndAnEditedSpecDivergesAtItsFirstRequest() async throws {
        let fixture = try RecordedAgentFixture("replayer")
        fixture.scriptThreeRounds()
        fixture.local.enqueue("/v1/chat/completions", .openAIText("On Friday."))
        let (run, result) = try await fixture.record("When do we ship?")
        #expect(result.answer == "On Friday.")
        let sent = fixture.cloud.requests.count + fixture.local.requests.count

        let outcome = try await fixture.replayer.replay(run)
        #expect(outcome.divergence == nil, "\(String(describing: outcome.divergence))")
        #expect(outcome.answer == "On Friday.")
        #expect(outcome.events > 0)
        #expect(fixture.cloud.requests.count + fixture.local.requests.count == sent)

        let edited = try TemporaryDirectory("replayer-edited")
        try edited.write(
            "helper.md", RecordedAgentFixture.spec(local: fixture.local, cloud: fixture.cloud, prompt: "You help."))
        var whatIf = fixture.replayer
        whatIf.agent = edited.path + "/helper.md"
        let divergence = try #require(try await whatIf.replay(run).divergence)
        #expect(divergence.kind == .modelRequest)
        #expect(divergence.step == "plan-1")
        #expect(fixture.cloud.requests.count + fixture.local.requests.count == sent)

        // A triage batch decides nothing itself, so there is nothing of its own to replay.
        let triage = try await fixture.store.startRun(
            agent: "helper", task: "triage", header: ["command": "triage"], at: 1)
        let batch = await #expect(throws: TraceError.self) { try await fixture.replayer.replay(triage) }
        #expect(batch?.message.contains("is a triage batch, which decides nothing itself") == true)
    }

    /// A fork serves the record up to its step (the note changed since, and the fork still
    /// reads the old text), asks the models anew from it, and is a run of its own, linked to
    /// its parent, that replays exactly.
    @Test func aForkIsARunOfItsOwnRecordedUpToItsStepAndLiveAfter() async throws {
        let fixture = try RecordedAgentFixture("fork")
        fixture.scriptThreeRounds()
        fixture.local.enqueue("/v1/chat/completions", .openAIText("On Friday."))
        let (run, _) = try await fixture.record("When do we ship?")

        try fixture.directory.write("notes/todo.txt", "Ship the release on Monday.\n")
        fixture.local.enqueue("/v1/chat/completions", .openAIText("Friday, as the note says."))
        fixture.cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "$3"], id: 9))
        let (cloudBefore, localBefore) = (fixture.cloud.requests.count, fixture.local.requests.count)
        let fork = try await fixture.replayer.fork(run, at: "$3")
        #expect(fork.divergence == nil)
        #expect(fork.answer == "Friday, as the note says.")
        #expect(fixture.cloud.requests.count == cloudBefore + 1)
        #expect(fixture.local.requests.count == localBefore + 1)
        #expect(fixture.local.requests.last?.text.contains("Ship the release on Friday.") == true)

        let child = try #require(try await fixture.store.run(fork.child))
        #expect(child.parent == run)
        #expect(child.status == .finished)
        #expect(try await fixture.replayer.replay(fork.child).divergence == nil)
        #expect(fixture.cloud.requests.count == cloudBefore + 1)

        let nowhere = await #expect(throws: (any Error).self) { try await fixture.replayer.fork(run, at: "$42") }
        #expect("\(nowhere.map { "\($0)" } ?? "")".contains("has no step $42; its steps are"))
    }

    /// A run cancelled while a model step waits is interrupted, and resumes in place: the planner's
    /// rounds and the read come from the trace, the unanswered request is asked again, and the
    /// finished run replays exactly. A finished run does not resume.
    @Test func aCancelledRunResumesWithoutRepeatingWhatCompleted() async throws {
        let fixture = try RecordedAgentFixture("resume")
        fixture.scriptThreeRounds()
        fixture.local.enqueue("/v1/chat/completions", ScriptedReply(parts: ["", ""], pause: .seconds(60)))
        let started = Shared<RunID?>(nil)
        let running = Task { try await fixture.record("When do we ship?") { run in started.update { $0 = run } } }
        // Generous: the whole suite shares two cores, and this waits for two planner rounds.
        let deadline = ContinuousClock.now + .seconds(300)
        while fixture.local.requests.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(!fixture.local.requests.isEmpty, "the run never reached its model step")
        running.cancel()
        _ = await running.result
        let run = try #require(started.value)
        #expect(try await fixture.store.run(run)?.status == .interrupted)
        #expect(fixture.cloud.requests.count == 2)
        // Nothing after the cut: the unanswered request is the run's last event.
        #expect(try await fixture.store.events(run).last?.kind == .modelRequest)

        fixture.local.enqueue("/v1/chat/completions", .openAIText("On Friday."))
        let resumed = try await fixture.replayer.resume(run)
        guard case .agent(let result) = resumed else {
            Issue.record("an agent run resumed as \(resumed)")
            return
        }
        #expect(result.answer == "On Friday.")
        #expect(fixture.cloud.requests.count == 3)  // rounds 1 and 2 from the trace, round 3 live
        #expect(fixture.local.requests.count == 2)  // the unanswered request, asked again
        #expect(try await fixture.store.run(run)?.status == .finished)
        #expect(try await fixture.replayer.replay(run).divergence == nil)

        let again = await #expect(throws: TraceError.self) { try await fixture.replayer.resume(run) }
        #expect(again?.message.contains("only interrupted or failed runs resume") == true)
    }
}

/// A run's lifetime in the store: whatever its body does, the run ends exactly once.
@Suite struct RunLifetimeTests {
    @Test func aRunEndsWithItsBodysStatusOrFailedWhenItThrows() async throws {
        let directory = try TemporaryDirectory("lifetime")
        let store = try TraceStore(path: directory.path + "/traces.db")
        let clock: @Sendable () -> Int64 = { 1_700_000_000_000 }
        var finished: RunID?
        let answer = try await store.withRun(agent: "a", task: "t", header: [:], clock: clock) { run in
            finished = run
            return (42, .finished)
        }
        #expect(answer == 42)
        #expect(try await store.run(try #require(finished))?.status == .finished)

        struct Stop: Error {}
        var failed: RunID?
        await #expect(throws: Stop.self) {
            try await store.withRun(agent: "a", task: "t", header: [:], clock: clock) { run -> (Int, RunStatus) in
                failed = run
                throw Stop()
            }
        }
        let failedRun = try #require(failed)
        #expect(try await store.run(failedRun)?.status == .failed)
        #expect(try await store.verify(failedRun).holds)

        // A reopened run ends again, once.
        try await store.withReopenedRun(failedRun, clock: clock) { _ in ((), .finished) }
        #expect(try await store.run(failedRun)?.status == .finished)
        await #expect(throws: TraceError.self) {
            try await store.withReopenedRun(failedRun, clock: clock) { _ in ((), .finished) }
        }
    }
}

/// A run's header, typed: what earlier versions wrote reads back field by field, and writes
/// back as the same JSON.
@Suite struct RunHeaderTests {
    @Test func aRecordedHeaderReadsAndWritesBackTheSame() throws {
        let recorded = try JSONValue(
            parsing: #"""
                {"agent":{"file":"agents/helper.md","model":"local","name":"helper","planner":"cloud","spec_sha256":"ab12"},
                 "apply":false,"command":"helper","forked_from":{"run":"01ABC","step":"$3"},
                 "libraries":{"libcurl":"8.14.1","libgit2":"1.9.0","sqlite":"3.46.1"},
                 "profiles":{"cloud":{"clearance":"internal","context_window":{"source":"GET /props","tokens":8192},
                   "destination":"https://api.openai.com/v1","price":{"input":0.15,"output":0.6}},
                   "local":{"clearance":"secret","destination":"http://127.0.0.1:11434"}},
                 "settings_overrides":["profiles.local.model=m"],"switchyard":"0.1.0",
                 "tool_labels":{"read":{"confidentiality":"private","integrity":"trusted"}},"tools":["read"],
                 "workspace":{"git":{"branch":"main","dirty":false,"head":"0a1b"},"path":"/w"}}
                """#)
        let header = try RunHeader(recorded: recorded)
        #expect(header.agent?.specSHA256 == "ab12")
        #expect(header.forkedFrom == RunHeader.Fork(run: RunID(rawValue: "01ABC"), step: "$3"))
        #expect(header.profiles?["cloud"]?.contextWindow == ContextWindow(tokens: 8192, source: "GET /props"))
        #expect(header.profiles?["cloud"]?.price == ModelProfile.Price(inputPerMillion: 0.15, outputPerMillion: 0.6))
        #expect(header.profiles?["local"]?.clearance == .secret)
        #expect(header.toolLabels?["read"] == Labels(.private, .trusted))
        #expect(header.workspace?.git?.branch == "main")
        #expect(header.apply == false)
        #expect(header.json == recorded)

        let chat = try RunHeader(
            recorded: [
                "command": "chat",
                "profile": [
                    "name": "local", "provider": "ollama", "model": "llama3.2", "base_url": "http://127.0.0.1:11434",
                    "clearance": "secret",
                ],
            ])
        #expect(chat.profile?.baseURL == "http://127.0.0.1:11434")
        #expect(chat.agent == nil)
        let broken = #expect(throws: TraceError.self) {
            try RunHeader(recorded: ["profiles": ["p": ["clearance": "top"]]])
        }
        #expect(broken?.message.contains("the run's header does not read") == true)
    }
}
