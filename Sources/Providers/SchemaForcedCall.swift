import Switchyard

/// A forced tool call asked as structured output (`CompatibilityQuirks.forcesToolsThroughSchema`):
/// the server's schema grammar makes the answer the call, and the answer is read back as one.
enum SchemaForcedCall: Sendable, Hashable {
    /// The answer is the arguments of this tool.
    case arguments(of: ToolSpec)
    /// The answer is `{"name": …, "arguments": …}` for one of these tools.
    case oneOf([ToolSpec])

    /// The forced call of `choice` among `tools`, or nil when the choice forces none (or names
    /// a tool that is not offered: that request goes out as it is, for the server to refuse).
    init?(tools: [ToolSpec], choice: ToolChoice) {
        switch choice {
        case .auto, .none:
            return nil
        case .tool(let name):
            guard let tool = tools.first(where: { $0.name == name }) else { return nil }
            self = .arguments(of: tool)
        case .required:
            switch tools.count {
            case 0: return nil
            case 1: self = .arguments(of: tools[0])
            default: self = .oneOf(tools)
            }
        }
    }

    /// The `json_schema` format's name.
    var name: String {
        switch self {
        case .arguments(let tool): tool.name
        case .oneOf: "tool_call"
        }
    }

    var schema: JSONValue {
        switch self {
        case .arguments(let tool):
            return tool.parameters
        case .oneOf(let tools):
            return [
                "anyOf": .array(
                    tools.map { tool in
                        [
                            "type": "object",
                            "properties": ["name": ["const": .string(tool.name)], "arguments": tool.parameters],
                            "required": ["name", "arguments"],
                        ]
                    })
            ]
        }
    }

    /// The call the answer `text` is. Arguments cut short (the token limit) stay the text they
    /// are, as a streamed call's would, for the caller to refuse.
    func call(from text: String) -> ToolCall? {
        switch self {
        case .arguments(let tool):
            return ToolCall(id: "call_0", name: tool.name, arguments: text)
        case .oneOf(let tools):
            if let answer = try? JSONValue(parsing: text), let name = answer["name"]?.stringValue {
                guard tools.contains(where: { $0.name == name }) else { return nil }
                return ToolCall(id: "call_0", name: name, arguments: (answer["arguments"] ?? [:]).canonicalText)
            }
            // Cut short: the grammar writes the name first, and the arguments stay what was written.
            guard let opening = text.prefixMatch(of: Self.opening),
                let name = opening.output[1].substring.map(String.init),
                tools.contains(where: { $0.name == name })
            else { return nil }
            return ToolCall(id: "call_0", name: name, arguments: String(text[opening.range.upperBound...]))
        }
    }

    nonisolated(unsafe) private static let opening = try! Regex(
        #"\s*\{\s*"name"\s*:\s*"([A-Za-z0-9_-]*)"\s*,\s*"arguments"\s*:\s*"#)
}
