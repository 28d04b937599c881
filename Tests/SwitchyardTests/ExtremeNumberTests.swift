import Curl
import Foundation
import Providers
import Switchyard
import SwitchyardTesting
import Testing

/// Every number a server, a spec or a file sends is checked into the type it becomes: fed
/// the extremes and a few hundred random magnitudes in every place a decoder reads a number,
/// Switchyard answers or gives its own error — it never traps (a trap kills this process, and
/// the suite with it).
@Suite struct ExtremeNumberTests {
    /// JSON numbers at and past every edge: signs, fractions, the integer and floating-point
    /// limits, what overflows a Double, and random magnitudes from 1e-300 to 1e300.
    static let numbers: [String] = {
        var texts = [
            "0", "-0", "1", "-1", "0.5", "3.7", "-3.7", "1e30", "-1e30", "1e308", "-1e308", "1e400", "-1e400",
            "1e-300", "4294967296", "9007199254740993", "9223372036854775807", "9223372036854775808",
            "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890",
        ]
        var random = SeededRandom(seed: 2026)
        for _ in 0..<30 {
            let mantissa = Double(random.next() % 100_000) / 1_000 * (random.next() % 2 == 0 ? 1 : -1)
            texts.append("\(mantissa)e\(Int(random.next() % 601) - 300)")
        }
        return texts
    }()

    let server: ScriptedModelServer

    init() throws { server = try ScriptedModelServer() }

    /// What a call may end in: an answer whose counts are counts, or Switchyard's own error.
    func survives(_ what: String, _ call: () async throws -> ModelResponse?) async {
        do {
            if let usage = try await call()?.usage {
                #expect(usage.inputTokens >= 0 && usage.outputTokens >= 0, "\(what)")
            }
        } catch is ModelError {
        } catch {
            Issue.record("\(what): \(type(of: error)) \(error)")
        }
    }

    @Test func chatCompletionsStreamedAndNot() async throws {
        let chat = OpenAIChatProvider(
            baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", quirks: CompatibilityQuirks(streams: false),
            retry: .never)
        let streamed = OpenAIChatProvider(baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", retry: .never)
        let request = ModelRequest(messages: [.user("hi")], tools: [weatherTool])
        for n in Self.numbers {
            server.enqueue(
                "/v1/chat/completions",
                .json(
                    #"{"id":"c","object":"chat.completion","created":\#(n),"model":"m","choices":[{"index":\#(n),"message":{"role":"assistant","content":"ok","tool_calls":[{"index":\#(n),"id":"t","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\#(n)}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":\#(n),"completion_tokens":\#(n),"total_tokens":\#(n)}}"#
                ))
            await survives("chat \(n)") { try await chat.complete(request) }
            server.enqueue(
                "/v1/chat/completions",
                .sse([
                    #"{"id":"c","object":"chat.completion.chunk","created":\#(n),"choices":[{"index":\#(n),"delta":{"role":"assistant","tool_calls":[{"index":\#(n),"id":"t","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},"finish_reason":null}]}"#,
                    #"{"id":"c","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"tool_calls":[{"index":\#(n),"function":{"arguments":""}}]},"finish_reason":"tool_calls"}]}"#,
                    #"{"id":"c","object":"chat.completion.chunk","created":1,"choices":[],"usage":{"prompt_tokens":\#(n),"completion_tokens":\#(n),"total_tokens":1}}"#,
                ]))
            await survives("chat stream \(n)") { try await streamed.complete(request) }
        }
    }

    @Test func responsesStream() async throws {
        let provider = OpenAIResponsesProvider(baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", retry: .never)
        for n in Self.numbers {
            server.enqueue(
                "/v1/responses",
                .namedEvents([
                    (
                        "response.output_text.delta",
                        #"{"type":"response.output_text.delta","item_id":"m","output_index":\#(n),"content_index":\#(n),"delta":"Hi","sequence_number":\#(n)}"#
                    ),
                    (
                        "response.output_item.done",
                        #"{"type":"response.output_item.done","output_index":\#(n),"item":{"type":"function_call","id":"f","call_id":"c","name":"get_weather","arguments":"{}"}}"#
                    ),
                    (
                        "response.completed",
                        #"{"type":"response.completed","response":{"id":"r","status":"completed","usage":{"input_tokens":\#(n),"output_tokens":\#(n),"output_tokens_details":{"reasoning_tokens":\#(n)},"total_tokens":\#(n)}}}"#
                    ),
                ]))
            await survives("responses \(n)") {
                try await provider.complete(ModelRequest(messages: [.user("hi")], tools: [weatherTool]))
            }
        }
    }

    @Test func ollamaChatAndEmbeddings() async throws {
        let provider = OllamaProvider(baseURL: server.baseURL, model: "llama3.2", retry: .never)
        for n in Self.numbers {
            server.enqueue(
                "/api/chat",
                .ndjson([
                    #"{"message":{"role":"assistant","content":"a","tool_calls":[{"function":{"index":\#(n),"name":"get_weather","arguments":{"city":\#(n)}}}]},"done":false}"#,
                    #"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":\#(n),"load_duration":\#(n),"prompt_eval_count":\#(n),"prompt_eval_duration":\#(n),"eval_count":\#(n),"eval_duration":\#(n)}"#,
                ]))
            await survives("ollama \(n)") {
                try await provider.complete(ModelRequest(messages: [.user("hi")], tools: [weatherTool]))
            }
            server.enqueue("/api/embed", .json(#"{"model":"m","embeddings":[[\#(n),1]],"prompt_eval_count":\#(n)}"#))
            await survives("ollama embed \(n)") {
                _ = try await provider.embed(["x"])
                return nil
            }
            server.enqueue("/api/ps", .json(#"{"models":[{"name":"llama3.2","context_length":\#(n)}]}"#))
            if let window = await provider.contextWindow() {
                #expect(window.tokens > 0 && window.tokens <= ContextWindow.largest, "ps \(n)")
            }
        }
    }

    @Test func openAIEmbeddings() async throws {
        let provider = OpenAIEmbeddingProvider(baseURL: server.baseURL + "/v1", apiKey: nil, model: "e", retry: .never)
        for n in Self.numbers {
            server.enqueue(
                "/v1/embeddings",
                .json(
                    #"{"object":"list","data":[{"object":"embedding","index":\#(n),"embedding":[\#(n),0.5]}],"model":"e","usage":{"prompt_tokens":\#(n),"total_tokens":\#(n)}}"#
                ))
            await survives("embeddings \(n)") {
                _ = try await provider.embed(["x"])
                return nil
            }
        }
    }

    /// Error bodies and `Retry-After`: the error is read and a delay past any sane bound is
    /// clamped, not converted into a trap (the sleep is recorded, not slept).
    @Test func errorsAndRetryHeaders() async throws {
        let delays = Shared<[Duration]>([])
        let retry = RetryPolicy(maxRetries: 1, jitter: { 0 }, sleep: { delay in delays.update { $0.append(delay) } })
        let provider = OpenAIChatProvider(
            baseURL: server.baseURL + "/v1", apiKey: nil, model: "m", quirks: CompatibilityQuirks(streams: false),
            retry: retry)
        for n in Self.numbers {
            // A retry, when there is one, gets the server's unscripted 500.
            server.enqueue(
                "/v1/chat/completions",
                .json(status: 429, headers: [("Retry-After", n)], #"{"error":{"code":\#(n),"message":"slow down"}}"#))
            await survives("429 \(n)") { try await provider.complete(ModelRequest(messages: [.user("hi")])) }
            server.enqueue("/v1/chat/completions", .json(status: 400, #"{"error":{"code":\#(n),"message":"no"}}"#))
            await survives("400 \(n)") { try await provider.complete(ModelRequest(messages: [.user("hi")])) }
        }
        // A wait the server asks for is taken up to two minutes; a longer one is not waited
        // for (the error is final), and what is no number of seconds gets the backoff.
        let waited = Self.numbers.filter { text in
            guard let seconds = Double(text), seconds.isFinite else { return true }
            return seconds * 1000 <= 120_000
        }
        #expect(delays.value.count == waited.count)
        for delay in delays.value {
            #expect(delay >= .zero && delay <= .seconds(3600), "\(delay)")
        }
    }

    /// A spec's and a profile's numbers: an error at the line, never a trap.
    @Test func specsAndProfiles() throws {
        let settings = [
            "budgets: { steps: N }", "budgets: { tokens: N }", "budgets: { wall_seconds: N }",
            "budgets: { cost_usd: N }", "triage: { components: [a], labels: [b], escalate_below: N }",
            "triage: { components: [a], labels: [b], duplicate_candidates: N }",
            "triage: { components: [a], labels: [b], duplicate_min_score: N }",
            "routing: { rules: [{ min_context_tokens: N, use: local }] }",
            "routing: { rules: [{ max_cost_usd: N, use: local }] }",
        ]
        let profiles = [
            "context_window: N", "price: { input: N, output: 1 }", "options: { num_ctx: N }",
        ]
        for n in Self.numbers {
            for line in settings {
                let text =
                    "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\n\(line.replacingOccurrences(of: "N", with: n))\n---\nHi\n"
                do {
                    _ = try AgentSpec(text: text, file: "agents/helper.md", hash: "h")
                } catch {
                    #expect(!"\(error)".contains("\n"), "\(line) \(n)")
                }
            }
            for line in profiles {
                let text =
                    "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m, \(line.replacingOccurrences(of: "N", with: n)) }\n---\nHi\n"
                do {
                    let spec = try AgentSpec(text: text, file: "agents/helper.md", hash: "h")
                    let profile = try ModelProfile.named("local", in: spec.settings, environment: [:])
                    if let window = profile.contextWindow {
                        #expect(window.tokens > 0 && window.tokens <= ContextWindow.largest, "\(line) \(n)")
                    }
                    _ = profile.price.map { $0.cost(of: Usage(inputTokens: 1_000, outputTokens: 1_000)) }
                } catch {
                    #expect(!"\(error)".contains("\n"), "\(line) \(n)")
                }
            }
        }
    }
}
