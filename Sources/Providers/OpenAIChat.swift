public import Curl
import Foundation
public import Switchyard

/// How an OpenAI-compatible server differs from OpenAI itself.
public struct CompatibilityQuirks: Sendable, Hashable {
    public enum StructuredOutput: String, Sendable, Hashable {
        /// `response_format: {"type": "json_schema", …}` (OpenAI, Ollama's /v1, vLLM).
        case jsonSchema = "json_schema"
        /// `response_format: {"type": "json_object", "schema": …}` (llama-cpp-python).
        case jsonObjectWithSchema = "json_object"
        /// Force a call of a tool whose parameters are the schema: works everywhere.
        case forcedTool = "tool"
    }

    public var structuredOutput: StructuredOutput
    /// Send `"parallel_tool_calls": true` when tools are offered (llama.cpp has them off by default).
    public var sendsParallelToolCalls: Bool
    /// `max_completion_tokens` (OpenAI) or `max_tokens` (everyone else; reasoning models reject it).
    public var usesMaxCompletionTokens: Bool
    /// Ask for `stream_options.include_usage`.
    public var requestsStreamUsage: Bool
    /// Stream on the wire (`"stream": true`); off for servers whose streaming breaks with tools.
    public var streams: Bool
    /// Turn tool calls written as text into calls, for models without a tool-call parser.
    public var parsesToolCallsInText: Bool
    /// Whether the server streams when tools are offered without forcing one
    /// (llama-cpp-python answers 200 and then fails: "Automatic streaming tool choice is
    /// not supported"). When false such requests go unstreamed.
    public var streamsWithOptionalTools: Bool
    /// Where the server says how long a request may be.
    public var contextWindowEndpoint: ContextWindowEndpoint?
    /// Ask a forced tool call (a named tool, or `required`) as structured output whose schema
    /// is the call, instead of `tool_choice`. llama.cpp's server offers tools only to models
    /// whose chat template renders them (SmolLM2's does not, and gets none), and even then
    /// lets a "required" call wait behind free text; its schema grammar admits nothing else.
    public var forcesToolsThroughSchema: Bool

    public enum ContextWindowEndpoint: Sendable, Hashable {
        /// llama.cpp's `GET /props`: `default_generation_settings.n_ctx`.
        case props
        /// vLLM's `GET /v1/models`: the model's `max_model_len`.
        case models
    }

    public init(
        structuredOutput: StructuredOutput = .jsonSchema, sendsParallelToolCalls: Bool = false,
        usesMaxCompletionTokens: Bool = false, requestsStreamUsage: Bool = true, streams: Bool = true,
        parsesToolCallsInText: Bool = false, streamsWithOptionalTools: Bool = true,
        contextWindowEndpoint: ContextWindowEndpoint? = nil, forcesToolsThroughSchema: Bool = false
    ) {
        self.contextWindowEndpoint = contextWindowEndpoint
        self.forcesToolsThroughSchema = forcesToolsThroughSchema
        self.structuredOutput = structuredOutput
        self.sendsParallelToolCalls = sendsParallelToolCalls
        self.usesMaxCompletionTokens = usesMaxCompletionTokens
        self.requestsStreamUsage = requestsStreamUsage
        self.streams = streams
        self.parsesToolCallsInText = parsesToolCallsInText
        self.streamsWithOptionalTools = streamsWithOptionalTools
    }

    public static let openAI = CompatibilityQuirks(usesMaxCompletionTokens: true)
    /// Ollama's `/v1`: ignores `max_completion_tokens` and `parallel_tool_calls`.
    public static let ollama = CompatibilityQuirks()
    /// llama.cpp's server (`llama-server`): grammars for `json_schema`, parallel calls only
    /// when asked, its window at `/props`, and forced calls through a schema.
    public static let llamaCpp = CompatibilityQuirks(
        sendsParallelToolCalls: true, contextWindowEndpoint: .props, forcesToolsThroughSchema: true)
    /// llama-cpp-python: `json_schema` answers 500 (only `json_object` with a schema), and a
    /// stream never reports usage, `stream_options` or not — so it is asked unstreamed, and
    /// token budgets and costs count its tokens.
    public static let llamaCppPython = CompatibilityQuirks(
        structuredOutput: .forcedTool, streams: false, streamsWithOptionalTools: false)
    public static let vllm = CompatibilityQuirks(contextWindowEndpoint: .models)

    /// A named profile: `openai`, `ollama`, `llama.cpp`, `llama-cpp-python`, `vllm`.
    public static func named(_ name: String) -> CompatibilityQuirks? {
        switch name.lowercased() {
        case "openai": .openAI
        case "ollama": .ollama
        case "llama.cpp", "llamacpp", "llama-server": .llamaCpp
        case "llama-cpp-python": .llamaCppPython
        case "vllm": .vllm
        default: nil
        }
    }
}

/// OpenAI's Chat Completions API (`/v1/chat/completions`) and every server that copies it.
public struct OpenAIChatProvider: ModelProvider {
    public var endpoint: ProviderEndpoint
    public var model: String
    public var quirks: CompatibilityQuirks
    /// Sampling for requests that do not set their own: a profile's `options.temperature`
    /// and `options.seed` (a planner at temperature 0 plans the same way each time).
    public var defaultTemperature: Double?
    public var defaultSeed: Int?
    /// The most tokens an answer may have when a request does not say: a runaway
    /// generation (a small model repeating itself under a grammar) stops there.
    public var defaultMaxOutputTokens: Int?

    /// The tool that carries structured output when `quirks.structuredOutput` is `.forcedTool`.
    static let answerTool = "respond"

    public init(
        baseURL: String = Endpoints.defaultOpenAI, apiKey: String?, model: String,
        quirks: CompatibilityQuirks = .openAI, client: HTTPClient = .shared, retry: RetryPolicy = .default,
        provider: String = "openai"
    ) {
        self.endpoint = ProviderEndpoint(
            provider: provider, baseURL: baseURL, headers: .bearer(apiKey), client: client, retry: retry)
        self.model = model
        self.quirks = quirks
    }

    /// The `/chat/completions` body for `request`.
    public func body(_ request: ModelRequest) -> JSONValue { wire(request).body }

    /// The tools `request` offers on the wire and the choice among them: structured output
    /// through a forced tool adds one.
    func offered(_ request: ModelRequest) -> (tools: [ToolSpec], choice: ToolChoice) {
        if case .jsonSchema(let name, let schema) = request.responseFormat, quirks.structuredOutput == .forcedTool {
            let answer = ToolSpec(name: Self.answerTool, description: "Give the answer as \(name).", parameters: schema)
            return ([answer], .tool(Self.answerTool))
        }
        return (request.tools, request.toolChoice)
    }

    /// The forced call `request` asks as structured output, when the quirks say so.
    func schemaForcedCall(_ request: ModelRequest) -> SchemaForcedCall? {
        guard quirks.forcesToolsThroughSchema else { return nil }
        let (tools, choice) = offered(request)
        return SchemaForcedCall(tools: tools, choice: choice)
    }

    static func jsonSchemaFormat(name: String, schema: JSONValue) -> JSONValue {
        ["type": "json_schema", "json_schema": ["name": .string(name), "schema": schema, "strict": false]]
    }

    /// The body for `request` but its messages.
    func members(_ request: ModelRequest) -> [String: JSONValue] {
        var body: [String: JSONValue] = ["model": .string(model)]
        if streams(request) {
            body["stream"] = true
            if quirks.requestsStreamUsage { body["stream_options"] = ["include_usage": true] }
        }
        if case .jsonSchema(let name, let schema) = request.responseFormat {
            switch quirks.structuredOutput {
            case .jsonSchema: body["response_format"] = Self.jsonSchemaFormat(name: name, schema: schema)
            case .jsonObjectWithSchema: body["response_format"] = ["type": "json_object", "schema": schema]
            case .forcedTool: break  // an answer tool, below
            }
        }
        let (tools, choice) = offered(request)
        if let forced = schemaForcedCall(request) {
            body["response_format"] = Self.jsonSchemaFormat(name: forced.name, schema: forced.schema)
        } else if !tools.isEmpty {
            body["tools"] = .array(tools.map(\.functionWire))
            switch choice {
            case .auto: body["tool_choice"] = "auto"
            case .none: body["tool_choice"] = "none"
            case .required: body["tool_choice"] = "required"
            case .tool(let name): body["tool_choice"] = ["type": "function", "function": ["name": .string(name)]]
            }
            if quirks.sendsParallelToolCalls { body["parallel_tool_calls"] = true }
        }
        if let limit = request.maxOutputTokens ?? defaultMaxOutputTokens {
            body[quirks.usesMaxCompletionTokens ? "max_completion_tokens" : "max_tokens"] = .number(Double(limit))
        }
        if let temperature = request.temperature ?? defaultTemperature { body["temperature"] = .number(temperature) }
        if let seed = request.seed ?? defaultSeed { body["seed"] = .number(Double(seed)) }
        if !request.stop.isEmpty { body["stop"] = .array(request.stop.map(JSONValue.string)) }
        return body
    }

    /// Whether `request` goes out streamed, given the quirks.
    func streams(_ request: ModelRequest) -> Bool {
        guard quirks.streams else { return false }
        if quirks.streamsWithOptionalTools { return true }
        let forced: Bool
        switch request.toolChoice {
        case .tool: forced = true
        case .auto, .required, .none: forced = false
        }
        let structuredByTool: Bool
        if case .jsonSchema = request.responseFormat, quirks.structuredOutput == .forcedTool {
            structuredByTool = true
        } else {
            structuredByTool = false
        }
        return request.tools.isEmpty || forced || structuredByTool || request.toolChoice == .none
    }

    static func wireMessage(_ message: ChatMessage) -> JSONValue {
        var wire: [String: JSONValue] = ["role": .string(message.role.rawValue)]
        if message.role == .assistant, !message.toolCalls.isEmpty {
            // OpenAI wants null content beside calls; arguments travel as a JSON string.
            wire["content"] = message.content.isEmpty ? .null : .string(message.content)
            wire["tool_calls"] = .array(
                message.toolCalls.map { call in
                    [
                        "id": .string(call.id), "type": "function",
                        "function": ["name": .string(call.name), "arguments": .string(call.arguments)],
                    ]
                })
        } else {
            wire["content"] = .string(message.content)
        }
        if message.role == .tool {
            wire["tool_call_id"] = .string(message.toolCallID ?? "")
            if let name = message.toolName { wire["name"] = .string(name) }
        }
        return .object(wire)
    }

    public func wire(_ request: ModelRequest) -> WireRequest {
        endpoint.wire(
            "/chat/completions", body: members(request), key: "messages",
            messages: request.messages.map { $0.sent(as: .openAIChat) { [Self.wireMessage($0)] } })
    }

    public func contextWindow() async -> ContextWindow? {
        switch quirks.contextWindowEndpoint {
        case .props?:
            let url = endpoint.root + "/props"
            let props = await endpoint.ask(url)
            let tokens = props?["default_generation_settings"]?["n_ctx"]?.intValue ?? props?["n_ctx"]?.intValue
            return ContextWindow(asked: tokens, of: url)
        case .models?:
            let url = endpoint.baseURL + "/models"
            let entry = await endpoint.ask(url)?["data"]?.arrayValue?.first { $0["id"]?.stringValue == model }
            return ContextWindow(asked: entry?["max_model_len"]?.intValue, of: url)
        case nil:
            return nil
        }
    }

    public func stream(_ request: ModelRequest) -> ModelEventStream {
        stream(request, sending: wire(request))
    }

    public func stream(_ request: ModelRequest, sending wire: WireRequest) -> ModelEventStream {
        let offered = request.tools
        let structured: Bool
        if case .jsonSchema = request.responseFormat, quirks.structuredOutput == .forcedTool {
            structured = true
        } else {
            structured = false
        }
        let holdsText = quirks.parsesToolCallsInText && !offered.isEmpty && !structured
        let forced = schemaForcedCall(request)
        let streams = streams(request)
        return ModelEventStream { [endpoint] batch in
            try await endpoint.post(wire) { response, delivered in
                var decoder = ChatCompletionsDecoder(
                    structuredThroughTool: structured ? Self.answerTool : nil, forcedCall: forced,
                    holdsText: holdsText, offered: offered, provider: endpoint.provider)
                if streams {
                    var records = response.body.serverSentEvents.makeAsyncIterator()
                    while let record = try await records.next(beforeWaiting: { batch.flush() }) {
                        let events = try decoder.decode(event: record.data)
                        if !events.isEmpty { delivered() }
                        batch.append(contentsOf: events)
                        if decoder.isDone { break }
                    }
                    batch.append(contentsOf: try decoder.finish())
                } else {
                    let bytes = try await response.body.collect(upTo: 64 << 20)
                    batch.append(contentsOf: try decoder.decodeWhole(bytes))
                }
            }
        }
    }
}

/// Turns Chat Completions SSE records (or one whole reply) into model events.
struct ChatCompletionsDecoder {
    let structuredThroughTool: String?
    /// A forced call asked as structured output: the answer's text is the call.
    let forcedCall: SchemaForcedCall?
    let holdsText: Bool
    let offered: [ToolSpec]
    let provider: String
    private var calls = ToolCallAccumulator()
    private var finishReason: FinishReason?
    private var heldText = ""
    private var records = 0
    private(set) var isDone = false

    init(
        structuredThroughTool: String?, forcedCall: SchemaForcedCall? = nil, holdsText: Bool, offered: [ToolSpec],
        provider: String
    ) {
        self.structuredThroughTool = structuredThroughTool
        self.forcedCall = forcedCall
        self.holdsText = holdsText
        self.offered = offered
        self.provider = provider
    }

    mutating func decode(event data: String) throws -> [ModelEvent] {
        records += 1
        if data.utf8.elementsEqual("[DONE]".utf8) {
            isDone = true
            return []
        }
        let chunk: JSONValue
        do {
            chunk = try JSONValue(parsing: data)
        } catch {
            throw ModelError(
                code: .malformedResponse, message: "not a chat completion chunk (\(error)): \(data.prefix(200))",
                provider: provider)
        }
        if let wire = WireError(document: chunk) { throw ModelError.inStream(wire, provider: provider) }
        return apply(chunk)
    }

    /// A non-streamed reply: one `chat.completion` object.
    mutating func decodeWhole(_ bytes: [UInt8]) throws -> [ModelEvent] {
        guard let reply = try? JSONValue(parsing: bytes), reply.objectValue != nil else {
            throw ModelError(
                code: .malformedResponse,
                message: "not a chat completion: \(String(decoding: bytes.prefix(200), as: UTF8.self))",
                provider: provider)
        }
        isDone = true
        return apply(reply) + (try finish())
    }

    private mutating func apply(_ chunk: JSONValue) -> [ModelEvent] {
        var events: [ModelEvent] = []
        // Only the first choice: we never ask for n > 1.
        if let choice = chunk["choices"]?.arrayValue?.first(where: { ($0["index"]?.intValue ?? 0) == 0 }) {
            let whole = choice["message"] != nil
            let delta = choice["delta"] ?? choice["message"]
            if let reasoning = (delta?["reasoning_content"] ?? delta?["reasoning"])?.stringValue, !reasoning.isEmpty {
                events.append(.reasoningDelta(reasoning))
            }
            if let content = delta?["content"]?.stringValue, !content.isEmpty {
                if holdsText || structuredThroughTool != nil || forcedCall != nil {
                    heldText += content
                } else {
                    events.append(.textDelta(content))
                }
            }
            for (position, call) in (delta?["tool_calls"]?.arrayValue ?? []).enumerated() {
                // A whole (non-streamed) message lists calls without an index.
                let index = call["index"]?.intValue ?? (whole ? position : nil)
                let arguments: String? =
                    switch call["function"]?["arguments"] {
                    case .string(let text)?: text
                    case nil, .null?: nil
                    case let other?: other.canonicalText
                    }
                calls.apply(
                    index: index, id: call["id"]?.stringValue, name: call["function"]?["name"]?.stringValue,
                    arguments: arguments)
            }
            if let reason = choice["finish_reason"]?.stringValue { finishReason = FinishReason(wire: reason) }
        }
        if let usage = chunk["usage"], let input = usage["prompt_tokens"]?.intValue {
            events.append(
                .usage(
                    Usage(
                        inputTokens: input, outputTokens: usage["completion_tokens"]?.intValue ?? 0,
                        cachedInputTokens: usage["prompt_tokens_details"]?["cached_tokens"]?.intValue,
                        reasoningTokens: usage["completion_tokens_details"]?["reasoning_tokens"]?.intValue)))
        }
        return events
    }
    /// The calls, held text and finish reason, once the stream has ended.
    mutating func finish() throws -> [ModelEvent] {
        guard isDone || finishReason != nil else {
            let what =
                records == 0
                ? "the server answered 200 but sent no event; its log may say why" : "after \(records) events"
            throw ModelError(
                code: .malformedResponse,
                message: "the stream ended before [DONE] and before a finish_reason (\(what))", provider: provider)
        }
        var events: [ModelEvent] = []
        var toolCalls = calls.finish()
        if let forcedCall, toolCalls.isEmpty, let call = forcedCall.call(from: heldText) {
            toolCalls = [call]
            heldText = ""
        }
        if let answerTool = structuredThroughTool {
            // Structured output through a forced tool call: its arguments are the answer.
            if let answer = toolCalls.first(where: { $0.name == answerTool }) {
                events.append(.textDelta(answer.arguments))
                toolCalls.removeAll { $0.name == answerTool }
                if finishReason == .toolCalls { finishReason = .stop }
            } else if !heldText.isEmpty {
                events.append(.textDelta(heldText))
            }
            heldText = ""
        } else if holdsText, !heldText.isEmpty {
            if toolCalls.isEmpty, let parsed = TextToolCalls.parse(heldText, offered: offered) {
                toolCalls = parsed
                finishReason = .toolCalls
            } else {
                events.append(.textDelta(heldText))
            }
            heldText = ""
        }
        if !heldText.isEmpty {
            // A forced call's answer that names no offered tool: the text it is.
            events.append(.textDelta(heldText))
        }
        events += toolCalls.map(ModelEvent.toolCall)
        events.append(.finish(!toolCalls.isEmpty && finishReason == .stop ? .toolCalls : finishReason ?? .stop))
        return events
    }
}
