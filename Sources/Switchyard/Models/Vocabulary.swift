import Synchronization

/// A message in a conversation with a model, in no provider's dialect.
public struct ChatMessage: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Codable {
        case system, user, assistant, tool
    }

    /// The message's fields and renderings, behind one reference: a conversation resent
    /// every turn is walked every turn, and copying a message costs one retain, not one a
    /// field. A change replaces the storage, and with it the renderings.
    private var storage: Storage

    public var role: Role {
        get { storage.fields.role }
        set { storage = storage.with { $0.role = newValue } }
    }
    public var content: String {
        get { storage.fields.content }
        set { storage = storage.with { $0.content = newValue } }
    }
    /// The calls an assistant message makes.
    public var toolCalls: [ToolCall] {
        get { storage.fields.toolCalls }
        set { storage = storage.with { $0.toolCalls = newValue } }
    }
    /// For a tool result: the call it answers.
    public var toolCallID: String? {
        get { storage.fields.toolCallID }
        set { storage = storage.with { $0.toolCallID = newValue } }
    }
    /// For a tool result: the tool's name (Ollama matches results by name and order).
    public var toolName: String? {
        get { storage.fields.toolName }
        set { storage = storage.with { $0.toolName = newValue } }
    }

    private struct Fields: Sendable {
        var role: Role
        var content: String
        var toolCalls: [ToolCall]
        var toolCallID: String?
        var toolName: String?
    }

    /// The fields, and the message as JSON in each form it was rendered in (the trace's,
    /// each provider's), kept with them: a conversation resent every turn is rendered once a
    /// message, and the renderings of one message are the same value in every request
    /// (which makes comparing a request with the one it continues cheap).
    private final class Storage: Sendable {
        let fields: Fields
        let trace = Mutex<JSONValue?>(nil)
        let wire = Mutex<[WireItems?]>(Array(repeating: nil, count: WireForm.allCases.count))

        init(_ fields: Fields) { self.fields = fields }

        /// New storage, unrendered, with `change` made to these fields.
        func with(_ change: (inout Fields) -> Void) -> Storage {
            var changed = fields
            change(&changed)
            return Storage(changed)
        }
    }

    /// The dialects a message is sent in (a slot each, looked up without hashing: a
    /// conversation's every message is looked up every turn).
    package enum WireForm: Int, CaseIterable {
        case openAIChat, ollama, openAIResponses
    }

    /// The message as the trace records it, rendered once by `render`.
    func recorded(_ render: (ChatMessage) -> JSONValue) -> JSONValue {
        if let form = storage.trace.withLock({ $0 }) { return form }
        let form = render(self)
        storage.trace.withLock { $0 = form }
        return form
    }

    /// The items `render` sends the message as in `form`, and their bytes: rendered and
    /// written once.
    package func sent(as form: WireForm, _ render: (ChatMessage) -> [JSONValue]) -> WireItems {
        if let items = storage.wire.withLock({ $0[form.rawValue] }) { return items }
        let items = WireItems(render(self))
        storage.wire.withLock { $0[form.rawValue] = items }
        return items
    }

    private enum CodingKeys: String, CodingKey {
        case role, content, toolCalls, toolCallID, toolName
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            role: try container.decode(Role.self, forKey: .role),
            content: try container.decode(String.self, forKey: .content),
            toolCalls: try container.decode([ToolCall].self, forKey: .toolCalls),
            toolCallID: try container.decodeIfPresent(String.self, forKey: .toolCallID),
            toolName: try container.decodeIfPresent(String.self, forKey: .toolName))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        try container.encode(content, forKey: .content)
        try container.encode(toolCalls, forKey: .toolCalls)
        try container.encodeIfPresent(toolCallID, forKey: .toolCallID)
        try container.encodeIfPresent(toolName, forKey: .toolName)
    }

    public static func == (lhs: ChatMessage, rhs: ChatMessage) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.role == rhs.role && lhs.content == rhs.content && lhs.toolCalls == rhs.toolCalls
                && lhs.toolCallID == rhs.toolCallID && lhs.toolName == rhs.toolName)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(role)
        hasher.combine(content)
        hasher.combine(toolCalls)
        hasher.combine(toolCallID)
        hasher.combine(toolName)
    }

    public init(
        role: Role, content: String, toolCalls: [ToolCall] = [], toolCallID: String? = nil, toolName: String? = nil
    ) {
        storage = Storage(
            Fields(role: role, content: content, toolCalls: toolCalls, toolCallID: toolCallID, toolName: toolName))
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    public static func assistant(_ content: String, toolCalls: [ToolCall] = []) -> ChatMessage {
        ChatMessage(role: .assistant, content: content, toolCalls: toolCalls)
    }
    public static func toolResult(for call: ToolCall, content: String) -> ChatMessage {
        ChatMessage(role: .tool, content: content, toolCallID: call.id, toolName: call.name)
    }
}

/// A tool the model may call: its name, what it does, and a JSON Schema of its arguments.
public struct ToolSpec: Sendable, Hashable, Codable {
    public var name: String
    public var description: String
    public var parameters: JSONValue

    public init(name: String, description: String, parameters: JSONValue = ["type": "object", "properties": [:]]) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

extension ToolSpec {
    /// The tools of a JSON array of `{name, description, parameters}` (as OpenAI's `tools`
    /// give them, without the `function` wrapper), read from `file`.
    public static func list(_ json: JSONValue, in file: String) throws(ConfigurationError) -> [ToolSpec] {
        guard case .array(let entries) = json else {
            throw ConfigurationError(file: file, message: "expected a JSON array of {name, description, parameters}")
        }
        return try entries.enumerated().map { (index, entry) throws(ConfigurationError) in
            guard case .string(let name)? = entry["name"] else {
                throw ConfigurationError(file: file, message: "tool \(index) has no name")
            }
            return ToolSpec(
                name: name, description: entry["description"]?.stringValue ?? "",
                parameters: entry["parameters"] ?? ["type": "object", "properties": [:]])
        }
    }

    /// `{"type": "function", "function": {name, description, parameters}}`: how Chat
    /// Completions and Ollama's /api/chat both offer a tool.
    package var functionWire: JSONValue {
        [
            "type": "function",
            "function": ["name": .string(name), "description": .string(description), "parameters": parameters],
        ]
    }
}

/// A call the model made. Arguments stay the JSON text the model produced: it may be
/// malformed, and a caller decides what to do about that.
public struct ToolCall: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    /// The arguments as a JSON object, or an error a model can read.
    public func parsedArguments() throws(ModelError) -> [String: JSONValue] {
        let text = arguments.trimming(" \n\r\t")
        if text.isEmpty { return [:] }
        guard let value = try? JSONValue(parsing: text) else {
            throw ModelError(
                code: .malformedToolArguments,
                message: "arguments of \(name) are not valid JSON: \(arguments.prefix(200))")
        }
        guard case .object(let object) = value else {
            throw ModelError(code: .malformedToolArguments, message: "arguments of \(name) are not a JSON object")
        }
        return object
    }
}

public enum ToolChoice: Sendable, Hashable {
    case auto
    case none
    /// The model must call some tool.
    case required
    /// The model must call this tool.
    case tool(String)
}

public struct Usage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedInputTokens: Int?
    public var reasoningTokens: Int?

    /// Counts are taken as at least 0 and at most `largestCount`: a server that reports
    /// negative tokens would hand the run budget back, and one that reports 2^62 would
    /// overflow the sums.
    public init(inputTokens: Int, outputTokens: Int, cachedInputTokens: Int? = nil, reasoningTokens: Int? = nil) {
        func count(_ value: Int) -> Int { min(max(value, 0), Self.largestCount) }
        self.inputTokens = count(inputTokens)
        self.outputTokens = count(outputTokens)
        self.cachedInputTokens = cachedInputTokens.map(count)
        self.reasoningTokens = reasoningTokens.map(count)
    }

    /// More tokens than any model is asked for in a run (2^40).
    public static let largestCount = 1 << 40

    public var totalTokens: Int { inputTokens + outputTokens }
}

public enum FinishReason: Sendable, Hashable, Codable {
    case stop
    case length
    case toolCalls
    case contentFilter
    /// A reason this client does not know, kept as the server said it.
    case other(String)

    public init(wire: String) {
        switch wire {
        case "stop", "end_turn", "completed": self = .stop
        case "length", "max_tokens", "max_output_tokens": self = .length
        case "tool_calls", "function_call", "tool": self = .toolCalls
        case "content_filter": self = .contentFilter
        default: self = .other(wire)
        }
    }
}

/// What a model stream yields, in order.
public enum ModelEvent: Sendable, Hashable {
    case textDelta(String)
    case reasoningDelta(String)
    /// A complete tool call: id, name, and all of its arguments.
    case toolCall(ToolCall)
    case usage(Usage)
    case finish(FinishReason)
}

/// How the answer must be shaped.
public enum ResponseFormat: Sendable, Hashable {
    case text
    /// JSON that satisfies `schema`.
    case jsonSchema(name: String, schema: JSONValue)
}

/// One call to a model, in no provider's dialect.
public struct ModelRequest: Sendable, Hashable {
    public var messages: [ChatMessage]
    public var tools: [ToolSpec]
    public var toolChoice: ToolChoice
    public var responseFormat: ResponseFormat
    public var maxOutputTokens: Int?
    public var temperature: Double?
    public var seed: Int?
    public var stop: [String]
    /// Ask a thinking model to think (off unless asked).
    public var reasoning: Bool

    public init(
        messages: [ChatMessage], tools: [ToolSpec] = [], toolChoice: ToolChoice = .auto,
        responseFormat: ResponseFormat = .text, maxOutputTokens: Int? = nil, temperature: Double? = nil,
        seed: Int? = nil, stop: [String] = [], reasoning: Bool = false
    ) {
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
        self.responseFormat = responseFormat
        self.maxOutputTokens = maxOutputTokens
        self.temperature = temperature
        self.seed = seed
        self.stop = stop
        self.reasoning = reasoning
    }
}

extension ModelRequest {
    /// About how many tokens the request's input takes: four bytes a token of everything the
    /// server renders into the prompt — the messages with their tool calls, the offered
    /// tools' schemas and the output schema — and a few tokens a message for the template.
    /// A tokenizer would be exact for one model only; this is what budgets and context
    /// windows are checked with before a request is sent.
    public var estimatedInputTokens: Int {
        var bytes = 0
        for message in messages {
            bytes += message.content.utf8.count + 16
            for call in message.toolCalls { bytes += call.name.utf8.count + call.arguments.utf8.count + 16 }
        }
        if toolChoice != .none {
            for tool in tools {
                bytes += tool.name.utf8.count + tool.description.utf8.count + tool.parameters.canonicalText.utf8.count
            }
        }
        if case .jsonSchema(_, let schema) = responseFormat { bytes += schema.canonicalText.utf8.count }
        return bytes / 4 + 1
    }
}

/// How many tokens a model can take in one request, and who said so.
public struct ContextWindow: Sendable, Hashable, Codable {
    public var tokens: Int
    /// `profiles.NAME.context_window`, `profiles.NAME.options.num_ctx`, `GET /props`, …
    public var source: String

    public init(tokens: Int, source: String) {
        self.tokens = tokens
        self.source = source
    }

    /// The most a window is taken to be: a server that claims more is not believed.
    public static let largest = 100_000_000

    /// What a server answered at `url`, if it is a window at all.
    package init?(asked tokens: Int?, of url: String) {
        guard let tokens, tokens > 0, tokens <= Self.largest else { return nil }
        self.init(tokens: tokens, source: url)
    }
}

/// A model's whole answer: the stream, collected.
public struct ModelResponse: Sendable, Hashable {
    public var text = ""
    public var reasoning = ""
    public var toolCalls: [ToolCall] = []
    public var usage: Usage?
    public var finishReason: FinishReason?

    public init() {}

    public mutating func apply(_ event: ModelEvent) {
        switch event {
        case .textDelta(let delta): text += delta
        case .reasoningDelta(let delta): reasoning += delta
        case .toolCall(let call): toolCalls.append(call)
        case .usage(let usage): self.usage = usage
        case .finish(let reason): finishReason = reason
        }
    }
}

/// A model server: one streaming method; everything else is built on it.
public protocol ModelProvider: Sendable {
    /// Streams the model's answer. Errors are `ModelError`s.
    func stream(_ request: ModelRequest) -> ModelEventStream
    /// What `stream(request)` sends, rendered without sending it: a trace records it with
    /// the request, and a replay renders it again to compare.
    func wire(_ request: ModelRequest) -> WireRequest
    /// Streams the answer to `request` by sending `wire`, what `wire(request)` rendered: a
    /// trace records the very body that is sent, built once.
    func stream(_ request: ModelRequest, sending wire: WireRequest) -> ModelEventStream
    /// The context window the server says the model has, if it says (a run asks once, at
    /// its start, and records the answer in its header).
    func contextWindow() async -> ContextWindow?
}

extension ModelProvider {
    public func contextWindow() async -> ContextWindow? { nil }

    /// A provider that renders nothing of its own sends what `stream(request)` sends.
    public func stream(_ request: ModelRequest, sending wire: WireRequest) -> ModelEventStream { stream(request) }
}

/// An HTTP request to a model server as a trace records it: where it goes and its JSON
/// body. The headers are not part of it: they carry the content type and the credentials,
/// and credentials never reach a trace.
public struct WireRequest: Sendable, Hashable {
    public let url: String
    public let body: JSONValue
    /// The array of the body written from its items' bytes, if one is.
    private let splice: (key: String, runs: [[UInt8]])?

    public init(url: String, body: JSONValue) {
        self.url = url
        self.body = body
        self.splice = nil
    }

    /// The body `members` with the array `key` of the messages' items: each message's bytes,
    /// written once, are spliced in, so a conversation resent every turn is copied, not
    /// written again.
    package init(url: String, body members: [String: JSONValue], key: String, messages: [WireItems]) {
        var items: [JSONValue] = []
        var runs: [[UInt8]] = []
        items.reserveCapacity(messages.count)
        runs.reserveCapacity(messages.count)
        for message in messages {
            items.append(contentsOf: message.items)
            runs.append(message.bytes)
        }
        var whole = members
        whole[key] = .array(items)
        self.url = url
        self.body = .object(whole)
        self.splice = (key, runs)
    }

    /// What is sent: `body.requestBytes`, written from the same values the body holds, so that
    /// what is recorded (the body) and what is sent are the same by construction. Written
    /// when asked for: a replay, which sends nothing, never writes it.
    public var bytes: [UInt8] {
        guard let splice, case .object(let members) = body else { return body.requestBytes }
        return JSONValue.requestBytes(members, splicing: splice.key, runs: splice.runs)
    }

    public static func == (lhs: WireRequest, rhs: WireRequest) -> Bool { lhs.url == rhs.url && lhs.body == rhs.body }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(url)
        hasher.combine(body)
    }

    public var json: JSONValue { ["url": .string(url), "body": body] }
}

/// What a message is sent as in one wire form: its items (none, one, or several: the
/// Responses API sends a call as an item of its own), and their `requestBytes`,
/// comma-separated.
package final class WireItems: Sendable {
    package let items: [JSONValue]
    package let bytes: [UInt8]

    package init(_ items: [JSONValue]) {
        self.items = items
        self.bytes = Array(items.map(\.requestBytes).joined(separator: [UInt8(ascii: ",")]))
    }
}

/// A model's answer as it arrives. Cancelling the consuming task cancels the request.
///
/// Events are handed over in batches — everything decoded from one read — so a fast stream
/// costs one hand-over per read, not one per event, and a slow one still delivers each
/// event the moment it is decoded.
public struct ModelEventStream: AsyncSequence, Sendable {
    public typealias Element = ModelEvent
    private let produce: @Sendable (inout EventBatch) async throws -> Void

    /// Events from `produce`, which runs once per iteration: in a task of its own for an
    /// iterator, in the caller's task for `forEach`. The stream ends when it returns or throws.
    public init(_ produce: @escaping @Sendable (inout EventBatch) async throws -> Void) {
        self.produce = produce
    }

    /// Hands every event to `body` as it is decoded, in this task: no task of its own and no
    /// hand-over between threads per batch, for a caller that takes the events as they come.
    public func forEach(_ body: (ModelEvent) -> Void) async throws {
        try await withoutActuallyEscaping(body) { body in
            try await run { events in events.forEach(body) }
        }
    }

    /// Runs `produce`, handing each batch to `deliver`; what it decoded before it threw is
    /// delivered too.
    private func run(_ deliver: @escaping ([ModelEvent]) -> Void) async throws {
        var batch = EventBatch(deliver: deliver)
        defer { batch.flush() }
        try await produce(&batch)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<[ModelEvent], any Error>.AsyncIterator
        var pending: [ModelEvent] = []
        var index = 0

        public mutating func next() async throws -> ModelEvent? {
            while index == pending.count {
                guard let batch = try await base.next() else { return nil }
                pending = batch
                index = 0
            }
            defer { index += 1 }
            return pending[index]
        }
    }

    /// Starts `produce` in a task of its own; ending the iteration early cancels it.
    public func makeAsyncIterator() -> AsyncIterator {
        let (batches, continuation) = AsyncThrowingStream<[ModelEvent], any Error>.makeStream()
        let task = Task { [self] in
            do {
                try await run { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return AsyncIterator(base: batches.makeAsyncIterator())
    }
}

/// The events a producer has decoded and not yet handed over.
public struct EventBatch {
    private let deliver: ([ModelEvent]) -> Void
    private var events: [ModelEvent] = []

    init(deliver: @escaping ([ModelEvent]) -> Void) {
        self.deliver = deliver
    }

    public mutating func append(contentsOf more: [ModelEvent]) { events += more }

    /// Hands the gathered events to the consumer: call it before waiting on the network.
    public mutating func flush() {
        guard !events.isEmpty else { return }
        deliver(events)
        events = []
    }
}

extension ModelProvider {
    /// The whole answer, collected from the stream.
    public func complete(_ request: ModelRequest) async throws -> ModelResponse {
        var response = ModelResponse()
        try await stream(request).forEach { response.apply($0) }
        return response
    }
}

/// A server that turns text into vectors.
public protocol EmbeddingProvider: Sendable {
    /// One vector per input, in input order.
    func embed(_ inputs: [String]) async throws -> [[Float]]
}
