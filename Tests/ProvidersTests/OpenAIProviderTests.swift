import Curl
import Foundation
import Providers
import Switchyard
import SwitchyardTesting
import Testing

/// A Chat Completions chunk with one delta, in the shape of OpenAI's recorded streams.
func chunk(_ delta: String, finish: String? = nil) -> String {
    let reason = finish.map { "\"\($0)\"" } ?? "null"
    return
        #"{"id":"chatcmpl-ABfw8AOXnoa2kzy11vVTSjuQhHCQr","object":"chat.completion.chunk","created":1727346176,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7568d46099","choices":[{"index":0,"delta":"#
        + delta + #","logprobs":null,"finish_reason":"# + reason + "}]}"
}

let usageChunk =
    #"{"id":"chatcmpl-ABfw8AOXnoa2kzy11vVTSjuQhHCQr","object":"chat.completion.chunk","created":1727346176,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7568d46099","choices":[],"usage":{"prompt_tokens":76,"completion_tokens":24,"total_tokens":100,"completion_tokens_details":{"reasoning_tokens":0}}}"#

@Suite struct OpenAIChatProviderTests {
    let server: ScriptedModelServer
    let delays = Shared<[Duration]>([])

    init() throws { server = try ScriptedModelServer() }

    func provider(_ quirks: CompatibilityQuirks = .openAI) -> OpenAIChatProvider {
        OpenAIChatProvider(
            baseURL: server.baseURL + "/v1", apiKey: "sk-test", model: "gpt-4o", quirks: quirks,
            retry: recordingRetry(delays))
    }

    @Test func splitArgumentFragmentsAndTheUsageChunk() async throws {
        // The recorded stream of openai-python's fixture c6aa7e39, middle chunks spelled out.
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(
                    #"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_c91SqDXlYFuETYv8mUHzz6pp","type":"function","function":{"name":"GetWeatherArgs","arguments":""}}],"refusal":null}"#
                ),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\""}}]}"#),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"city"}}]}"#),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"\":\""}}]}"#),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"Edinburgh"}}]}"#),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"\"}"}}]}"#),
                chunk("{}", finish: "tool_calls"),
                usageChunk,
            ]))
        let tool = ToolSpec(name: "GetWeatherArgs", description: "weather", parameters: ["type": "object"])
        let response = try await provider().complete(ModelRequest(messages: [.user("weather?")], tools: [tool]))
        #expect(
            response.toolCalls == [
                ToolCall(
                    id: "call_c91SqDXlYFuETYv8mUHzz6pp", name: "GetWeatherArgs", arguments: #"{"city":"Edinburgh"}"#)
            ])
        #expect(response.finishReason == .toolCalls)
        #expect(response.usage == Usage(inputTokens: 76, outputTokens: 24, reasoningTokens: 0))
        #expect(response.text.isEmpty)

        let request = try #require(server.requests.last)
        #expect(request.header("authorization") == "Bearer sk-test")
        let body = try server.lastBody()
        #expect(body["stream"] as? Bool == true)
        #expect((body["stream_options"] as? [String: Bool]) == ["include_usage": true])
        #expect(body["tool_choice"] as? String == "auto")
        #expect(body["parallel_tool_calls"] == nil)
    }

    @Test func parallelCallsByIndex() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(#"{"role":"assistant","content":null}"#),
                chunk(
                    #"{"tool_calls":[{"index":0,"id":"call_JMW1","type":"function","function":{"name":"GetWeatherArgs","arguments":""}}]}"#
                ),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Oslo\"}"}}]}"#),
                chunk(
                    #"{"tool_calls":[{"index":1,"id":"call_DNYT","type":"function","function":{"name":"get_stock_price","arguments":""}}]}"#
                ),
                chunk(#"{"tool_calls":[{"index":1,"function":{"arguments":"{\"ticker\":"}}]}"#),
                chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":""}}]}"#),
                chunk(#"{"tool_calls":[{"index":1,"function":{"arguments":"\"AAPL\"}"}}]}"#),
                chunk("{}", finish: "tool_calls"),
            ]))
        let response = try await provider().complete(ModelRequest(messages: [.user("?")]))
        #expect(response.toolCalls.map(\.id) == ["call_JMW1", "call_DNYT"])
        #expect(response.toolCalls.map(\.arguments) == [#"{"city":"Oslo"}"#, #"{"ticker":"AAPL"}"#])
    }

    @Test func indexCollisionsOpenANewCallOnANewID() async throws {
        // Ollama's qwen3-coder parser: every call at index 0, finish_reason "stop".
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(
                    #"{"tool_calls":[{"id":"call_a","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"A\"}"}}]}"#
                ),
                chunk(
                    #"{"tool_calls":[{"id":"call_b","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"B\"}"}}]}"#
                ),
                chunk("{}", finish: "stop"),
            ]))
        let response = try await provider(.ollama).complete(ModelRequest(messages: [.user("?")]))
        #expect(response.toolCalls.map(\.id) == ["call_a", "call_b"])
        #expect(response.toolCalls.map(\.arguments) == [#"{"city":"A"}"#, #"{"city":"B"}"#])
        #expect(response.finishReason == .toolCalls)
    }

    @Test func deltasWithoutIndexContinueTheLastCall() async throws {
        // Gemini and some proxies omit `index`.
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(
                    #"{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"first","arguments":"{\"a\":"}}]}"#
                ),
                chunk(#"{"tool_calls":[{"function":{"arguments":"1}"}}]}"#),
                chunk(
                    #"{"tool_calls":[{"id":"call_2","type":"function","function":{"name":"second","arguments":"{}"}}]}"#
                ),
                chunk("{}", finish: "tool_calls"),
            ]))
        let response = try await provider().complete(ModelRequest(messages: [.user("?")]))
        #expect(
            response.toolCalls == [
                ToolCall(id: "call_1", name: "first", arguments: #"{"a":1}"#),
                ToolCall(id: "call_2", name: "second", arguments: "{}"),
            ])
    }

    @Test func repeatedNamesAreNotConcatenated() async throws {
        // Early llama.cpp repeated name and id in every delta.
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(
                    #"{"content":null,"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"add_two_numbers","arguments":"{\"a\":"}}]}"#
                ),
                chunk(
                    #"{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"add_two_numbers","arguments":"2}"}}]}"#
                ),
                chunk("{}", finish: "tool"),
            ]))
        let response = try await provider(.llamaCpp).complete(ModelRequest(messages: [.user("?")]))
        #expect(response.toolCalls == [ToolCall(id: "c1", name: "add_two_numbers", arguments: #"{"a":2}"#)])
        #expect(response.finishReason == .toolCalls)  // llama.cpp's old "tool"
    }

    @Test func textStreamsAndUsageMayBeMissing() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(#"{"role":"assistant","content":""}"#), chunk(#"{"content":"Hello"}"#),
                chunk(#"{"content":" there"}"#), chunk("{}", finish: "stop"),
            ]))
        var events: [ModelEvent] = []
        for try await event in provider().stream(ModelRequest(messages: [.user("hi")])) { events.append(event) }
        #expect(events == [.textDelta("Hello"), .textDelta(" there"), .finish(.stop)])
    }

    @Test func rateLimitHonoursRetryAfterAndRecordsTheLimits() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .json(
                status: 429,
                headers: [
                    ("retry-after", "2"), ("x-request-id", "req_1"), ("x-ratelimit-limit-requests", "60"),
                    ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "1s"),
                ],
                #"{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#
            ))
        server.enqueue("/v1/chat/completions", .sse([chunk(#"{"content":"ok"}"#), chunk("{}", finish: "stop")]))
        let response = try await provider().complete(ModelRequest(messages: [.user("hi")]))
        #expect(response.text == "ok")
        #expect(delays.value == [.seconds(2)])
    }

    /// Under a deadline, no retry waits past it: the call ends as `deadline-exceeded` without
    /// the wait the server asked for, and nothing more is sent.
    @Test func noRetryWaitsPastTheDeadline() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .json(
                status: 429, headers: [("retry-after", "2")],
                #"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#
            ))
        let error = await #expect(throws: ModelError.self) {
            try await ModelDeadline.$current.withValue(ContinuousClock.now + .seconds(1)) {
                _ = try await provider().complete(ModelRequest(messages: [.user("hi")]))
            }
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(error?.isRetryable == false)
        #expect(delays.value.isEmpty)
        #expect(server.requests.count == 1)
    }

    /// A stream that stalls after its head is ended at the deadline, not when the server
    /// goes on.
    @Test func aStalledStreamEndsAtTheDeadline() async throws {
        var reply = ScriptedReply.sse([chunk(#"{"content":"Hel"}"#), chunk(#"{"content":"lo"}"#)])
        reply.pause = .seconds(5)
        server.enqueue("/v1/chat/completions", reply)
        let seen = Shared<[ModelEvent]>([])
        let error = await #expect(throws: ModelError.self) {
            try await ModelDeadline.$current.withValue(ContinuousClock.now + .milliseconds(500)) {
                try await provider().stream(ModelRequest(messages: [.user("hi")])).forEach { event in
                    seen.update { $0.append(event) }
                }
            }
        }
        #expect(error?.code == .deadlineExceeded)
        #expect(seen.value.isEmpty)
    }

    @Test func insufficientQuotaIsNeverRetried() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .json(
                status: 429, headers: [("x-request-id", "req_quota")],
                #"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":null}}"#
            ))
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider().complete(ModelRequest(messages: [.user("hi")]))
        }
        #expect(error?.code == .quotaExhausted)
        #expect(error?.isRetryable == false)
        #expect(error?.requestID == "req_quota")
        #expect(server.requests.count == 1)
        #expect(delays.value.isEmpty)
    }

    @Test func serverErrorThenSuccess() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .json(
                status: 500,
                #"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#
            ))
        server.enqueue("/v1/chat/completions", .sse([chunk(#"{"content":"fine"}"#), chunk("{}", finish: "stop")]))
        let response = try await provider().complete(ModelRequest(messages: [.user("hi")]))
        #expect(response.text == "fine")
        #expect(server.requests.count == 2)
    }

    @Test func errorsMapToStableCodes() async throws {
        let cases: [(Int, String, ModelError.Code)] = [
            (
                401,
                #"{"error":{"message":"Incorrect API key provided: sk-VKMIs***...wjh3.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                .unauthorized
            ),
            (
                400,
                #"{"error":{"message":"This model's maximum context length is 16385 tokens. However, your messages resulted in 16468 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
                .contextTooLong
            ),
            (
                400,
                #"{"error":{"code":400,"message":"request (4170 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":4170,"n_ctx":4096}}"#,
                .contextTooLong
            ),
            // A code no integer can hold: kept as sent, no trap.
            (400, #"{"error":{"code":1e30,"message":"bad","type":"invalid_request_error"}}"#, .badRequest),
            (
                404,
                #"{"error":{"message":"The model `gpt-4-1106-preview` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
                .modelNotFound
            ),
            (
                400,
                #"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#,
                .badRequest
            ),
        ]
        for (status, body, code) in cases {
            server.enqueue("/v1/chat/completions", .json(status: status, body))
            let error = await #expect(throws: ModelError.self) {
                _ = try await provider().complete(ModelRequest(messages: [.user("hi")]))
            }
            #expect(error?.code == code, "\(status) \(body)")
            #expect(error?.status == status)
            #expect(error?.isRetryable == false)
        }
        #expect(server.requests.count == cases.count)
    }

    /// An error that is a proxy's HTML page, a bare text body or a server's whole traceback
    /// reads as one line: the page's title, the text, the traceback cut short; with the
    /// status and the request id.
    @Test func errorBodiesAreSummarisedOnOneLine() async throws {
        let page = """
            <!DOCTYPE html>
            <html>
            <head>
              <meta charset="utf-8">
              <title>502 Bad Gateway</title>
              <style>body { font-family: sans-serif; }</style>
            </head>
            <body>
              <h1>Bad Gateway</h1>
              <p>The proxy server received an invalid
              response from an upstream server.</p>
              <hr><address>nginx/1.25.3</address>
            </body>
            </html>
            """
        let traceback = (1...200).map { "  File \"/srv/app.py\", line \($0), in handler" }.joined(separator: "\n")
        let cases: [(Int, [(String, String)], String, String)] = [
            (502, [("Content-Type", "text/html")], page, "502 Bad Gateway"),
            (
                403, [("Content-Type", "text/html")], "<html><body><h1>Access\n denied</h1></body></html>",
                "Access denied"
            ),
            (500, [("Content-Type", "text/plain")], "upstream\nconnect error\n", "upstream connect error"),
            (
                500, [("Content-Type", "application/json")],
                JSONValue.object(["error": ["message": .string("Traceback:\n" + traceback)]]).canonicalText,
                "Traceback: File \"/srv/app.py\", line 1, in handler File"
            ),
        ]
        for (status, headers, body, summary) in cases {
            server.enqueue(
                "/v1/chat/completions",
                ScriptedReply(status: status, headers: headers + [("x-request-id", "req_42")], parts: [body]))
            let error = await #expect(throws: ModelError.self) {
                let once = OpenAIChatProvider(
                    baseURL: server.baseURL + "/v1", apiKey: "sk-test", model: "gpt-4o", retry: .never)
                _ = try await once.complete(ModelRequest(messages: [.user("hi")]))
            }
            let text = error.map(String.init(describing:)) ?? ""
            #expect(!text.contains("\n"), "\(text)")
            #expect(text.contains(summary), "\(text)")
            #expect(text.contains("(HTTP \(status))") && text.hasSuffix("request id req_42"), "\(text)")
            #expect((error?.message.count ?? .max) <= 301, "\(text)")
        }
    }

    @Test func aStreamCutBeforeDoneIsAnErrorAfterItsText() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .sse([chunk(#"{"content":"partial"}"#)], done: false))
        var text = ""
        let error = await #expect(throws: ModelError.self) {
            for try await event in provider().stream(ModelRequest(messages: [.user("hi")])) {
                if case .textDelta(let delta) = event { text += delta }
            }
        }
        #expect(text == "partial")
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("[DONE]") == true)
    }

    @Test func anErrorRecordInsideA200Stream() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(#"{"content":"a"}"#),
                #"{"error":{"message":"overloaded mid-stream","type":"server_error","param":null,"code":null}}"#,
            ]))
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider().complete(ModelRequest(messages: [.user("hi")]))
        }
        #expect(error?.message == "overloaded mid-stream")
    }

    @Test func malformedArgumentsAreAToolErrorNotACrash() async throws {
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(
                    #"{"tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Tok"}}]}"#
                ),
                chunk("{}", finish: "length"),
            ]))
        let response = try await provider().complete(ModelRequest(messages: [.user("?")], tools: [weatherTool]))
        #expect(response.finishReason == .length)
        let call = try #require(response.toolCalls.first)
        let error = #expect(throws: ModelError.self) { try call.parsedArguments() }
        #expect(error?.code == .malformedToolArguments)
        #expect(error?.message.contains("get_weather") == true)
    }

    @Test func requestShapeFollowsTheQuirks() async throws {
        let schema: JSONValue = ["type": "object", "properties": ["n": ["type": "integer"]]]
        let request = ModelRequest(
            messages: [.user("?")], tools: [weatherTool], toolChoice: .tool("get_weather"), maxOutputTokens: 50)
        #expect(provider(.openAI).body(request)["max_completion_tokens"] == 50)
        #expect(provider(.openAI).body(request)["max_tokens"] == nil)
        #expect(provider(.ollama).body(request)["max_tokens"] == 50)
        var nativeCalls = CompatibilityQuirks.llamaCpp
        nativeCalls.forcesToolsThroughSchema = false
        #expect(provider(nativeCalls).body(request)["parallel_tool_calls"] == true)
        #expect(
            provider(.openAI).body(request)["tool_choice"] == ["type": "function", "function": ["name": "get_weather"]])
        let structured = ModelRequest(
            messages: [.user("?")], responseFormat: .jsonSchema(name: "count", schema: schema))
        #expect(provider(.openAI).body(structured)["response_format"]?["type"] == "json_schema")
        #expect(provider(.openAI).body(structured)["response_format"]?["json_schema"]?["name"] == "count")
        #expect(provider(.llamaCppPython).body(structured)["response_format"] == nil)
        #expect(provider(.llamaCppPython).body(structured)["tool_choice"]?["function"]?["name"] == "respond")
        var objectQuirks = CompatibilityQuirks.llamaCppPython
        objectQuirks.structuredOutput = .jsonObjectWithSchema
        #expect(
            provider(objectQuirks).body(structured)["response_format"] == ["type": "json_object", "schema": schema])

        // History: arguments as a JSON string, null content beside calls, results by call id.
        let call = ToolCall(id: "call_9", name: "get_weather", arguments: #"{"city":"Oslo"}"#)
        let history = provider().body(
            ModelRequest(messages: [
                .user("?"), .assistant("", toolCalls: [call]), .toolResult(for: call, content: "cold"),
            ]))
        let messages = try #require(history["messages"]?.arrayValue)
        #expect(messages[1]["content"] == .null)
        #expect(messages[1]["tool_calls"]?.arrayValue?.first?["function"]?["arguments"] == #"{"city":"Oslo"}"#)
        #expect(messages[2]["tool_call_id"] == "call_9")
    }

    @Test func structuredOutputThroughAForcedTool() async throws {
        // llama-cpp-python is asked unstreamed (its streams carry no usage).
        server.enqueue(
            "/v1/chat/completions",
            .openAIToolCalls([("respond", ["n": 3])], id: 1))
        let schema: JSONValue = ["type": "object", "properties": ["n": ["type": "integer"]]]
        let response = try await provider(.llamaCppPython).complete(
            ModelRequest(messages: [.user("?")], responseFormat: .jsonSchema(name: "count", schema: schema)))
        #expect(try JSONValue(parsing: response.text) == ["n": 3])
        #expect(response.toolCalls.isEmpty)
        #expect(response.finishReason == .stop)
        #expect(response.usage?.inputTokens == 100)
        #expect(try server.lastBody()["stream"] == nil)
    }

    /// llama.cpp's server, as it streams a `json_schema` answer: text, then the usage chunk.
    func llamaCppAnswer(_ pieces: [String], finish: String = "stop") -> ScriptedReply {
        .sse(
            [chunk(#"{"role":"assistant","content":null}"#)]
                + pieces.map { chunk(#"{"content":"# + JSONValue.string($0).canonicalText + "}") }
                + [chunk("{}", finish: finish), usageChunk])
    }

    @Test func aForcedCallGoesOutAsTheToolsSchemaAndComesBackACall() async throws {
        server.enqueue("/v1/chat/completions", llamaCppAnswer([#"{"city": "#, #""Rome"}"#]))
        let response = try await provider(.llamaCpp).complete(
            ModelRequest(messages: [.user("?")], tools: [weatherTool], toolChoice: .tool("get_weather")))
        let body = try JSONValue(parsing: server.requests.last?.body ?? [])
        #expect(body["tools"] == nil && body["tool_choice"] == nil)
        #expect(body["response_format"]?["type"] == "json_schema")
        #expect(body["response_format"]?["json_schema"]?["name"] == "get_weather")
        #expect(body["response_format"]?["json_schema"]?["schema"] == weatherTool.parameters)
        #expect(response.toolCalls.map(\.name) == ["get_weather"])
        #expect(try response.toolCalls.first?.parsedArguments() == ["city": "Rome"])
        #expect(response.text.isEmpty)
        #expect(response.finishReason == .toolCalls)
        #expect(response.usage?.inputTokens == 76)
    }

    @Test func aRequiredCallAmongSeveralIsAskedAsOneOfThem() async throws {
        let search = ToolSpec(
            name: "search_code", description: "Search",
            parameters: ["type": "object", "properties": ["query": ["type": "string"]]])
        let request = ModelRequest(messages: [.user("?")], tools: [weatherTool, search], toolChoice: .required)
        server.enqueue(
            "/v1/chat/completions", llamaCppAnswer([#"{"name": "search_code", "arguments": {"query": "fetch"}}"#]))
        let response = try await provider(.llamaCpp).complete(request)
        let schema = try JSONValue(parsing: server.requests.last?.body ?? [])["response_format"]?["json_schema"]?[
            "schema"]
        let names = schema?["anyOf"]?.arrayValue?.compactMap { $0["properties"]?["name"]?["const"]?.stringValue }
        #expect(names == ["get_weather", "search_code"])
        #expect(schema?["anyOf"]?.arrayValue?.last?["properties"]?["arguments"] == search.parameters)
        #expect(response.toolCalls.map(\.name) == ["search_code"])
        #expect(try response.toolCalls.first?.parsedArguments() == ["query": "fetch"])

        // Cut short by the token limit: a call of the tool it named, with arguments that say so.
        server.enqueue(
            "/v1/chat/completions",
            llamaCppAnswer(["{\n  \"name\": \"get_weather\",\"arguments\": {\n    \"city\": \"Tok"], finish: "length"))
        let cut = try await provider(.llamaCpp).complete(request)
        #expect(cut.finishReason == .length)
        #expect(cut.toolCalls.map(\.name) == ["get_weather"])
        #expect(throws: ModelError.self) { try cut.toolCalls.first?.parsedArguments() }

        // A name nobody offered (a server that ignored the schema) is text, not a call.
        server.enqueue(
            "/v1/chat/completions", llamaCppAnswer([#"{"name": "rm_rf", "arguments": {}}"#]))
        let stray = try await provider(.llamaCpp).complete(request)
        #expect(stray.toolCalls.isEmpty)
        #expect(stray.text.contains("rm_rf"))
        #expect(stray.finishReason == .stop)
    }

    @Test func aChoiceThatForcesNothingOffersTheToolsAsTools() async throws {
        for choice in [ToolChoice.auto, .none, .tool("not_offered")] {
            let body = provider(.llamaCpp).body(
                ModelRequest(messages: [.user("?")], tools: [weatherTool], toolChoice: choice))
            #expect(body["tools"]?.arrayValue?.count == 1)
            #expect(body["response_format"] == nil)
        }
    }

    @Test func nonStreamedRepliesAreDecodedToo() async throws {
        // Verbatim from OpenAI's spec: arguments are a JSON string, here with newlines.
        server.enqueue(
            "/v1/chat/completions",
            .json(
                #"{"id":"chatcmpl-abc123","object":"chat.completion","created":1699896916,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_current_weather","arguments":"{\n\"location\": \"Boston, MA\"\n}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,"completion_tokens_details":{"reasoning_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#
            ))
        var quirks = CompatibilityQuirks.openAI
        quirks.streams = false
        let response = try await provider(quirks).complete(ModelRequest(messages: [.user("?")]))
        #expect(response.toolCalls.first?.id == "call_abc123")
        #expect(try response.toolCalls.first?.parsedArguments() == ["location": "Boston, MA"])
        #expect(response.usage?.inputTokens == 82)
        #expect(try server.lastBody()["stream"] == nil)
    }

    @Test func textToolCallFallbackOnCompatibleServers() async throws {
        var quirks = CompatibilityQuirks.vllm
        quirks.parsesToolCallsInText = true
        server.enqueue(
            "/v1/chat/completions",
            .sse([
                chunk(
                    #"{"content":"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\"}}\n</tool_call>"}"#
                ),
                chunk("{}", finish: "stop"),
            ]))
        let response = try await provider(quirks).complete(ModelRequest(messages: [.user("?")], tools: [weatherTool]))
        #expect(response.toolCalls.map(\.name) == ["get_weather"])
        #expect(response.finishReason == .toolCalls)
    }
}

@Suite struct OpenAIResponsesAndEmbeddingsTests {
    let server: ScriptedModelServer
    init() throws { server = try ScriptedModelServer() }

    @Test func responsesAPIFunctionCallsAndUsage() async throws {
        server.enqueue(
            "/v1/responses",
            .namedEvents([
                ("response.created", #"{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}"#),
                (
                    "response.output_item.added",
                    #"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_unLAR8MvFNptuiZK6K6HCy5k","name":"get_current_weather","arguments":""}}"#
                ),
                (
                    "response.function_call_arguments.delta",
                    #"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"location\":","sequence_number":3}"#
                ),
                (
                    "response.output_item.done",
                    #"{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_unLAR8MvFNptuiZK6K6HCy5k","name":"get_current_weather","arguments":"{\"location\":\"Boston, MA\",\"unit\":\"celsius\"}","status":"completed"}}"#
                ),
                (
                    "response.completed",
                    #"{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":291,"output_tokens":23,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":314}}}"#
                ),
            ]))
        let provider = OpenAIResponsesProvider(baseURL: server.baseURL + "/v1", apiKey: "sk-test", model: "gpt-5.4")
        let earlier = ToolCall(id: "call_prev", name: "get_current_weather", arguments: #"{"location":"Oslo"}"#)
        let response = try await provider.complete(
            ModelRequest(
                messages: [
                    .system("Be brief."), .user("weather?"), .assistant("", toolCalls: [earlier]),
                    .toolResult(for: earlier, content: "{\"temperature\":22}"),
                ], tools: [weatherTool]))
        #expect(response.toolCalls.first?.id == "call_unLAR8MvFNptuiZK6K6HCy5k")
        #expect(try response.toolCalls.first?.parsedArguments() == ["location": "Boston, MA", "unit": "celsius"])
        #expect(response.usage == Usage(inputTokens: 291, outputTokens: 23, reasoningTokens: 0))
        #expect(response.finishReason == .toolCalls)

        let body = try server.lastBody()
        #expect(body["instructions"] as? String == "Be brief.")
        #expect(body["store"] as? Bool == false)
        let tools = body["tools"] as? [[String: Any]]
        #expect(tools?.first?["name"] as? String == "get_weather")  // flat, no nested "function"
        let input = body["input"] as? [[String: Any]] ?? []
        #expect(
            input.map { $0["type"] as? String ?? "message" } == ["message", "function_call", "function_call_output"])
        #expect(input[2]["call_id"] as? String == "call_prev")
    }

    @Test func responsesAPIStreamWithoutCompletionIsAnError() async throws {
        server.enqueue(
            "/v1/responses",
            .namedEvents([
                (
                    "response.output_text.delta",
                    #"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
                )
            ]))
        let provider = OpenAIResponsesProvider(baseURL: server.baseURL + "/v1", apiKey: nil, model: "gpt-5.4")
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider.complete(ModelRequest(messages: [.user("hi")]))
        }
        #expect(error?.code == .malformedResponse)
    }

    @Test func embeddingsFlatAndPerToken() async throws {
        server.enqueue(
            "/v1/embeddings",
            .json(
                #"{"object":"list","data":[{"object":"embedding","embedding":[0.5,0.5],"index":1},{"object":"embedding","embedding":[0.0023064255,-0.009327292],"index":0}],"model":"text-embedding-ada-002","usage":{"prompt_tokens":8,"total_tokens":8}}"#
            ))
        let provider = OpenAIEmbeddingProvider(
            baseURL: server.baseURL + "/v1", apiKey: "k", model: "text-embedding-3-small")
        let vectors = try await provider.embed(["first", "second"])
        #expect(vectors == [[0.0023064255, -0.009327292], [0.5, 0.5]])  // ordered by index

        // llama-cpp-python with a model that does not pool: one vector per token.
        server.enqueue(
            "/v1/embeddings",
            .json(
                #"{"object":"list","data":[{"object":"embedding","embedding":[[1.0,0.0],[0.0,1.0],[1.0,1.0]],"index":0}],"model":"x"}"#
            ))
        let pooled = try await provider.embed(["tokens"])
        let expected = Float(2) / Float(8).squareRoot()  // mean (2/3, 2/3), normalised
        #expect(pooled.count == 1)
        #expect(abs(pooled[0][0] - expected) < 1e-6 && abs(pooled[0][1] - expected) < 1e-6)
    }
}

@Suite struct StreamLatencyTests {
    /// Each event reaches the consumer as soon as it is decoded: the server holds back
    /// the rest of the stream until the test has seen the first event.
    @Test(arguments: ["sse", "ndjson"])
    func eventsAreNotHeldBackWaitingForMore(format: String) async throws {
        let firstSeen = Shared(false)
        let serverGaveUp = Shared(false)
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, contentLength: nil)
            let second =
                "data: " + chunk(#"{"content":"second"}"#) + "\n\ndata: " + chunk("{}", finish: "stop")
                + "\n\ndata: [DONE]\n\n"
            if format == "sse" {
                response.write("data: " + chunk(#"{"content":"first"}"#) + "\n\n" + second.prefix(40))
            } else {
                response.write(#"{"message":{"role":"assistant","content":"first"},"done":false}"# + "\n" + #"{"mess"#)
            }
            let deadline = Date().addingTimeInterval(10)
            while !firstSeen.value {
                if Date() > deadline {
                    serverGaveUp.update { $0 = true }
                    break
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            if format == "sse" {
                response.write(String(second.dropFirst(40)))
            } else {
                response.write(#"age":{"role":"assistant","content":"second"},"done":true}"# + "\n")
            }
            response.end()
        }
        let provider: any ModelProvider =
            format == "sse"
            ? OpenAIChatProvider(baseURL: server.baseURL, apiKey: nil, model: "m")
            : OllamaProvider(baseURL: server.baseURL, model: "m")
        var texts: [String] = []
        for try await event in provider.stream(ModelRequest(messages: [.user("hi")])) {
            if case .textDelta(let text) = event {
                texts.append(text)
                firstSeen.update { $0 = true }
            }
        }
        #expect(texts == ["first", "second"])
        #expect(!serverGaveUp.value, "the first event waited for the rest of the stream")
    }

    /// A server that sends one endless line (no newline, 20 MB and counting) gets a clear
    /// error at the cap, from either decoder, not a buffer that grows until memory runs out.
    @Test(arguments: ["sse", "ndjson"])
    func oneHugeLineIsAMalformedResponse(format: String) async throws {
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, headers: [("Content-Type", "text/event-stream")], contentLength: nil)
            response.write(format == "sse" ? "data: {\"x\":\"" : "{\"x\":\"")
            let block = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
            for _ in 0..<20 where !response.isBroken { response.write(block) }
            response.end()
        }
        defer { server.stop() }
        let provider: any ModelProvider =
            format == "sse"
            ? OpenAIChatProvider(baseURL: server.baseURL, apiKey: nil, model: "m")
            : OllamaProvider(baseURL: server.baseURL, model: "m")
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider.complete(ModelRequest(messages: [.user("hi")]))
        }
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("longer than 16777216 bytes") == true, "\(String(describing: error))")
    }
}
