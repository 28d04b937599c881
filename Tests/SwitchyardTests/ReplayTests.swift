import Curl
import Foundation
import Providers
import SQLite
import Switchyard
import SwitchyardTesting
import Testing

/// A small multi-step run, as the planner loop will drive one: the clock, a model call,
/// two tool calls, and a second model call over their results.
func scriptedRun(
    _ effects: any Effects, provider: any ModelProvider, prompt: String = "find the handler",
    pattern: String = "fn handle", profile: String = "local", reversedTools: Bool = false
) async throws -> String {
    _ = try await effects.now()
    let plan = try await effects.model(
        ModelRequest(messages: [.user(prompt)], tools: [weatherTool]), profile: profile, provider: provider, step: "$1")
    var outputs: [JSONValue] = []
    let search: (String, JSONValue, JSONValue) = ("search", ["pattern": .string(pattern)], ["matches": 3])
    let read: (String, JSONValue, JSONValue) = ("read", ["path": "src/server.rs"], ["text": "fn handle() {}"])
    let calls = reversedTools ? [read, search] : [search, read]
    for index in calls.indices {
        let (name, arguments, output) = calls[index]
        outputs.append(try await effects.tool(name, arguments: arguments, step: "$\(index + 2)") { output })
    }
    let answer = try await effects.model(
        ModelRequest(messages: [.user(prompt), .assistant(plan.text), .user(JSONValue.array(outputs).canonicalText)]),
        profile: profile, provider: provider, step: "$4")
    return answer.text
}

@Suite struct ReplayTests {
    let directory: ScratchDirectory
    let server: ScriptedModelServer
    init() throws {
        directory = try ScratchDirectory()
        server = try ScriptedModelServer()
    }

    /// Records one live run against the Ollama fake; returns the store and the run.
    func record() async throws -> (TraceStore, RunID, String) {
        server.enqueue(
            "/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"I will search."},"done":true}"#]))
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"It is in "},"done":false}"#,
                #"{"message":{"role":"assistant","content":"src/server.rs."},"done":true,"prompt_eval_count":20,"eval_count":6}"#,
            ]))
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(agent: "scripted", task: "find the handler", header: [:], at: 1)
        let provider = OllamaProvider(baseURL: server.baseURL, model: "llama3.2")
        let answer = try await scriptedRun(
            LiveEffects(store: store, run: run, clock: { 1_700_000_000_000 }), provider: provider)
        try await store.finish(run, status: .finished, at: 2)
        return (store, run, answer)
    }

    /// A provider that must never be called: replay works without a network.
    let offline = OllamaProvider(baseURL: "http://127.0.0.1:1", model: "llama3.2", retry: .never)

    /// The wire body a trace records is the body that was sent: each request the server got
    /// is, byte for byte once parsed, the one recorded for it.
    @Test func theRecordedBodyIsTheBodySent() async throws {
        let (store, run, _) = try await record()
        let recorded = try await store.events(run, resolvingBlobs: true).filter { $0.kind == .modelRequest }
        let received = try server.requests.filter { $0.path == "/api/chat" }.map { try JSONValue(parsing: $0.body) }
        #expect(received.count == 2)
        #expect(recorded.map { $0.payload["wire"]?["body"] } == received.map { Optional($0) })
        #expect(
            recorded.map { $0.payload["wire"]?["url"] } == received.map { _ in .string(server.baseURL + "/api/chat") })
    }

    /// A replay compares only what each turn adds to a conversation it already checked — and
    /// still finds a change anywhere: in what a turn adds (at its own index) and in what an
    /// earlier turn had.
    @Test func aLongConversationReplaysAndEveryChangeIsFound() async throws {
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(agent: "loop", task: "t", header: [:], at: 1)
        let provider = OllamaProvider(baseURL: server.baseURL, model: "llama3.2")
        func conversation(_ turns: Int, changing change: Int? = nil, content: String = "changed") -> [[ChatMessage]] {
            var messages: [ChatMessage] = [.system("You read."), .user("Go.")]
            var requests: [[ChatMessage]] = []
            for turn in 1...turns {
                requests.append(messages)
                messages += [.assistant("turn \(turn)"), .user("result \(turn)")]
            }
            if let change {
                requests = requests.map {
                    $0.count > change ? $0.enumerated().map { $0.offset == change ? .user(content) : $0.element } : $0
                }
            }
            return requests
        }
        let live = LiveEffects(store: store, run: run, clock: { 1 })
        for messages in conversation(40) {
            server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"ok"},"done":true}"#]))
            _ = try await live.model(ModelRequest(messages: messages), profile: "local", provider: provider, step: "$1")
        }
        try await store.finish(run, status: .finished, at: 2)
        func replay(_ requests: [[ChatMessage]]) async throws {
            let effects = try await RecordedEffects(replaying: run, in: store)
            for messages in requests {
                _ = try await effects.model(
                    ModelRequest(messages: messages), profile: "local", provider: offline, step: "$1")
            }
        }
        try await replay(conversation(40))
        // A change in the message turn 30 adds (index 59), seen from that turn on.
        let added = await #expect(throws: Divergence.self) { try await replay(conversation(40, changing: 59)) }
        #expect(added?.path.contains("messages[59]") == true, "\(added?.path ?? "")")
        // A change in a message every later turn repeats (index 3), seen at the first turn that has it.
        let early = await #expect(throws: Divergence.self) { try await replay(conversation(40, changing: 3)) }
        #expect(early?.path.contains("messages[3]") == true, "\(early?.path ?? "")")
        #expect(early?.sequence == 3)  // the second request: the first with four messages
    }

    @Test func aRecordedRunReplaysExactlyWithoutTheNetwork() async throws {
        let (store, run, answer) = try await record()
        #expect(answer == "It is in src/server.rs.")
        let kinds = try await store.events(run).map(\.kind)
        #expect(
            kinds == [
                .clock, .modelRequest, .modelResponse, .toolCall, .toolResult, .toolCall, .toolResult,
                .modelRequest, .modelResponse,
            ])
        let replay = try await RecordedEffects(replaying: run, in: store)
        let replayed = try await scriptedRun(replay, provider: offline)
        #expect(replayed == answer)
        #expect(await replay.isComplete)
        #expect(server.requests.count == 2)  // only the live run reached the server
    }

    /// A model request is recorded with what went on the wire: the URL and the body the
    /// server received.
    @Test func eachModelRequestIsRecordedAsTheServerReceivedIt() async throws {
        let (store, run, _) = try await record()
        let intents = try await store.events(run).filter { $0.kind == .modelRequest }
        #expect(intents.count == 2 && server.requests.count == 2)
        for (intent, received) in zip(intents, server.requests) {
            #expect(intent.payload["wire"]?["url"] == .string(server.baseURL + received.path))
            #expect(intent.payload["wire"]?["body"] == (try JSONValue(parsing: received.body)))
        }
    }

    /// The same request sent differently — another model, another option — is a divergence
    /// at the field of the wire body; where it was sent is not (`offline` is elsewhere).
    @Test func aChangedModelOrOptionDivergesOnTheWire() async throws {
        let (store, run, _) = try await record()
        let otherModel = OllamaProvider(baseURL: "http://127.0.0.1:1", model: "llama3.1", retry: .never)
        let model = await #expect(throws: Divergence.self) {
            _ = try await scriptedRun(RecordedEffects(replaying: run, in: store), provider: otherModel)
        }
        #expect(model?.sequence == 2)
        #expect(model?.path == "wire.body.model")
        #expect(model?.recorded == "llama3.2")
        #expect(model?.replayed == "llama3.1")
        let warmer = OllamaProvider(
            baseURL: "http://127.0.0.1:1", model: "llama3.2", options: ["temperature": 0.9], retry: .never)
        let option = await #expect(throws: Divergence.self) {
            _ = try await scriptedRun(RecordedEffects(replaying: run, in: store), provider: warmer)
        }
        #expect(option?.path == "wire.body.options")
        #expect(option?.recorded == nil)
        #expect(option?.replayed == ["temperature": 0.9])
    }

    /// Runs recorded before requests were recorded as sent have no wire: they still replay.
    @Test func aRequestRecordedWithoutItsWireStillReplays() async throws {
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(agent: "scripted", task: "an older run", header: [:], at: 1)
        let request = ModelRequest(messages: [.user("hello")])
        let intent = try await store.append(
            run: run, kind: .modelRequest, step: "$1", payload: ["profile": "local", "request": request.json], at: 2)
        try await store.append(
            run: run, kind: .modelResponse, step: "$1", parent: intent,
            payload: ["text": "hi", "text_deltas": [2], "tool_calls": [], "finish": "stop"], at: 3)
        let replay = try await RecordedEffects(replaying: run, in: store)
        let response = try await replay.model(request, profile: "local", provider: offline, step: "$1")
        #expect(response.text == "hi")
        #expect(await replay.isComplete)
    }

    /// A replay hands the observer the events the live stream did, cut in the same places:
    /// each text delta, the tool call, the usage and the finish, in their order.
    @Test func aReplayDeliversTheStreamCutWhereItWasCut() async throws {
        func chunk(_ delta: String, finish: String? = nil) -> String {
            #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":"#
                + delta + #","finish_reason":"# + (finish.map { "\"\($0)\"" } ?? "null") + "}]}"
        }
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(#"{"role":"assistant","content":"Oslo is "}"#),
                chunk(#"{"content":"cold, "}"#),
                chunk(#"{"content":"3°C; I will check."}"#),
                chunk(
                    #"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":"}}]}"#
                ),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"\"Oslo\"}"}}]}"#),
                chunk("{}", finish: "tool_calls"),
                #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}"#,
            ]))
        let provider = OpenAIChatProvider(baseURL: server.baseURL + "/v1", apiKey: "sk-test", model: "gpt-4o")
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(agent: "scripted", task: "weather", header: [:], at: 1)
        let request = ModelRequest(messages: [.user("Weather in Oslo?")], tools: [weatherTool])
        let live = Shared<[ModelEvent]>([])
        _ = try await LiveEffects(store: store, run: run, clock: { 5 }).model(
            request, profile: "cloud", provider: provider, step: "$1"
        ) { event in live.update { $0.append(event) } }
        let replayed = Shared<[ModelEvent]>([])
        let replay = try await RecordedEffects(replaying: run, in: store)
        _ = try await replay.model(request, profile: "cloud", provider: provider, step: "$1") { event in
            replayed.update { $0.append(event) }
        }
        #expect(
            Array(live.value.prefix(3)) == [
                .textDelta("Oslo is "), .textDelta("cold, "), .textDelta("3°C; I will check."),
            ]
        )
        #expect(live.value.count == 6)
        #expect(replayed.value == live.value)
        #expect(server.requests.count == 1)
    }

    @Test func aChangedPromptWordDivergesAtTheFirstModelRequest() async throws {
        let (store, run, _) = try await record()
        let error = await #expect(throws: Divergence.self) {
            _ = try await scriptedRun(
                RecordedEffects(replaying: run, in: store), provider: offline, prompt: "find the handlers")
        }
        #expect(error?.sequence == 2)
        #expect(error?.kind == .modelRequest)
        #expect(error?.path == "request.messages[0].content")
        #expect(error?.recorded == "find the handler")
        #expect(error?.replayed == "find the handlers")
    }

    @Test func aChangedToolArgumentDivergesAtThatCall() async throws {
        let (store, run, _) = try await record()
        let error = await #expect(throws: Divergence.self) {
            _ = try await scriptedRun(
                RecordedEffects(replaying: run, in: store), provider: offline, pattern: "fn serve")
        }
        #expect(error?.sequence == 4)
        #expect(error?.step == "$2")
        #expect(error?.path == "arguments.pattern")
        #expect(error?.description.contains("recorded: \"fn handle\"\n  now:      \"fn serve\"") == true)
    }

    @Test func aLongTextDivergenceShowsWhereTheTextsPart() {
        let prompt = String(repeating: "You are careful. ", count: 20)
        let divergence = Divergence(
            sequence: 4, kind: .modelRequest, step: "plan-1", path: "request.messages[0].content",
            recorded: .string(prompt + "Cite files and lines."),
            replayed: .string(prompt + "Always cite files and lines."))
        #expect(divergence.description.contains("Cite files and lines.\""))
        #expect(divergence.description.contains("Always cite files and lines.\""))
        #expect(divergence.description.contains("recorded: …\""))
    }

    @Test func aChangedRoutingSettingDiverges() async throws {
        let (store, run, _) = try await record()
        let error = await #expect(throws: Divergence.self) {
            _ = try await scriptedRun(RecordedEffects(replaying: run, in: store), provider: offline, profile: "cloud")
        }
        #expect(error?.sequence == 2)
        #expect(error?.path == "profile")
    }

    @Test func reorderedToolCallsDiverge() async throws {
        let (store, run, _) = try await record()
        let error = await #expect(throws: Divergence.self) {
            _ = try await scriptedRun(
                RecordedEffects(replaying: run, in: store), provider: offline, reversedTools: true)
        }
        #expect(error?.sequence == 4)
        #expect(error?.path == "arguments.path")
    }

    /// A run cut short after its first tool result is resumed: what completed is served
    /// from the record and not performed again; the rest runs live and is appended.
    @Test func resumingNeverRepeatsACompletedEffect() async throws {
        let (_, run, answer) = try await record()
        // Cut short, as a killed writer leaves it: the last events never written, the run
        // interrupted and so never sealed.
        let database = try Database(path: directory.path + "/traces.db")
        try database.execute("DELETE FROM events WHERE seq > 5")
        try database.execute("UPDATE runs SET status = 'interrupted', ended_at = NULL, seal = NULL")
        server.enqueue(
            "/api/chat",
            .ndjson([#"{"message":{"role":"assistant","content":"It is in src/server.rs."},"done":true}"#]))
        let store = try TraceStore(path: directory.path + "/traces.db")
        let performed = Shared<[String]>([])
        let resumed = try await RecordedEffects(resuming: run, in: store, clock: { 1_700_000_000_001 })
        let provider = OllamaProvider(baseURL: server.baseURL, model: "llama3.2")
        _ = try await resumed.now()
        let plan = try await resumed.model(
            ModelRequest(messages: [.user("find the handler")], tools: [weatherTool]), profile: "local",
            provider: provider, step: "$1")
        var outputs: [JSONValue] = []
        for (index, name) in ["search", "read"].enumerated() {
            let arguments: JSONValue = name == "search" ? ["pattern": "fn handle"] : ["path": "src/server.rs"]
            let output: JSONValue = name == "search" ? ["matches": 3] : ["text": "fn handle() {}"]
            outputs.append(
                try await resumed.tool(name, arguments: arguments, step: "$\(index + 2)") {
                    performed.update { $0.append(name) }
                    return output
                })
        }
        let final = try await resumed.model(
            ModelRequest(messages: [
                .user("find the handler"), .assistant(plan.text), .user(JSONValue.array(outputs).canonicalText),
            ]),
            profile: "local", provider: provider, step: "$4")
        #expect(final.text == answer)
        #expect(performed.value == ["read"])  // search completed before the cut: served, not repeated
        #expect(server.requests.count == 3)  // two live before the cut, one after
        #expect(try await store.events(run).count == 9)
        #expect(try await store.verify(run).holds)
    }

    @Test func aToolCallWithoutARecordedResultIsNotRepeated() async throws {
        let (_, run, _) = try await record()
        try Database(path: directory.path + "/traces.db").execute("DELETE FROM events WHERE seq > 6")  // read began
        let store = try TraceStore(path: directory.path + "/traces.db")
        let resumed = try await RecordedEffects(resuming: run, in: store, clock: { 0 })
        _ = try await resumed.now()
        _ = try await resumed.model(
            ModelRequest(messages: [.user("find the handler")], tools: [weatherTool]), profile: "local",
            provider: offline, step: "$1")
        _ = try await resumed.tool("search", arguments: ["pattern": "fn handle"], step: "$2") { ["matches": 3] }
        let error = await #expect(throws: TraceError.self) {
            _ = try await resumed.tool("read", arguments: ["path": "src/server.rs"], step: "$3") { ["text": ""] }
        }
        #expect(error?.message.contains("is not repeated") == true)
    }

    /// A prompt sent in every round, in the request and in its wire body, is stored once.
    @Test func aRepeatedLongPromptIsStoredOnce() async throws {
        server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"one"},"done":true}"#]))
        server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"two"},"done":true}"#]))
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(agent: "planner", task: "t", header: [:], at: 0)
        let live = LiveEffects(store: store, run: run, clock: { 0 })
        let provider = OllamaProvider(baseURL: server.baseURL, model: "llama3.2")
        let prompt = String(repeating: "Plan the steps; cite files. ", count: 300)  // 8.4 KB
        for round in 1...2 {
            _ = try await live.model(
                ModelRequest(messages: [.system(prompt), .user("round \(round)")]), profile: "local",
                provider: provider, step: "plan-\(round)")
        }
        let stored = try await store.events(run).filter { $0.kind == .modelRequest }.flatMap { event in
            [
                event.payload["request"]?["messages"]?.arrayValue?.first?["content"],
                event.payload["wire"]?["body"]?["messages"]?.arrayValue?.first?["content"],
            ].compactMap { $0?["$blob"]?.stringValue }
        }
        #expect(stored.count == 4)
        #expect(Set(stored).count == 1)
        let replay = try await RecordedEffects(replaying: run, in: store)
        for round in 1...2 {
            _ = try await replay.model(
                ModelRequest(messages: [.system(prompt), .user("round \(round)")]), profile: "local",
                provider: offline, step: "plan-\(round)")
        }
        #expect(await replay.isComplete)
    }

    /// A run recorded when long strings stayed inline replays against a store that keeps
    /// them as blobs.
    @Test func aRunRecordedWithALargerInlineLimitStillReplays() async throws {
        server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"ok"},"done":true}"#]))
        let path = directory.path + "/traces.db"
        let prompt = String(repeating: "Plan the steps; cite files. ", count: 300)
        let request = ModelRequest(messages: [.system(prompt), .user("go")])
        let run: RunID
        do {
            let store = try TraceStore(path: path, inlineLimit: 64 * 1024)
            run = try await store.startRun(agent: "planner", task: "t", header: [:], at: 0)
            let provider = OllamaProvider(baseURL: server.baseURL, model: "llama3.2")
            _ = try await LiveEffects(store: store, run: run, clock: { 0 }).model(
                request, profile: "local", provider: provider, step: "plan-1")
            try await store.finish(run, status: .finished, at: 1)
            let inline = try await store.events(run).first?.payload["request"]?["messages"]?.arrayValue?.first?[
                "content"]
            #expect(inline == .string(prompt))
        }
        let replay = try await RecordedEffects(replaying: run, in: try TraceStore(path: path))
        let response = try await replay.model(request, profile: "local", provider: offline, step: "plan-1")
        #expect(response.text == "ok")
    }

    /// A result too large to keep inline is stored as a blob; a replay serves it whole.
    @Test func aLargeResultReplaysWhole() async throws {
        let store = try TraceStore(path: directory.path + "/large.db", inlineLimit: 1024)
        let run = try await store.startRun(agent: "large", task: "t", header: [:], at: 0)
        let text = String(repeating: "0123456789abcdef", count: 10_000)
        let live = LiveEffects(store: store, run: run, clock: { 0 })
        _ = try await live.tool("read", arguments: ["path": "big"], step: "$2") { ["text": .string(text)] }
        let stored = try await store.events(run).last?.payload["output"]?["text"]
        #expect(stored?["$blob"] != nil)
        let replayed = try await RecordedEffects(replaying: run, in: store).tool(
            "read", arguments: ["path": "big"], step: "$2"
        ) { ["text": ""] }
        #expect(replayed["text"]?.stringValue == text)
    }

    @Test func aMultiStepRunExportsAsGenAISpans() async throws {
        let (store, run, _) = try await record()
        let summary = try #require(try await store.run(run))
        let document = OTLPExport.document(
            run: summary, header: try await store.runHeader(run), events: try await store.events(run),
            includeContent: false)
        let spans =
            document["resourceSpans"]?.arrayValue?.first?["scopeSpans"]?.arrayValue?.first?["spans"]?.arrayValue ?? []
        #expect(
            spans.map { $0["name"]?.stringValue ?? "" } == [
                "invoke_agent scripted", "chat llama3.2", "execute_tool search", "execute_tool read", "chat llama3.2",
            ])
        let chat = spans[1]["attributes"]?.arrayValue ?? []
        #expect(chat.contains(["key": "server.address", "value": ["stringValue": "127.0.0.1"]]))
        #expect(Set(spans.compactMap { $0["traceId"]?.stringValue }).count == 1)
        #expect(Set(spans.compactMap { $0["spanId"]?.stringValue }).count == 5)
        #expect(!document.canonicalText.contains("src/server.rs"))  // no content unless asked
    }

    @Test func differenceIgnoresKeyOrderAndNamesThePath() throws {
        let a = try JSONValue(parsing: #"{"b":[1,{"c":2}],"a":true}"#)
        let b = try JSONValue(parsing: #"{"a":true,"b":[1,{"c":2}]}"#)
        #expect(a.firstDifference(from: b) == nil)
        let c = try JSONValue(parsing: #"{"a":true,"b":[1,{"c":3}]}"#)
        let difference = try #require(a.firstDifference(from: c))
        #expect(difference.path == "b[1].c")
        #expect(difference.mine == 2)
        #expect(difference.theirs == 3)
    }
}

@Suite struct RecordedFormTests {
    @Test func requestsAndResponsesRoundTripThroughTheirRecordedForm() {
        let call = ToolCall(id: "c1", name: "get_weather", arguments: #"{"city":"Oslo"}"#)
        let request = ModelRequest(
            messages: [
                .system("be brief"), .user("weather?"), .assistant("", toolCalls: [call]),
                .toolResult(for: call, content: "cold"),
            ],
            tools: [weatherTool], toolChoice: .tool("get_weather"),
            responseFormat: .jsonSchema(name: "answer", schema: ["type": "object"]), maxOutputTokens: 64,
            temperature: 0.5, seed: 7, stop: ["END"], reasoning: true)
        #expect(ModelRequest(recorded: request.json) == request)
        var response = ModelResponse()
        response.text = "It is cold."
        response.toolCalls = [call]
        response.usage = Usage(inputTokens: 5, outputTokens: 4)
        response.finishReason = .toolCalls
        var shape = StreamShape()
        [
            ModelEvent.textDelta("It is "), .textDelta("cold."), .toolCall(call), .usage(response.usage!),
            .finish(.toolCalls),
        ]
        .forEach { shape.append($0) }
        let recorded = response.recorded(stream: shape)
        #expect(ModelResponse(recorded: recorded) == response)
        #expect(recorded["stream"] == "t6 t5 c u f")
        #expect(StreamShape(recorded: "t6 t5 c u f") == shape)
        #expect(StreamShape(recorded: "t6 x c") == nil)
        #expect(StreamShape(recorded: "t-1 f") == nil)
    }

    /// Where a secret was redacted the recorded text has another length than its deltas
    /// add up to: the last delta takes what is left, and no cut falls inside a character.
    @Test func aStreamShapeCutsRedactedTextAtCharacters() throws {
        var response = ModelResponse()
        response.text = "é[secret:1a2b]é"  // 2 + 13 + 2 bytes; the deltas were 3, 4 and 4
        let shape = try #require(StreamShape(recorded: "t3 t4 t4 f"))
        response.finishReason = .stop
        let events = shape.events(of: response)
        #expect(events == [.textDelta("é["), .textDelta("secr"), .textDelta("et:1a2b]é"), .finish(.stop)])
        let cutInside = try #require(StreamShape(recorded: "t1 t1"))
        response.text = "éa"
        #expect(cutInside.events(of: response) == [.textDelta("é"), .textDelta("a")])
    }
}
