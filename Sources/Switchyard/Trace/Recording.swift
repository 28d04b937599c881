/// JSON forms of the model vocabulary, as traces record them.
extension ChatMessage {
    public var json: JSONValue {
        recorded { message in
            var object: [String: JSONValue] = [
                "role": .string(message.role.rawValue), "content": .string(message.content),
            ]
            if !message.toolCalls.isEmpty { object["tool_calls"] = .array(message.toolCalls.map(\.json)) }
            if let toolCallID = message.toolCallID { object["tool_call_id"] = .string(toolCallID) }
            if let toolName = message.toolName { object["tool_name"] = .string(toolName) }
            return .object(object)
        }
    }
}

extension ToolCall {
    public var json: JSONValue { ["id": .string(id), "name": .string(name), "arguments": .string(arguments)] }
}

extension ModelRequest {
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "messages": .array(messages.map { $0.json }),
            "tools": .array(
                tools.map {
                    ["name": .string($0.name), "description": .string($0.description), "parameters": $0.parameters]
                }),
            "reasoning": .bool(reasoning),
        ]
        switch toolChoice {
        case .auto: object["tool_choice"] = "auto"
        case .none: object["tool_choice"] = "none"
        case .required: object["tool_choice"] = "required"
        case .tool(let name): object["tool_choice"] = ["tool": .string(name)]
        }
        if case .jsonSchema(let name, let schema) = responseFormat {
            object["response_format"] = ["name": .string(name), "schema": schema]
        }
        if let maxOutputTokens { object["max_output_tokens"] = .number(Double(maxOutputTokens)) }
        if let temperature { object["temperature"] = .number(temperature) }
        if let seed { object["seed"] = .number(Double(seed)) }
        if !stop.isEmpty { object["stop"] = .array(stop.map(JSONValue.string)) }
        return .object(object)
    }
}

extension FinishReason {
    public var wireName: String {
        switch self {
        case .stop: "stop"
        case .length: "length"
        case .toolCalls: "tool_calls"
        case .contentFilter: "content_filter"
        case .other(let text): text
        }
    }
}

extension ModelError {
    public var json: JSONValue {
        [
            "code": .string(code.rawValue), "status": status.map { .number(Double($0)) } ?? .null,
            "message": .string(message), "request_id": requestID.map(JSONValue.string) ?? .null,
            "retryable": .bool(isRetryable),
        ]
    }
}

extension ModelResponse {
    /// The form a response is recorded in: text whole (so a secret split across deltas
    /// is still one secret to redact), and the shape of the stream it arrived in.
    public func recorded(stream: StreamShape) -> JSONValue {
        var payload: [String: JSONValue] = [
            "text": .string(text), "tool_calls": .array(toolCalls.map(\.json)),
            "finish": finishReason.map { .string($0.wireName) } ?? .null, "stream": .string(stream.recorded),
        ]
        if !reasoning.isEmpty { payload["reasoning"] = .string(reasoning) }
        if let usage {
            payload["usage"] = [
                "input": .number(Double(usage.inputTokens)), "output": .number(Double(usage.outputTokens)),
            ]
        }
        return .object(payload)
    }

    /// A response rebuilt from its recorded form.
    public init(recorded payload: JSONValue) {
        self.init()
        text = payload["text"]?.stringValue ?? ""
        reasoning = payload["reasoning"]?.stringValue ?? ""
        toolCalls = (payload["tool_calls"]?.arrayValue ?? []).map { call in
            ToolCall(
                id: call["id"]?.stringValue ?? "", name: call["name"]?.stringValue ?? "",
                arguments: call["arguments"]?.stringValue ?? "")
        }
        finishReason = payload["finish"]?.stringValue.map(FinishReason.init(wire:))
        if let usage = payload["usage"] {
            self.usage = Usage(inputTokens: usage["input"]?.intValue ?? 0, outputTokens: usage["output"]?.intValue ?? 0)
        }
    }

    /// The events a recorded response arrived as, cut where its stream cut them (text in
    /// one piece for a record without its stream's shape).
    public static func events(recorded payload: JSONValue) -> [ModelEvent] {
        let response = ModelResponse(recorded: payload)
        let shape = payload["stream"]?.stringValue.flatMap(StreamShape.init(recorded:)) ?? StreamShape(whole: response)
        return shape.events(of: response)
    }
}

/// How a response arrived: its events in order, each text or reasoning delta by its size
/// in UTF-8 bytes. Recorded as `t12 t3 r40 c u f` — text deltas of 12 and 3 bytes, a
/// reasoning delta of 40, a tool call, the usage, the finish reason — so that a replay
/// delivers the same events cut in the same places.
public struct StreamShape: Sendable, Hashable {
    public enum Piece: Sendable, Hashable {
        case text(Int)
        case reasoning(Int)
        case toolCall
        case usage
        case finish
    }

    public private(set) var pieces: [Piece] = []

    public init() {}

    /// The shape of `response` delivered whole: reasoning, text, tool calls, usage, finish.
    public init(whole response: ModelResponse) {
        if !response.reasoning.isEmpty { pieces.append(.reasoning(response.reasoning.utf8.count)) }
        if !response.text.isEmpty { pieces.append(.text(response.text.utf8.count)) }
        pieces += response.toolCalls.map { _ in .toolCall }
        if response.usage != nil { pieces.append(.usage) }
        if response.finishReason != nil { pieces.append(.finish) }
    }

    public init?(recorded: String) {
        for word in recorded.split(separator: " ") {
            switch (word.first, Int(word.dropFirst())) {
            case ("t", let size?) where size >= 0: pieces.append(.text(size))
            case ("r", let size?) where size >= 0: pieces.append(.reasoning(size))
            case ("c", nil) where word.count == 1: pieces.append(.toolCall)
            case ("u", nil) where word.count == 1: pieces.append(.usage)
            case ("f", nil) where word.count == 1: pieces.append(.finish)
            default: return nil
            }
        }
    }

    public var recorded: String {
        pieces.map { piece in
            switch piece {
            case .text(let size): "t\(size)"
            case .reasoning(let size): "r\(size)"
            case .toolCall: "c"
            case .usage: "u"
            case .finish: "f"
            }
        }.joined(separator: " ")
    }

    public mutating func append(_ event: ModelEvent) {
        switch event {
        case .textDelta(let text): pieces.append(.text(text.utf8.count))
        case .reasoningDelta(let text): pieces.append(.reasoning(text.utf8.count))
        case .toolCall: pieces.append(.toolCall)
        case .usage: pieces.append(.usage)
        case .finish: pieces.append(.finish)
        }
    }

    /// `response` as the events this shape describes. Where the recorded text is not the
    /// length the deltas add up to (a secret was redacted), the last delta takes what is
    /// left, and no cut falls inside a character.
    public func events(of response: ModelResponse) -> [ModelEvent] {
        var text = Array(response.text.utf8)[...]
        var reasoning = Array(response.reasoning.utf8)[...]
        var calls = response.toolCalls[...]
        let lastText = pieces.lastIndex { if case .text = $0 { true } else { false } }
        let lastReasoning = pieces.lastIndex { if case .reasoning = $0 { true } else { false } }
        var events: [ModelEvent] = []
        for (index, piece) in pieces.enumerated() {
            switch piece {
            case .text(let size):
                let chunk = Self.take(index == lastText ? text.count : size, from: &text)
                if !chunk.isEmpty { events.append(.textDelta(chunk)) }
            case .reasoning(let size):
                let chunk = Self.take(index == lastReasoning ? reasoning.count : size, from: &reasoning)
                if !chunk.isEmpty { events.append(.reasoningDelta(chunk)) }
            case .toolCall:
                if let call = calls.popFirst() { events.append(.toolCall(call)) }
            case .usage:
                if let usage = response.usage { events.append(.usage(usage)) }
            case .finish:
                if let finish = response.finishReason { events.append(.finish(finish)) }
            }
        }
        return events
    }

    /// The first `size` bytes of `bytes` as text, and more up to the end of a character.
    private static func take(_ size: Int, from bytes: inout ArraySlice<UInt8>) -> String {
        var end = bytes.startIndex + min(size, bytes.count)
        while end < bytes.endIndex, bytes[end] & 0xC0 == 0x80 { end += 1 }
        defer { bytes = bytes[end...] }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

extension ModelRequest {
    /// A request rebuilt from its recorded form.
    public init(recorded json: JSONValue) {
        let messages = (json["messages"]?.arrayValue ?? []).map { message in
            ChatMessage(
                role: ChatMessage.Role(rawValue: message["role"]?.stringValue ?? "user") ?? .user,
                content: message["content"]?.stringValue ?? "",
                toolCalls: (message["tool_calls"]?.arrayValue ?? []).map { call in
                    ToolCall(
                        id: call["id"]?.stringValue ?? "", name: call["name"]?.stringValue ?? "",
                        arguments: call["arguments"]?.stringValue ?? "")
                }, toolCallID: message["tool_call_id"]?.stringValue, toolName: message["tool_name"]?.stringValue)
        }
        let tools = (json["tools"]?.arrayValue ?? []).map { tool in
            ToolSpec(
                name: tool["name"]?.stringValue ?? "", description: tool["description"]?.stringValue ?? "",
                parameters: tool["parameters"] ?? ["type": "object"])
        }
        let choice: ToolChoice =
            switch json["tool_choice"] {
            case .string("none")?: .none
            case .string("required")?: .required
            case .object(let object)?: .tool(object["tool"]?.stringValue ?? "")
            default: .auto
            }
        var format = ResponseFormat.text
        if let response = json["response_format"] {
            format = .jsonSchema(name: response["name"]?.stringValue ?? "answer", schema: response["schema"] ?? [:])
        }
        self.init(
            messages: messages, tools: tools, toolChoice: choice, responseFormat: format,
            maxOutputTokens: json["max_output_tokens"]?.intValue, temperature: json["temperature"]?.doubleValue,
            seed: json["seed"]?.intValue, stop: (json["stop"]?.arrayValue ?? []).compactMap(\.stringValue),
            reasoning: json["reasoning"]?.boolValue ?? false)
    }
}
