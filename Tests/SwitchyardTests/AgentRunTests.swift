import Composition
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// A workspace, a home outside it (the trace store, the vector store, the user's settings)
/// and the agent runs made in them in-process, as `switchyard run` makes them.
struct AgentRunFixture {
    let directory: TemporaryDirectory
    let home: TemporaryDirectory
    let store: TraceStore
    let environment: [String: String]

    init(_ prefix: String, apiKey: String? = "sk-test-runs") throws {
        directory = try TemporaryDirectory(prefix)
        home = try TemporaryDirectory(prefix + "-home")
        store = try TraceStore(path: home.path + "/traces.db")
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home.path,
            "SWITCHYARD_HOME": home.path,
        ]
        environment["OPENAI_API_KEY"] = apiKey
        self.environment = environment
    }

    /// The run's composition: `agent` (a name under `agents/` or a spec file) in the workspace.
    func agentRun(_ agent: String, overrides: [String] = [], apply: Bool = false, index: Bool = true) -> AgentRun {
        AgentRun(
            agent: agent, workspace: directory.path, environment: environment, overrides: overrides, apply: apply,
            refreshesIndex: index, store: store)
    }

    /// Runs `agent` on `task` and records it; `events` hears what the run reports.
    func run(
        _ agent: String, _ task: String, overrides: [String] = [], apply: Bool = false, index: Bool = true,
        events: @escaping @Sendable (AgentRun.Event) -> Void = { _ in }
    ) async throws -> (run: RunID, result: RunResult) {
        let outcome = try await agentRun(agent, overrides: overrides, apply: apply, index: index).run(
            task, events: events)
        return (try #require(outcome.run), outcome.result)
    }

    /// The run's events, with their large payloads read back from the store.
    func events(_ run: RunID) async throws -> [TraceEvent] {
        try await store.events(run, resolvingBlobs: true)
    }

    var replayer: Replayer {
        Replayer(store: store, assembly: StandardAssembly(environment: environment), environment: environment)
    }
}

/// Runs as the core composes them: planned, guarded, recorded, audited, replayed and forked,
/// indexed first when they search vectors, refused before they start when their spec or
/// settings are wrong.
@Suite struct AgentRunTests {
    /// A workspace with a private note and the planned agent `helper`, whose cloud planner may
    /// reach a server on loopback.
    func notes(_ prefix: String, cloud: ScriptedModelServer, local: ScriptedModelServer) throws -> AgentRunFixture {
        let fixture = try AgentRunFixture(prefix)
        try NotesWorkspace.writeReachingLoopback(into: fixture.directory, cloud: cloud, local: local)
        return fixture
    }

    @Test func aPlannedRunAnswersKeepsPrivateDataLocalAndAuditTellsTheTruth() async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let exfil = try LoopbackHTTPServer { _, writer in writer.respond(status: 200, text: "thanks") }
        defer { exfil.stop() }
        let fixture = try notes("agent-run", cloud: cloud, local: local)
        NotesWorkspace.scriptHostilePlanner(cloud: cloud, local: local, port: exfil.port)

        let progress = Shared<[String]>([])
        let (run, result) = try await fixture.run("helper", "When does the acquisition close?") { event in
            progress.update { $0.append(event.description) }
        }
        #expect(result.answer == "It closes in May.")
        #expect(result.status == .finished)
        #expect(result.guardDecisions.filter { !$0.allowed }.count == 1)
        // Where the answer comes from: the lines the run read.
        #expect(result.sources.map(\.json) == [["path": "notes/secret.txt", "start_line": 1, "end_line": 1]])
        #expect(progress.value.contains { $0.hasPrefix("route   $4 → local:") }, "\(progress.value)")
        // Nothing private reached the cloud or the exfiltration server.
        #expect(!cloud.requests.map(\.text).joined().contains("CANARY-4242"))
        #expect(exfil.requestCount == 0)
        #expect(local.requests.first?.text.contains("CANARY-4242") == true)

        let audit = try await Audit(of: run, in: fixture.store)
        #expect(audit.clean)
        #expect(audit.leaks.isEmpty)
        let models = audit.egress.filter { $0["kind"] == "model" }
        #expect(models.count == 4)
        // Each model request's bytes are those its server received.
        #expect(
            models.compactMap { $0["bytes"]?.intValue }.sorted()
                == (cloud.requests + local.requests).map(\.body.count).sorted())
        let refused = try #require(audit.egress.first { $0["decision"] == "refuse" })
        #expect(refused["kind"] == "http")
        #expect(refused["labels"]?["confidentiality"] == "private")

        // The outline: each round with the steps it planned, the refusal once, the route.
        let outline = RunOutline(
            events: try await fixture.events(run), header: try await fixture.store.runHeader(run))
        let rounds = outline.steps.filter { $0.name.hasPrefix("plan-") }
        #expect(rounds.map { $0.children.map(\.name) } == [["$2"], ["$3", "$4"], []])
        let fetch = try #require(rounds[1].children.first)
        #expect(fetch.problems.count == 1)
        #expect(fetch.problems.first?.contains("refused http to http://127.0.0.1:") == true, "\(fetch.problems)")
        let model = rounds[1].children[1]
        #expect(model.profiles == ["local"])
        #expect(model.outcome?.hasPrefix("private/") == true, "\(model.outcome ?? "")")
        #expect(outline.ending?.answer == "It closes in May.")

        // The run replays exactly, and no server hears of it.
        let asked = cloud.requests.count + local.requests.count
        let replay = try await fixture.replayer.replay(run)
        #expect(replay.divergence == nil)
        #expect(cloud.requests.count + local.requests.count == asked)
        // What-if: the same requests sent to another model; the wire body says so.
        let otherModel = try await Replayer(
            store: fixture.store, assembly: StandardAssembly(environment: fixture.environment),
            environment: fixture.environment, overrides: ["profiles.cloud.model=gpt-4.1"]
        ).replay(run)
        let sent = try #require(otherModel.divergence)
        #expect(sent.step == "plan-1")
        #expect(sent.path == "wire.body.model")
        #expect(sent.recorded == "gpt-4.1-mini")
        #expect(sent.replayed == "gpt-4.1")

        // A fork from $4 copies what came before it, the guard's refusal inside the fetch too.
        local.enqueue("/v1/chat/completions", .openAIText("In May."))
        cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "$4"], id: 4))
        let fork = try await fixture.replayer.fork(run, at: "$4")
        #expect(fork.divergence == nil)
        #expect(fork.answer == "In May.")
        let childRefusals = try await Audit(of: fork.child, in: fixture.store).egress.filter {
            $0["decision"] == "refuse"
        }
        #expect(childRefusals.map { $0["kind"] } == ["http"])
        #expect(childRefusals.first?["reason"] == refused["reason"])
        #expect(try await fixture.store.run(fork.child)?.parent == run)
        do {
            _ = try await fixture.replayer.fork(run, at: "$42")
            Issue.record("a fork at a step the run does not have went ahead")
        } catch {
            #expect("\(error)".contains("has no step $42; its steps are"), "\(error)")
        }
    }

    /// Without `apply` an agent can only propose a change (on a new branch); with it, it may
    /// change the work tree.
    @Test(arguments: [false, true])
    func theWorkTreeChangesOnlyWithApply(apply: Bool) async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let fixture = try AgentRunFixture("apply")
        let directory = fixture.directory
        try directory.write("README.md", "Teh project.\n")
        try directory.write(
            "agents/fixer.md",
            plannedAgent(
                "fixer", local: local, cloud: cloud,
                tools: ["edit: {}", "shell: { otherwise: allow, writable: [.build] }"], prompt: "You fix typos."))
        cloud.enqueue(
            "/v1/chat/completions",
            .openAIPlan(
                [
                    "steps": [
                        [
                            "kind": "tool", "tool": "edit",
                            "arguments": ["path": "README.md", "old_string": "Teh", "new_string": "The"],
                        ],
                        [
                            "kind": "tool", "tool": "shell",
                            "arguments": [
                                "command": "mkdir -p .build; echo built > .build/product; echo shell >> NOTES"
                            ],
                        ],
                    ]
                ], id: 1))
        cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "$2"], id: 2))
        let (run, result) = try await fixture.run("fixer", "Fix the typo", apply: apply)
        #expect(result.status == .finished)
        #expect(try await fixture.store.runHeader(run).apply == apply)
        // A build's products land in the shell's writable directory either way.
        #expect(try directory.read(".build/product") == "built\n")
        if apply {
            #expect(try directory.read("README.md") == "The project.\n")
            #expect(try directory.read("NOTES") == "shell\n")
        } else {
            #expect(try directory.read("README.md") == "Teh project.\n")
            #expect(!FileManager.default.fileExists(atPath: directory.path + "/NOTES"))
            #expect(result.answer.contains("the work tree is read-only in this run"), "\(result.answer)")
        }
    }

    /// A wrong spec or setting stops the run before it starts, saying where; nothing is recorded.
    @Test func aSpecWithAnUnknownToolOrAnUnsetKeyDoesNotStart() async throws {
        let server = try ScriptedModelServer()
        let fixture = try AgentRunFixture("run-bad", apiKey: nil)
        try fixture.directory.write(
            "agents/bad.md",
            "---\nname: bad\nprofiles:\n  local: { provider: ollama, model: m }\ntools:\n  teleport: {}\n---\nHi\n")
        // The agent's own model names a key variable that is not set: the run says which,
        // not later, with a message about clearances.
        try fixture.directory.write(
            "agents/keyed.md",
            "---\nname: keyed\nprofiles:\n  local: { provider: openai-compatible, base_url: \"\(server.baseURL)/v1\", model: m, api_key_env: SWITCHYARD_TEST_NO_SUCH_KEY }\n---\nHi\n"
        )
        let failures: [(agent: String, says: String)] = [
            ("bad", "bad.md:6: unknown tool 'teleport'"),
            (
                "keyed",
                "profiles.local.api_key_env: SWITCHYARD_TEST_NO_SUCH_KEY is not set; export it to use \(server.baseURL)/v1"
            ),
        ]
        for failure in failures {
            do {
                _ = try await fixture.run(failure.agent, "task")
                Issue.record("\(failure.agent) started")
            } catch {
                #expect(error is ConfigurationError, "\(error)")
                #expect("\(error)".contains(failure.says), "\(error)")
            }
        }
        #expect(server.requests.isEmpty)
        #expect(try await fixture.store.runs().isEmpty)
    }

    /// A llama.cpp server whose window is 1,024 tokens: the agent's first request (its tools'
    /// schemas alone are larger) is refused before it is sent, with the profile, the size and
    /// the window the server reported, and the run records the window it was told.
    @Test func aRequestLargerThanTheServersWindowIsRefusedBeforeItIsSent() async throws {
        let server = try ScriptedModelServer()
        server.enqueue("/props", .json(#"{"default_generation_settings":{"n_ctx":1024}}"#))
        let fixture = try AgentRunFixture("run-window")
        try fixture.directory.write("notes/a.txt", "a\n")
        try fixture.directory.write(
            "agents/wide.md",
            """
            ---
            name: wide
            profiles:
              local: { provider: openai-compatible, base_url: "\(server.baseURL)/v1", model: m, options: { quirks: llama.cpp, stream: false } }
            tools: { read: {}, list: {}, search: {}, edit: {}, git_status: {}, git_log: {}, git_show: {}, git_diff: {}, git_blame: {}, git_branch: {} }
            ---
            You help.
            """)
        let window = "profile local's context window is 1024 (\(server.baseURL)/props)"
        do {
            _ = try await fixture.run("wide", "what is in a.txt?")
            Issue.record("the run was not refused")
        } catch {
            #expect("\(error)".contains(window), "\(error)")
            #expect("\(error)".contains("context-too-long: the request is about"), "\(error)")
        }
        #expect(server.requests.map(\.path) == ["/props"])
        let recorded = try #require(try await fixture.store.runs().first)
        #expect(recorded.status == .failed)
        #expect(try await fixture.store.runHeader(recorded.id).profiles?["local"]?.contextWindow?.tokens == 1024)
        let events = try await fixture.events(recorded.id)
        #expect(events.contains { $0.kind == .modelRefused })
        let outline = RunOutline(events: events)
        #expect(
            outline.steps.flatMap(\.problems).contains { $0.contains("not sent: the request is about") },
            "\(outline.steps.map(\.problems))")
        // The replay knows the window from the record: it fails the same way, asking no one.
        do {
            let replay = try await fixture.replayer.replay(recorded.id)
            Issue.record("the replay did not fail: \(String(describing: replay.divergence))")
        } catch {
            #expect("\(error)".contains(window), "\(error)")
            #expect(!(error is Divergence))
        }
        #expect(server.requests.count == 1)
    }

    /// An agent planned by a scripted server whose one tool is `vector_search`, embedding with
    /// the `embed` profile at `embedder`; `embed` adds to that profile, `rest` to the front matter.
    func finder(planner: ScriptedModelServer, embedder: LoopbackHTTPServer, embed: String = "", rest: String = "")
        -> String
    {
        """
        ---
        name: finder
        planner: cloud
        model: cloud
        profiles:
          cloud: { provider: openai-compatible, base_url: "\(planner.baseURL)/v1", model: m, clearance: internal, options: { stream: false } }
          embed: { provider: openai-compatible, base_url: "\(embedder.baseURL)/v1", model: e\(embed) }
        tools:
          vector_search: { collection: notes }
        \(rest)
        ---
        You find notes.
        """
    }

    /// An agent with vector_search gets its workspace indexed on its first run, and only what
    /// changed re-embedded on later ones.
    @Test func theWorkspaceIsIndexedOnFirstUseAndIncrementallyAfter() async throws {
        let planner = try ScriptedModelServer()
        // An OpenAI-format embedding server: one vector for each input, whatever the batch.
        let embedded = Shared<Int>(0)
        let embedder = try LoopbackHTTPServer { request, writer in
            let inputs = (try? JSONValue(parsing: request.text))?["input"]?.arrayValue ?? []
            embedded.update { $0 += inputs.count }
            let data = inputs.indices.map { #"{"object":"embedding","index":\#($0),"embedding":[1,\#($0 + 1),0.5]}"# }
            writer.respond(
                status: 200, headers: [("Content-Type", "application/json")],
                text: #"{"object":"list","data":[\#(data.joined(separator: ","))],"model":"e"}"#)
        }
        defer { embedder.stop() }
        let fixture = try AgentRunFixture("run-index")
        try fixture.directory.write("notes/a.txt", "The launch is on Friday.\n")
        try fixture.directory.write("notes/b.txt", "The budget is fixed.\n")
        try fixture.directory.write("agents/finder.md", finder(planner: planner, embedder: embedder))
        func run(_ overrides: [String] = []) async throws -> JSONValue {
            planner.enqueue("/v1/chat/completions", .openAIPlan(["answer": "done"], id: 1))
            let indexed = Shared<[String]>([])
            let (run, result) = try await fixture.run("finder", "Find the launch note", overrides: overrides) { event in
                if case .indexed = event { indexed.update { $0.append("\(event)") } }
            }
            #expect(result.status == .finished)
            #expect(indexed.value.count == 1)
            return try #require(try await fixture.store.runHeader(run).index)
        }
        let first = try await run()
        #expect(first["collection"] == "notes")
        #expect(first["indexed"] == 3)  // the two notes and the agent's spec
        let embeddedFirst = embedded.value
        #expect(embeddedFirst >= 3)

        let second = try await run()
        #expect(second["indexed"] == 0)
        #expect(second["unchanged"] == 3)
        #expect(embedded.value == embeddedFirst)

        try fixture.directory.write("notes/b.txt", "The budget grew.\n")
        let third = try await run()
        #expect(third["indexed"] == 1)
        #expect(embedded.value > embeddedFirst)

        // index.include narrows the collection: the spec outside it leaves.
        let fourth = try await run(["index.include=notes/**"])
        #expect(fourth["indexed"] == 0)
        #expect(fourth["unchanged"] == 2)
        #expect(fourth["removed"] == 1)

        // Without the refresh, nothing is embedded and the header says nothing of an index.
        planner.enqueue("/v1/chat/completions", .openAIPlan(["answer": "done"], id: 1))
        let before = embedded.value
        let (unindexed, _) = try await fixture.run("finder", "Find the launch note", index: false)
        #expect(try await fixture.store.runHeader(unindexed).index == nil)
        #expect(embedded.value == before)
    }

    /// A spec that makes its workspace secret is the workspace's label for the index too: a run
    /// does not send its files to an embedder cleared only for private text (the index used
    /// to check the settings' default label, private, while the tools carried the spec's).
    @Test func theIndexBeforeARunKeepsTheSpecsWorkspaceLabel() async throws {
        let planner = try ScriptedModelServer()
        let embedded = Shared<[String]>([])
        let embedder = try LoopbackHTTPServer { request, writer in
            embedded.update { $0.append(request.text) }
            writer.respond(status: 500, text: "no")
        }
        defer { embedder.stop() }
        let fixture = try AgentRunFixture("run-index-label")
        try fixture.directory.write("notes/a.txt", "CANARY-7311 the merger closes in June.\n")
        try fixture.directory.write(
            "agents/finder.md",
            finder(
                planner: planner, embedder: embedder, embed: ", clearance: private",
                rest: "privacy: { workspace: { confidentiality: secret } }"))
        planner.enqueue("/v1/chat/completions", .openAIPlan(["answer": "done"], id: 1))
        let notices = Shared<[String]>([])
        let (run, result) = try await fixture.run("finder", "Find the merger note") { event in
            if case .notice(let message) = event { notices.update { $0.append(message) } }
        }
        #expect(result.status == .finished)
        #expect(embedded.value.isEmpty, "the embedder was sent \(embedded.value.count) requests")
        let refusal = "the workspace is secret and profile embed is cleared only for private"
        #expect(notices.value.contains { $0.contains(refusal) }, "\(notices.value)")
        #expect(try await fixture.store.runHeader(run).index?["error"]?.stringValue?.contains(refusal) == true)
        #expect(!planner.requests.map(\.text).joined().contains("CANARY-7311"))
    }

    /// A run without a store records nothing, and still runs.
    @Test func anUnrecordedRunLeavesNoTrace() async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let fixture = try notes("unrecorded", cloud: cloud, local: local)
        cloud.enqueue(
            "/v1/chat/completions",
            .openAIPlan(
                ["steps": [["kind": "tool", "tool": "read", "arguments": ["path": "notes/secret.txt"]]]], id: 1))
        cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "read"], id: 2))
        var unrecorded = fixture.agentRun("helper")
        unrecorded.store = nil
        let outcome = try await unrecorded.run("Read the note")
        #expect(outcome.run == nil)
        #expect(outcome.result.answer == "read")
        #expect(try await fixture.store.runs().isEmpty)
    }
}
