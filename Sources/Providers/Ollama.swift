public import Curl
import Foundation
public import Switchyard

/// Ollama's native API: `/api/chat` streamed as NDJSON, `/api/embed`, `/api/tags`, `/api/show`.
public struct OllamaProvider: ModelProvider, EmbeddingProvider {
    public var endpoint: ProviderEndpoint
    public var model: String
    /// Sent as `options` on every request. Keep `num_ctx` constant per model: a
    /// different value reloads the model.
    public var options: [String: JSONValue]
    /// How long the server keeps the model loaded after a request (`"5m"`, `"24h"`).
    public var keepAlive: String?
    /// Turn tool calls written as text into calls (off by default).
    public var parsesToolCallsInText: Bool

    public init(
        baseURL: String = Endpoints.defaultOllama, model: String, options: [String: JSONValue] = [:],
        keepAlive: String? = nil, parsesToolCallsInText: Bool = false, client: HTTPClient = .shared,
        retry: RetryPolicy = .default, apiKey: String? = nil
    ) {
        self.endpoint = ProviderEndpoint(
            provider: "ollama", baseURL: baseURL, headers: .bearer(apiKey), client: client, retry: retry)
        self.model = model
        self.options = options
        self.keepAlive = keepAlive
        self.parsesToolCallsInText = parsesToolCallsInText
    }

    // MARK: Chat

    /// The `/api/chat` body for `request`.
    public func chatBody(_ request: ModelRequest) -> JSONValue { wire(request).body }

    /// The `/api/chat` body for `request` but its messages.
    func chatMembers(_ request: ModelRequest) -> [String: JSONValue] {
        var body: [String: JSONValue] = [
            "model": .string(model),
            "stream": true,
            "think": .bool(request.reasoning),
            // A prompt longer than the window is an error, not silently cut from the front.
            "truncate": false,
        ]
        let tools = Self.offeredTools(request)
        if !tools.isEmpty {
            body["tools"] = .array(tools.map(\.functionWire))
        }
        if case .jsonSchema(_, let schema) = request.responseFormat { body["format"] = schema }
        var options = self.options
        if let temperature = request.temperature { options["temperature"] = .number(temperature) }
        if let seed = request.seed { options["seed"] = .number(Double(seed)) }
        if let limit = request.maxOutputTokens { options["num_predict"] = .number(Double(limit)) }
        if !request.stop.isEmpty { options["stop"] = .array(request.stop.map(JSONValue.string)) }
        if !options.isEmpty { body["options"] = .object(options) }
        if let keepAlive { body["keep_alive"] = .string(keepAlive) }
        return body
    }

    /// Ollama has no `tool_choice`: `none` offers no tools, a named tool offers only that one.
    static func offeredTools(_ request: ModelRequest) -> [ToolSpec] {
        switch request.toolChoice {
        case .none: []
        case .tool(let name): request.tools.filter { $0.name == name }
        case .auto, .required: request.tools
        }
    }

    static func wireMessage(_ message: ChatMessage) -> JSONValue {
        var wire: [String: JSONValue] = ["role": .string(message.role.rawValue), "content": .string(message.content)]
        if !message.toolCalls.isEmpty {
            wire["tool_calls"] = .array(
                message.toolCalls.enumerated().map { index, call in
                    // Ollama wants arguments as an object, never as a string.
                    let arguments = (try? JSONValue(parsing: call.arguments)) ?? .object([:])
                    return [
                        "type": "function",
                        "function": [
                            "index": .number(Double(index)), "name": .string(call.name), "arguments": arguments,
                        ],
                    ]
                })
        }
        if message.role == .tool {
            if let name = message.toolName { wire["tool_name"] = .string(name) }
            if let id = message.toolCallID { wire["tool_call_id"] = .string(id) }
        }
        return .object(wire)
    }

    public func wire(_ request: ModelRequest) -> WireRequest {
        endpoint.wire(
            "/api/chat", body: chatMembers(request), key: "messages",
            messages: request.messages.map { $0.sent(as: .ollama) { [Self.wireMessage($0)] } })
    }

    /// The window the server runs the model with, when it is loaded (`GET /api/ps`), else
    /// the one it was trained with (`POST /api/show`), which the server may run shorter: a
    /// request is sent with `truncate: false`, so a longer one is an error, not cut.
    public func contextWindow() async -> ContextWindow? {
        let ps = endpoint.baseURL + "/api/ps"
        let loaded = await endpoint.ask(ps)?["models"]?.arrayValue?.first {
            $0["name"]?.stringValue == model || $0["model"]?.stringValue == model
        }
        if let window = ContextWindow(asked: loaded?["context_length"]?.intValue, of: ps) { return window }
        let show = endpoint.baseURL + "/api/show"
        guard let reply = await endpoint.ask(show, body: ["model": .string(model)]) else { return nil }
        return ContextWindow(asked: OllamaModelInfo(show: reply).contextLength, of: show)
    }

    public func stream(_ request: ModelRequest) -> ModelEventStream {
        stream(request, sending: wire(request))
    }

    public func stream(_ request: ModelRequest, sending wire: WireRequest) -> ModelEventStream {
        let offered = Self.offeredTools(request)
        let holdsText = parsesToolCallsInText && !offered.isEmpty
        return ModelEventStream { [endpoint] batch in
            try await endpoint.post(wire) { response, delivered in
                var decoder = OllamaChatDecoder(
                    holdsText: holdsText, offered: offered, estimatedPromptTokens: { request.estimatedInputTokens })
                var lines = response.body.lines.makeAsyncIterator()
                while let line = try await lines.next(beforeWaiting: { batch.flush() }) {
                    guard !line.allSatisfy(Self.isSpace) else { continue }
                    let events = try decoder.decode(line: line, provider: endpoint.provider)
                    if !events.isEmpty { delivered() }
                    batch.append(contentsOf: events)
                }
                batch.append(contentsOf: try decoder.finish(provider: endpoint.provider))
            }
        }
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 13 }

    // MARK: Embeddings and models

    public func embed(_ inputs: [String]) async throws -> [[Float]] {
        struct Reply: Decodable { var embeddings: [[Float]] }
        var body: [String: JSONValue] = ["model": .string(model), "input": .array(inputs.map(JSONValue.string))]
        if let keepAlive { body["keep_alive"] = .string(keepAlive) }
        let reply = try await endpoint.postJSON("/api/embed", body: .object(body), as: Reply.self)
        guard reply.embeddings.count == inputs.count else {
            throw ModelError(
                code: .malformedResponse,
                message: "asked for \(inputs.count) embeddings, got \(reply.embeddings.count)",
                provider: endpoint.provider)
        }
        return reply.embeddings
    }

    /// The models the server has (`GET /api/tags`).
    public func installedModels() async throws -> [String] {
        struct Reply: Decodable {
            struct Model: Decodable { var name: String }
            var models: [Model]
        }
        return try await endpoint.getJSON("/api/tags", as: Reply.self).models.map(\.name)
    }

    /// What a model can do (`POST /api/show`): the router needs tools and context length.
    public func modelInfo(_ name: String? = nil) async throws -> OllamaModelInfo {
        OllamaModelInfo(
            show: try await endpoint.postJSON("/api/show", body: ["model": .string(name ?? model)], as: JSONValue.self))
    }
}

public struct OllamaModelInfo: Sendable, Hashable {
    /// `completion`, `tools`, `thinking`, `embedding`, `vision`, …
    public var capabilities: Set<String>
    /// The model's trained context window (`<arch>.context_length`).
    public var contextLength: Int?

    public var supportsTools: Bool { capabilities.contains("tools") }

    /// What an answer of `POST /api/show` says.
    init(show reply: JSONValue) {
        capabilities = Set(reply["capabilities"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        contextLength = reply["model_info"]?.objectValue?.first { $0.key.hasSuffix(".context_length") }?.value
            .intValue.flatMap { $0 > 0 ? $0 : nil }
    }
}

/// Turns `/api/chat` NDJSON lines into model events.
struct OllamaChatDecoder {
    let holdsText: Bool
    let offered: [ToolSpec]
    private var sawToolCall = false
    private var sawDone = false
    private var heldText = ""
    private var callCount = 0

    /// What the request was estimated to take (`ModelRequest.estimatedInputTokens`), worked
    /// out only if the server says how much it read.
    let estimatedPromptTokens: (() -> Int)?

    init(holdsText: Bool, offered: [ToolSpec], estimatedPromptTokens: (() -> Int)? = nil) {
        self.holdsText = holdsText
        self.offered = offered
        self.estimatedPromptTokens = estimatedPromptTokens
    }

    /// Whether a server that says it read `read` tokens of a prompt estimated at `estimated`
    /// cut it. An Ollama that truncates (one that ignores `truncate: false`) keeps at most its
    /// window, often half of it, and for text and code a tokenizer counts no fewer than two
    /// thirds of the estimate: reading less than half of a prompt of some size is a cut. A
    /// count of 0 is a prompt served from the cache (as some versions report it), not a cut.
    static func wasTruncated(read: Int, estimated: Int) -> Bool {
        read > 0 && estimated >= 1024 && read * 2 < estimated
    }

    mutating func decode(line: ArraySlice<UInt8>, provider: String) throws -> [ModelEvent] {
        let chunk: JSONValue
        do {
            chunk = try JSONValue(parsing: line)
        } catch {
            throw ModelError(
                code: .malformedResponse,
                message: "not an Ollama chat chunk (\(error)): \(String(decoding: line.prefix(200), as: UTF8.self))",
                provider: provider)
        }
        if let wire = WireError(document: chunk) { throw ModelError.inStream(wire, provider: provider) }
        let message = chunk["message"]
        var events: [ModelEvent] = []
        if let thinking = message?["thinking"]?.stringValue, !thinking.isEmpty {
            events.append(.reasoningDelta(thinking))
        }
        if let content = message?["content"]?.stringValue, !content.isEmpty {
            if holdsText { heldText += content } else { events.append(.textDelta(content)) }
        }
        // Tool calls can come in any chunk, the `done` one included.
        for call in message?["tool_calls"]?.arrayValue ?? [] {
            guard let function = call["function"], let name = function["name"]?.stringValue, !name.isEmpty else {
                continue
            }
            sawToolCall = true
            events.append(
                .toolCall(
                    ToolCall(
                        id: call["id"]?.stringValue ?? "call_\(callCount)", name: name,
                        arguments: Self.arguments(function["arguments"], name: name))))
            callCount += 1
        }
        if chunk["done"]?.boolValue == true {
            sawDone = true
            if holdsText, !heldText.isEmpty {
                if !sawToolCall, let calls = TextToolCalls.parse(heldText, offered: offered) {
                    sawToolCall = true
                    events += calls.map(ModelEvent.toolCall)
                } else {
                    events.append(.textDelta(heldText))
                }
                heldText = ""
            }
            let input = chunk["prompt_eval_count"]?.intValue
            if let input, let estimated = estimatedPromptTokens?(), Self.wasTruncated(read: input, estimated: estimated)
            {
                throw ModelError(
                    code: .contextTooLong,
                    message:
                        "the server read \(input) tokens of a prompt of about \(estimated): it dropped the rest to fit the model's context window; raise options.num_ctx or send less",
                    provider: provider, isRetryable: false)
            }
            let output = chunk["eval_count"]?.intValue
            if input != nil || output != nil {
                events.append(.usage(Usage(inputTokens: input ?? 0, outputTokens: output ?? 0)))
            }
            // The native API ends a tool-calling turn with "stop".
            events.append(
                .finish(sawToolCall ? .toolCalls : FinishReason(wire: chunk["done_reason"]?.stringValue ?? "stop")))
        }
        return events
    }

    func finish(provider: String) throws -> [ModelEvent] {
        guard sawDone else {
            throw ModelError(
                code: .malformedResponse, message: "the stream ended before its final chunk (done: true)",
                provider: provider)
        }
        return []
    }

    /// Arguments as JSON text: an object as it came, a doubly encoded string decoded once,
    /// and a `{"name": …, "arguments": {…}}` wrapper around them unwrapped.
    static func arguments(_ value: JSONValue?, name: String) -> String {
        switch value {
        case nil, .null?: return "{}"
        case .string(let text)?:
            if let inner = try? JSONValue(parsing: text) { return arguments(inner, name: name) }
            return text
        case .object(let object)? where object.count == 2 && object["name"]?.stringValue == name:
            if let inner = object["arguments"] { return arguments(inner, name: name) }
            return JSONValue.object(object).canonicalText
        case let other?:
            return other.canonicalText
        }
    }
}
