import Curl
import Foundation
import Providers
public import Switchyard

/// One scripted answer: a status, header fields, and body parts written one by one
/// (chunked), so a test controls exactly where the client's reads end.
public struct ScriptedReply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var parts: [String]
    /// Drop the connection after the parts instead of ending the body properly.
    public var dropsConnection: Bool
    /// A pause between parts.
    public var pause: Duration

    public init(
        status: Int = 200, headers: [(String, String)] = [], parts: [String], dropsConnection: Bool = false,
        pause: Duration = .zero
    ) {
        self.status = status
        self.headers = headers
        self.parts = parts
        self.dropsConnection = dropsConnection
        self.pause = pause
    }

    /// Ollama's NDJSON: one JSON object per line.
    public static func ndjson(_ lines: [String], dropsConnection: Bool = false) -> ScriptedReply {
        ScriptedReply(
            headers: [("Content-Type", "application/x-ndjson")], parts: lines.map { $0 + "\n" },
            dropsConnection: dropsConnection)
    }

    /// OpenAI's SSE: each record becomes `data: …` and a blank line; `[DONE]` last unless `done` is false.
    public static func sse(_ records: [String], done: Bool = true, dropsConnection: Bool = false) -> ScriptedReply {
        var parts = records.map { "data: \($0)\n\n" }
        if done { parts.append("data: [DONE]\n\n") }
        return ScriptedReply(
            headers: [("Content-Type", "text/event-stream")], parts: parts, dropsConnection: dropsConnection)
    }

    /// Server-sent events with `event:` names, as the Responses API sends them.
    public static func namedEvents(_ events: [(String, String)]) -> ScriptedReply {
        ScriptedReply(
            headers: [("Content-Type", "text/event-stream")], parts: events.map { "event: \($0.0)\ndata: \($0.1)\n\n" })
    }

    public static func json(status: Int = 200, headers: [(String, String)] = [], _ body: String) -> ScriptedReply {
        ScriptedReply(status: status, headers: [("Content-Type", "application/json")] + headers, parts: [body])
    }

    /// A non-streamed OpenAI chat completion that calls tools: `(name, arguments)` pairs.
    public static func openAIToolCalls(_ calls: [(String, JSONValue)], id: Int, promptTokens: Int = 100)
        -> ScriptedReply
    {
        let items = calls.enumerated().map { index, call in
            let arguments = JSONValue.string(call.1.canonicalText).canonicalText
            return
                #"{"id":"call_\#(id)_\#(index)","type":"function","function":{"name":"\#(call.0)","arguments":\#(arguments)}}"#
        }.joined(separator: ",")
        return .json(
            #"{"id":"chatcmpl-\#(id)","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[\#(items)]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":\#(promptTokens),"completion_tokens":20,"total_tokens":\#(promptTokens + 20)}}"#
        )
    }

    /// A planner's answer: one call of the orchestrator's `plan` tool.
    public static func openAIPlan(_ plan: JSONValue, id: Int) -> ScriptedReply {
        openAIToolCalls([("plan", plan)], id: id)
    }

    /// A non-streamed OpenAI chat completion that answers with text.
    public static func openAIText(_ text: String) -> ScriptedReply {
        .json(
            #"{"id":"chatcmpl-t","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":\#(JSONValue.string(text).canonicalText)},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":10,"total_tokens":60}}"#
        )
    }
}

/// A loopback server that answers each path with scripted replies, in order, and
/// records what it was sent: the fake for servers that cannot run here (Ollama, the
/// OpenAI cloud), speaking their exact wire format through the real HTTP stack.
public final class ScriptedModelServer: Sendable {
    private let server: LoopbackHTTPServer
    private struct State {
        var queues: [String: [ScriptedReply]] = [:]
        var requests: [LoopbackHTTPServer.Request] = []
    }
    private let state: Shared<State>

    public init() throws {
        let state = Shared(State())
        self.state = state
        server = try LoopbackHTTPServer { request, response in
            let reply: ScriptedReply? = state.update { state in
                state.requests.append(request)
                guard var queue = state.queues[request.path], !queue.isEmpty else { return nil }
                let reply = queue.removeFirst()
                state.queues[request.path] = queue
                return reply
            }
            guard let reply else {
                return response.respond(status: 500, text: "{\"error\":\"no scripted reply for \(request.path)\"}")
            }
            if reply.parts.count == 1, !reply.dropsConnection {
                return response.respond(status: reply.status, headers: reply.headers, text: reply.parts[0])
            }
            response.writeHead(status: reply.status, headers: reply.headers, contentLength: nil)
            for part in reply.parts {
                if reply.pause > .zero {
                    let (seconds, attoseconds) = reply.pause.components
                    Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
                }
                response.write(part)
            }
            if reply.dropsConnection { response.abort() } else { response.end() }
        }
    }

    public var baseURL: String { server.baseURL }

    /// Queues `reply` as the next answer to requests for `path`.
    public func enqueue(_ path: String, _ reply: ScriptedReply) {
        state.update { $0.queues[path, default: []].append(reply) }
    }

    /// Every request received so far, in order.
    public var requests: [LoopbackHTTPServer.Request] { state.value.requests }

    /// The JSON body of the last request, parsed.
    public func lastBody() throws -> [String: Any] {
        guard let request = requests.last,
            let object = try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any]
        else { throw ServerError(description: "no JSON request body recorded") }
        return object
    }
}

extension ProfileBinding {
    /// A profile answered by a scripted OpenAI-format server at `baseURL` (its `/v1`), without
    /// streaming or retries; `destination` is what the guard and `audit` see.
    public static func scripted(
        _ name: String, baseURL: String, clearance: Confidentiality, destination: String? = nil,
        price: ModelProfile.Price? = nil
    ) -> ProfileBinding {
        ProfileBinding(
            name: name,
            provider: OpenAIChatProvider(
                baseURL: baseURL + "/v1", apiKey: "sk-test", model: name, quirks: CompatibilityQuirks(streams: false),
                retry: .never),
            clearance: clearance, destination: destination ?? baseURL, price: price)
    }
}

/// An agent planned by a `cloud` profile (OpenAI's format, at a scripted server) whose model
/// steps go to a `local` one, with `tools` (YAML lines under `tools:`) and `rest` (more
/// front matter, such as routing or privacy).
public func plannedAgent(
    _ name: String, local: ScriptedModelServer, cloud: ScriptedModelServer, tools: [String], rest: String = "",
    prompt: String
) -> String {
    """
    ---
    name: \(name)
    planner: cloud
    model: local
    profiles:
      local: { provider: openai-compatible, base_url: "\(local.baseURL)/v1", model: small, options: { stream: false } }
      cloud: { provider: openai, base_url: "\(cloud.baseURL)/v1", model: gpt-4.1-mini, options: { stream: false } }
    tools:
    \(tools.map { "  " + $0 }.joined(separator: "\n"))
    \(rest)
    ---
    \(prompt)
    """
}
