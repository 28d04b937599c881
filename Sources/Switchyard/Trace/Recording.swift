/// JSON forms of the model vocabulary, as traces record them.
extension ChatMessage {
    public var json: JSONValue {
        var object: [String: JSONValue] = ["role": .string(role.rawValue), "content": .string(content)]
        if !toolCalls.isEmpty { object["tool_calls"] = .array(toolCalls.map(\.json)) }
        if let toolCallID { object["tool_call_id"] = .string(toolCallID) }
        if let toolName { object["tool_name"] = .string(toolName) }
        return .object(object)
    }
}

extension ToolCall {
    public var json: JSONValue { ["id": .string(id), "name": .string(name), "arguments": .string(arguments)] }
}

extension ModelRequest {
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "messages": .array(messages.map(\.json)),
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
