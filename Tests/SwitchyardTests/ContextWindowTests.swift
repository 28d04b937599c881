import Curl
import Foundation
import Providers
import Switchyard
import SwitchyardTesting
import Testing

/// Requests are measured before they are sent: against the profile's context window (from
/// the settings, or asked of the server) and the run's token budget. A request that does not
/// fit is refused with the sizes and recorded; Ollama is asked not to cut prompts, and an
/// answer that shows it cut one anyway is an error, not an answer.
@Suite struct ContextWindowTests {
    let server: ScriptedModelServer
    let directory: TemporaryDirectory

    init() throws {
        server = try ScriptedModelServer()
        directory = try TemporaryDirectory("window")
    }

    /// Tools the code assistant offers: their schemas weigh more than a short task.
    static let tools = (1...14).map { index in
        ToolSpec(
            name: "tool_\(index)", description: "Does thing \(index) to the files of the workspace, carefully.",
            parameters: [
                "type": "object",
                "properties": [
                    "path": ["type": "string", "description": "A path inside the workspace"],
                    "pattern": ["type": "string", "description": "What to look for, as a regular expression"],
                    "limit": ["type": "integer", "minimum": 1, "maximum": 1000],
                ],
                "required": ["path"],
            ])
    }

    @Test func theEstimateCountsToolsAndSchemasNotJustMessages() {
        let bare = ModelRequest(messages: [.user("Fix the bug.")])
        let offered = ModelRequest(messages: [.user("Fix the bug.")], tools: Self.tools)
        let withheld = ModelRequest(messages: [.user("Fix the bug.")], tools: Self.tools, toolChoice: .none)
        let shaped = ModelRequest(
            messages: [.user("Fix the bug.")], responseFormat: .jsonSchema(name: "d", schema: Self.tools[0].parameters))
        #expect(bare.estimatedInputTokens < 20)
        #expect(offered.estimatedInputTokens > 14 * 60)
        #expect(withheld.estimatedInputTokens == bare.estimatedInputTokens)
        #expect(shaped.estimatedInputTokens > bare.estimatedInputTokens + 50)
        let call = ModelRequest(messages: [
            ChatMessage(
                role: .assistant, content: "",
                toolCalls: [ToolCall(id: "c", name: "read", arguments: String(repeating: "x", count: 4000))])
        ])
        #expect(call.estimatedInputTokens > 1000)
    }

    /// Each server kind is asked where it tells: llama.cpp's `/props`, vLLM's `/v1/models`,
    /// Ollama's `/api/ps` for a loaded model and `/api/show` for the trained window.
    @Test func serversAreAskedWhereTheyTell() async throws {
        server.enqueue(
            "/props", .json(#"{"default_generation_settings":{"n_ctx":4096,"n_predict":-1},"total_slots":1}"#))
        var llama = CompatibilityQuirks.llamaCpp
        llama.streams = false
        let llamaWindow = await OpenAIChatProvider(
            baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", quirks: llama, retry: .never
        ).contextWindow()
        #expect(llamaWindow == ContextWindow(tokens: 4096, source: server.baseURL + "/props"))

        server.enqueue(
            "/v1/models",
            .json(
                #"{"object":"list","data":[{"id":"other","max_model_len":1},{"id":"qwen","object":"model","max_model_len":32768}]}"#
            ))
        let vllm = await OpenAIChatProvider(
            baseURL: server.baseURL + "/v1", apiKey: nil, model: "qwen", quirks: .vllm, retry: .never
        ).contextWindow()
        #expect(vllm?.tokens == 32768)

        server.enqueue(
            "/api/ps",
            .json(#"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","context_length":8192}]}"#))
        let loaded = await OllamaProvider(baseURL: server.baseURL, model: "llama3.2:latest").contextWindow()
        #expect(loaded == ContextWindow(tokens: 8192, source: server.baseURL + "/api/ps"))

        server.enqueue("/api/ps", .json(#"{"models":[]}"#))
        server.enqueue(
            "/api/show", .json(#"{"model_info":{"general.architecture":"llama","llama.context_length":131072}}"#))
        let trained = await OllamaProvider(baseURL: server.baseURL, model: "llama3.2").contextWindow()
        #expect(trained == ContextWindow(tokens: 131072, source: server.baseURL + "/api/show"))
        #expect(server.requests.last?.body.isEmpty == false)  // /api/show is a POST naming the model

        // A server that says nothing, or lies, gives no window; nothing is retried.
        let before = server.requests.count
        server.enqueue("/props", .json(#"{"default_generation_settings":{"n_ctx":1e30}}"#))
        #expect(
            await OpenAIChatProvider(
                baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", quirks: llama, retry: .never
            ).contextWindow() == nil)
        #expect(await OllamaProvider(baseURL: server.baseURL, model: "x").contextWindow() == nil)  // 500s
        #expect(server.requests.count == before + 3)
        // A server of no named kind is not asked at all.
        #expect(
            await OpenAIChatProvider(baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", retry: .never)
                .contextWindow() == nil)
        #expect(server.requests.count == before + 3)
    }

    /// A server that never answers the question gives no window: the client gives up on its
    /// own (after 3 s), instead of holding the run's start until the server goes (it never
    /// does; the time limit fails a client that waits for it).
    @Test(.timeLimit(.minutes(1))) func aServerThatNeverAnswersGivesNoWindow() async throws {
        let silent = try LoopbackHTTPServer { _, response in
            response.waitForClose()
            response.abort()
        }
        defer { silent.stop() }
        let window = await OpenAIChatProvider(
            baseURL: silent.baseURL + "/v1", apiKey: nil, model: "m", quirks: .llamaCpp, retry: .never
        ).contextWindow()
        #expect(window == nil)
    }

    /// A request larger than the window is refused before a byte is sent, with the profile,
    /// the size and the window, and recorded; a fallback with room takes it.
    @Test func aRequestLargerThanTheWindowIsRefusedAndFallsBack() async throws {
        let big = try ScriptedModelServer()
        big.enqueue("/v1/chat/completions", .openAIText("fits"))
        var small = ProfileBinding.scripted("small", baseURL: server.baseURL, clearance: .secret)
        small.contextWindow = ContextWindow(tokens: 512, source: "profiles.small.context_window")
        var large = ProfileBinding.scripted("large", baseURL: big.baseURL, clearance: .secret)
        large.contextWindow = ContextWindow(tokens: 100_000, source: big.baseURL + "/props")
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        let gateway = ModelGateway(
            profiles: [small, large], runGuard: RunGuard(allowExfiltration: false),
            effects: LiveEffects(store: store, run: run, clock: { 0 }))
        let request = ModelRequest(messages: [.user("Fix the bug.")], tools: Self.tools)

        let error = await #expect(throws: ModelError.self) {
            _ = try await gateway.call(request, binding: small, labels: Labels(.public, .trusted), step: "s1")
        }
        #expect(error?.code == .contextTooLong)
        #expect(
            error?.message
                == "the request is about \(request.estimatedInputTokens) tokens and profile small's context window is 512 (profiles.small.context_window)"
        )
        #expect(server.requests.isEmpty)

        let answer = try await gateway.callWithFallback(
            request, order: ["small", "large"], labels: Labels(.public, .trusted), step: "s2")
        #expect(answer.text == "fits")
        #expect(server.requests.isEmpty)
        #expect(big.requests.count == 1)
        let kinds = try await store.events(run).map(\.kind)
        #expect(kinds.filter { $0 == .modelRefused }.count == 2)
        #expect(kinds.contains(.routeFallback))
        let refused = try #require(try await store.events(run).first { $0.kind == .modelRefused })
        #expect(refused.payload["context_window"] == 512)
        #expect(refused.payload["estimated_tokens"]?.intValue == request.estimatedInputTokens)
    }

    /// The token budget counts the tools' schemas too: a request the budget cannot cover is
    /// not sent.
    @Test func theTokenBudgetCountsWhatIsSentWhole() async throws {
        let binding = ProfileBinding.scripted("local", baseURL: server.baseURL, clearance: .secret)
        var budgets = AgentSpec.Budgets()
        budgets.tokens = 500
        let gateway = ModelGateway(
            profiles: [binding], runGuard: RunGuard(allowExfiltration: false), effects: LiveEffects.unrecorded(),
            budgets: budgets)
        let error = await #expect(throws: BudgetSpent.self) {
            _ = try await gateway.call(
                ModelRequest(messages: [.user("Fix the bug.")], tools: Self.tools), binding: binding,
                labels: Labels(.public, .trusted), step: "s")
        }
        #expect(error?.reason.contains("the token budget (500) is spent") == true)
        #expect(server.requests.isEmpty)
    }

    /// Ollama is told not to cut a prompt (`truncate: false`); one that does anyway — it read
    /// far fewer tokens than were sent — gives a recorded error, not its answer.
    @Test func ollamaIsToldNotToTruncateAndACutPromptIsAnError() async throws {
        let provider = OllamaProvider(baseURL: server.baseURL, model: "llama3.2", retry: .never)
        let prompt = String(repeating: "The parser keeps the line it was given. ", count: 600)  // ~6,000 tokens
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"Sure."},"done":false}"#,
                #"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":2050,"eval_count":2}"#,
            ]))
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        let live = LiveEffects(store: store, run: run, clock: { 0 })
        let error = await #expect(throws: ModelError.self) {
            _ = try await live.model(
                ModelRequest(messages: [.user(prompt)]), profile: "local", provider: provider, step: "s",
                observe: { _ in })
        }
        #expect(error?.code == .contextTooLong)
        #expect(error?.message.hasPrefix("the server read 2050 tokens of a prompt of about ") == true)
        #expect(try server.lastBody()["truncate"] as? Bool == false)
        let events = try await store.events(run)
        #expect(events.map(\.kind) == [.modelRequest, .modelError])
        #expect(events.last?.payload["code"] == "context-too-long")

        // A count that fits what was sent, or a prompt served from the cache (0), is an answer.
        for count in [6100, 0] {
            server.enqueue(
                "/api/chat",
                .ndjson([
                    #"{"message":{"role":"assistant","content":"Sure."},"done":true,"done_reason":"stop","prompt_eval_count":\#(count),"eval_count":2}"#
                ]))
            let answer = try await provider.complete(ModelRequest(messages: [.user(prompt)]))
            #expect(answer.text == "Sure.")
        }
    }
}
