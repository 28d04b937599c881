import Curl
import Foundation
import Providers
import Switchyard
import SwitchyardTesting
import Testing

func recordingRetry(_ delays: Shared<[Duration]>) -> RetryPolicy {
    RetryPolicy(jitter: { 0 }, sleep: { delay in delays.update { $0.append(delay) } })
}

@Suite struct OllamaProviderTests {
    let server: ScriptedModelServer
    let delays = Shared<[Duration]>([])
    let provider: OllamaProvider

    init() throws {
        server = try ScriptedModelServer()
        provider = OllamaProvider(
            baseURL: server.baseURL, model: "llama3.2", options: ["num_ctx": 8192], retry: recordingRetry(delays))
    }

    @Test func streamsTextAndReadsTheFinalChunk() async throws {
        // Verbatim from Ollama's docs/api.md "Chat request (Streaming)".
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The","images":null},"done":false}"#,
                #"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":" sky","images":null},"done":false}"#,
                #"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}"#,
            ]))
        var events: [ModelEvent] = []
        for try await event in provider.stream(ModelRequest(messages: [.user("why is the sky blue?")])) {
            events.append(event)
        }
        #expect(
            events == [
                .textDelta("The"), .textDelta(" sky"), .usage(Usage(inputTokens: 26, outputTokens: 282)),
                .finish(.stop),
            ])
        let body = try server.lastBody()
        #expect(body["model"] as? String == "llama3.2")
        #expect(body["stream"] as? Bool == true)
        #expect(body["think"] as? Bool == false)  // thinking off unless asked
        #expect((body["options"] as? [String: Any])?["num_ctx"] as? Int == 8192)
    }

    @Test func numCtxIsTheSameOnEveryRequest() async throws {
        for _ in 0..<2 {
            server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"ok"},"done":true}"#]))
        }
        _ = try await provider.complete(ModelRequest(messages: [.user("a")], maxOutputTokens: 10, temperature: 0))
        _ = try await provider.complete(ModelRequest(messages: [.user("b")], seed: 7))
        let contexts = try server.requests.map { request in
            let body = try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
            return (body?["options"] as? [String: Any])?["num_ctx"] as? Int
        }
        #expect(contexts == [8192, 8192])
    }

    @Test func toolCallsArriveInAnyChunkIncludingDone() async throws {
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"model":"llama3.2","created_at":"2025-07-07T20:22:19.184789Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Tokyo"}}}]},"done":false}"#,
                #"{"model":"llama3.2","created_at":"2025-07-07T20:22:19.3Z","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_k2j9x0ab","function":{"index":1,"name":"get_weather","arguments":{"city":"Paris"}}}]},"done_reason":"stop","done":true,"total_duration":182242375,"prompt_eval_count":10,"eval_count":5}"#,
            ]))
        let response = try await provider.complete(
            ModelRequest(messages: [.user("weather in tokyo and paris?")], tools: [weatherTool]))
        #expect(response.toolCalls.map(\.name) == ["get_weather", "get_weather"])
        #expect(response.toolCalls.map(\.arguments) == [#"{"city":"Tokyo"}"#, #"{"city":"Paris"}"#])
        #expect(response.toolCalls[1].id == "call_k2j9x0ab")
        #expect(Set(response.toolCalls.map(\.id)).count == 2)
        #expect(response.finishReason == .toolCalls)  // the native API says "stop"
        #expect(try response.toolCalls[0].parsedArguments() == ["city": "Tokyo"])
    }

    @Test func historyCarriesArgumentsAsObjectsAndResultsByName() async throws {
        server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"22°C"},"done":true}"#]))
        let call = ToolCall(id: "call_1", name: "get_weather", arguments: #"{"city":"New York"}"#)
        _ = try await provider.complete(
            ModelRequest(
                messages: [
                    .user("weather?"), .assistant("", toolCalls: [call]), .toolResult(for: call, content: "22°C"),
                ], tools: [weatherTool]))
        let messages = try #require(try server.lastBody()["messages"] as? [[String: Any]])
        let function = (messages[1]["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any]
        #expect(function?["arguments"] as? [String: String] == ["city": "New York"])
        #expect(messages[2]["role"] as? String == "tool")
        #expect(messages[2]["tool_name"] as? String == "get_weather")
        let tools = try #require(try server.lastBody()["tools"] as? [[String: Any]])
        #expect((tools[0]["function"] as? [String: Any])?["name"] as? String == "get_weather")
    }

    @Test func thinkingStaysOutOfTheText() async throws {
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"","thinking":"Let me think."},"done":false}"#,
                #"{"message":{"role":"assistant","content":"42"},"done":false}"#,
                #"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}"#,
            ]))
        let response = try await provider.complete(ModelRequest(messages: [.user("?")], reasoning: true))
        #expect(response.text == "42")
        #expect(response.reasoning == "Let me think.")
        #expect(try server.lastBody()["think"] as? Bool == true)
    }

    @Test func anErrorInsideTheStreamIsSurfacedAfterWhatCameBefore() async throws {
        // Verbatim from Ollama's docs/api/errors.mdx: status stays 200.
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"model":"gemma4","created_at":"2025-10-26T17:21:21.231094Z","message":{"role":"assistant","content":"can"},"done":false}"#,
                #"{"error":"an error was encountered while running the model"}"#,
            ]))
        var text = ""
        let error = await #expect(throws: ModelError.self) {
            for try await event in provider.stream(ModelRequest(messages: [.user("hi")])) {
                if case .textDelta(let delta) = event { text += delta }
            }
        }
        #expect(text == "can")
        #expect(error?.message == "an error was encountered while running the model")
        #expect(server.requests.count == 1)  // bytes were delivered: no retry
    }

    @Test func modelNotFoundIsNotRetried() async throws {
        server.enqueue("/api/chat", .json(status: 404, #"{"error":"model 'llama9' not found"}"#))
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider.complete(ModelRequest(messages: [.user("hi")]))
        }
        #expect(error?.code == .modelNotFound)
        #expect(error?.status == 404)
        #expect(error?.message == "model 'llama9' not found")
        #expect(error?.isRetryable == false)
        #expect(server.requests.count == 1)
    }

    @Test func busyServerIsRetried() async throws {
        server.enqueue(
            "/api/chat",
            .json(status: 503, #"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#))
        server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"ok"},"done":true}"#]))
        let response = try await provider.complete(ModelRequest(messages: [.user("hi")]))
        #expect(response.text == "ok")
        #expect(server.requests.count == 2)
        #expect(delays.value == [.milliseconds(500)])
    }

    @Test func aStreamWithoutItsFinalChunkIsAnError() async throws {
        server.enqueue(
            "/api/chat",
            .ndjson([#"{"message":{"role":"assistant","content":"par"},"done":false}"#], dropsConnection: true))
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider.complete(ModelRequest(messages: [.user("hi")]))
        }
        #expect(error?.code == .transport || error?.code == .malformedResponse)
    }

    @Test func oddArgumentEncodingsAreUnwrapped() async throws {
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},"done":false}"#,
                #"{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"name":"get_weather","arguments":{"city":"Rome"}}}}]},"done":true}"#,
            ]))
        let response = try await provider.complete(ModelRequest(messages: [.user("?")], tools: [weatherTool]))
        #expect(response.toolCalls.map(\.arguments) == [#"{"city":"Oslo"}"#, #"{"city":"Rome"}"#])
    }

    @Test(arguments: [true, false])
    func toolCallsWrittenAsTextAreRecognisedOnlyWhenAskedFor(enabled: Bool) async throws {
        var provider = self.provider
        provider.parsesToolCallsInText = enabled
        let text = #"{"name": "get_weather", "parameters": {"city": "Tokyo"}}"#
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"{\"name\": \"get_weather\", "},"done":false}"#,
                #"{"message":{"role":"assistant","content":"\"parameters\": {\"city\": \"Tokyo\"}}"},"done":false}"#,
                #"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}"#,
            ]))
        let response = try await provider.complete(ModelRequest(messages: [.user("?")], tools: [weatherTool]))
        if enabled {
            #expect(response.toolCalls.map(\.name) == ["get_weather"])
            #expect(try response.toolCalls.first?.parsedArguments() == ["city": "Tokyo"])
            #expect(response.text.isEmpty)
            #expect(response.finishReason == .toolCalls)
        } else {
            #expect(response.toolCalls.isEmpty)
            #expect(response.text == text)
        }
    }

    @Test func textNamingAnUnofferedToolStaysText() async throws {
        var provider = self.provider
        provider.parsesToolCallsInText = true
        server.enqueue(
            "/api/chat",
            .ndjson([#"{"message":{"role":"assistant","content":"{\"name\":\"rm_rf\",\"arguments\":{}}"},"done":true}"#]
            ))
        let response = try await provider.complete(ModelRequest(messages: [.user("?")], tools: [weatherTool]))
        #expect(response.toolCalls.isEmpty)
        #expect(response.text == #"{"name":"rm_rf","arguments":{}}"#)
    }

    @Test func structuredOutputSendsTheSchemaAsFormat() async throws {
        server.enqueue("/api/chat", .ndjson([#"{"message":{"role":"assistant","content":"{\"age\":3}"},"done":true}"#]))
        let schema: JSONValue = ["type": "object", "properties": ["age": ["type": "integer"]], "required": ["age"]]
        let response = try await provider.complete(
            ModelRequest(messages: [.user("age?")], responseFormat: .jsonSchema(name: "age", schema: schema)))
        #expect(try JSONValue(parsing: response.text) == ["age": 3])
        let format = try server.lastBody()["format"] as? [String: Any]
        #expect(format?["type"] as? String == "object")
    }

    @Test func embeddingsTagsAndShow() async throws {
        server.enqueue(
            "/api/embed",
            .json(
                #"{"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862,0.05007221],[0.5,0.5,0.5]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#
            ))
        let vectors = try await provider.embed(["one", "two"])
        #expect(vectors.count == 2)
        #expect(vectors[0] == [0.010071029, -0.0017594862, 0.05007221])
        #expect(try server.lastBody()["input"] as? [String] == ["one", "two"])

        server.enqueue(
            "/api/tags",
            .json(
                #"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","size":2019393189,"details":{"family":"llama"}}]}"#
            ))
        #expect(try await provider.installedModels() == ["llama3.2:latest"])

        server.enqueue(
            "/api/show",
            .json(
                ##"{"modelfile":"# Modelfile","parameters":"","template":"{{ .Prompt }}","details":{"family":"llama"},"model_info":{"general.architecture":"llama","llama.context_length":131072},"capabilities":["completion","tools"],"modified_at":"2025-01-01T00:00:00Z"}"##
            ))
        let info = try await provider.modelInfo()
        #expect(info.supportsTools)
        #expect(info.contextLength == 131072)

        server.enqueue("/api/show", .json(status: 404, #"{"error":"model 'x' not found"}"#))
        let error = await #expect(throws: ModelError.self) { _ = try await provider.modelInfo("x") }
        #expect(error?.code == .modelNotFound)
    }
}

@Suite struct MixedTurnTests {
    /// Gotcha 3: text and calls may come in one turn; both are kept. llama.cpp's extra
    /// `timings` object and a null first delta are tolerated.
    @Test func textAndCallsInOneTurn() async throws {
        let server = try ScriptedModelServer()
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"Let me check.","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Bergen"}}}]},"done":false}"#,
                #"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}"#,
            ]))
        let ollama = try await OllamaProvider(baseURL: server.baseURL, model: "m").complete(
            ModelRequest(messages: [.user("?")], tools: [weatherTool]))
        #expect(ollama.text == "Let me check.")
        #expect(ollama.toolCalls.map(\.name) == ["get_weather"])

        server.enqueue(
            "/v1/chat/completions",
            .sse([
                #"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
                #"{"choices":[{"index":0,"delta":{"content":"Checking."}}]}"#,
                #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"get_weather","arguments":"{}"}}]}}]}"#,
                #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8},"timings":{"prompt_n":5,"predicted_n":3}}"#,
            ]))
        let compatible = try await OpenAIChatProvider(
            baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", quirks: .llamaCpp
        ).complete(ModelRequest(messages: [.user("?")], tools: [weatherTool]))
        #expect(compatible.text == "Checking.")
        #expect(compatible.toolCalls.map(\.id) == ["c"])
        #expect(compatible.usage?.totalTokens == 8)
    }
}
