public import Curl
import Foundation
public import Switchyard

/// OpenAI's Responses API (`/v1/responses`), stateless: every call sends the whole history,
/// with `store: false`.
public struct OpenAIResponsesProvider: ModelProvider {
    public var endpoint: ProviderEndpoint
    public var model: String

    public init(
        baseURL: String = Endpoints.defaultOpenAI, apiKey: String?, model: String, client: HTTPClient = .shared,
        retry: RetryPolicy = .default
    ) {
        self.endpoint = ProviderEndpoint(
            provider: "openai", baseURL: baseURL, headers: .bearer(apiKey), client: client, retry: retry)
        self.model = model
    }

    /// The `/responses` body for `request`.
    public func body(_ request: ModelRequest) -> JSONValue { wire(request).body }

    /// The `input` items a message is sent as: none for a system message (it goes into
    /// `instructions`), and an item of its own for each call an assistant makes.
    static func inputItems(_ message: ChatMessage) -> [JSONValue] {
        switch message.role {
        case .system: return []
        case .user: return [["role": "user", "content": .string(message.content)]]
        case .assistant:
            let text: [JSONValue] =
                message.content.isEmpty ? [] : [["role": "assistant", "content": .string(message.content)]]
            return text
                + message.toolCalls.map { call in
                    [
                        "type": "function_call", "call_id": .string(call.id), "name": .string(call.name),
                        "arguments": .string(call.arguments),
                    ]
                }
        case .tool:
            return [
                [
                    "type": "function_call_output", "call_id": .string(message.toolCallID ?? ""),
                    "output": .string(message.content),
                ]
            ]
        }
    }

    /// The body for `request` but its `input`.
    func members(_ request: ModelRequest) -> [String: JSONValue] {
        var body: [String: JSONValue] = ["model": .string(model), "stream": true, "store": false]
        let instructions = request.messages.filter { $0.role == .system }.map(\.content)
        if !instructions.isEmpty { body["instructions"] = .string(instructions.joined(separator: "\n\n")) }
        if !request.tools.isEmpty {
            body["tools"] = .array(
                request.tools.map { tool in
                    [
                        "type": "function", "name": .string(tool.name), "description": .string(tool.description),
                        "parameters": tool.parameters, "strict": false,
                    ]
                })
            switch request.toolChoice {
            case .auto: body["tool_choice"] = "auto"
            case .none: body["tool_choice"] = "none"
            case .required: body["tool_choice"] = "required"
            case .tool(let name): body["tool_choice"] = ["type": "function", "name": .string(name)]
            }
        }
        if case .jsonSchema(let name, let schema) = request.responseFormat {
            body["text"] = [
                "format": ["type": "json_schema", "name": .string(name), "schema": schema, "strict": false]
            ]
        }
        if let limit = request.maxOutputTokens { body["max_output_tokens"] = .number(Double(max(16, limit))) }
        if let temperature = request.temperature { body["temperature"] = .number(temperature) }
        return body
    }

    public func wire(_ request: ModelRequest) -> WireRequest {
        endpoint.wire(
            "/responses", body: members(request), key: "input",
            messages: request.messages.map { $0.sent(as: .openAIResponses, Self.inputItems) })
    }

    public func stream(_ request: ModelRequest) -> ModelEventStream {
        stream(request, sending: wire(request))
    }

    public func stream(_ request: ModelRequest, sending wire: WireRequest) -> ModelEventStream {
        return ModelEventStream { [endpoint] batch in
            try await endpoint.post(wire) { response, delivered in
                var decoder = ResponsesDecoder(provider: endpoint.provider)
                var records = response.body.serverSentEvents.makeAsyncIterator()
                while let record = try await records.next(beforeWaiting: { batch.flush() }) {
                    let events = try decoder.decode(record.data)
                    if !events.isEmpty { delivered() }
                    batch.append(contentsOf: events)
                    if decoder.isDone { break }
                }
                guard decoder.isDone else {
                    throw ModelError(
                        code: .malformedResponse, message: "the stream ended before response.completed",
                        provider: endpoint.provider)
                }
            }
        }
    }
}

/// Turns Responses API stream events into model events.
struct ResponsesDecoder {
    let provider: String
    private var sawToolCall = false
    private(set) var isDone = false

    init(provider: String) { self.provider = provider }

    mutating func decode(_ data: String) throws -> [ModelEvent] {
        guard let event = try? JSONValue(parsing: data), let type = event["type"]?.stringValue else {
            throw ModelError(
                code: .malformedResponse, message: "not a Responses API event: \(data.prefix(200))", provider: provider)
        }
        switch type {
        case "response.output_text.delta":
            return event["delta"]?.stringValue.map { [.textDelta($0)] } ?? []
        case "response.reasoning_summary_text.delta", "response.reasoning_text.delta":
            return event["delta"]?.stringValue.map { [.reasoningDelta($0)] } ?? []
        case "response.output_item.done":
            guard let item = event["item"], item["type"] == "function_call", let name = item["name"]?.stringValue
            else { return [] }
            sawToolCall = true
            return [
                .toolCall(
                    ToolCall(
                        id: item["call_id"]?.stringValue ?? "call_\(name)", name: name,
                        arguments: item["arguments"]?.stringValue ?? ""))
            ]
        case "response.completed", "response.incomplete":
            isDone = true
            var events: [ModelEvent] = []
            if let usage = event["response"]?["usage"] {
                events.append(
                    .usage(
                        Usage(
                            inputTokens: usage["input_tokens"]?.intValue ?? 0,
                            outputTokens: usage["output_tokens"]?.intValue ?? 0,
                            cachedInputTokens: usage["input_tokens_details"]?["cached_tokens"]?.intValue,
                            reasoningTokens: usage["output_tokens_details"]?["reasoning_tokens"]?.intValue)))
            }
            if type == "response.incomplete" {
                let reason = event["response"]?["incomplete_details"]?["reason"]?.stringValue ?? "length"
                events.append(.finish(FinishReason(wire: reason)))
            } else {
                events.append(.finish(sawToolCall ? .toolCalls : .stop))
            }
            return events
        case "response.failed":
            let failure = event["response"]?["error"]
            throw ModelError(
                code: failure?["code"] == "rate_limit_exceeded" ? .rateLimited : .serverError,
                message: failure?["message"]?.stringValue ?? "the response failed", provider: provider,
                isRetryable: false)
        case "error":
            throw ModelError(
                code: .serverError,
                message: event["message"]?.stringValue ?? "error event (\(event["code"]?.stringValue ?? "no code"))",
                provider: provider, isRetryable: false)
        default:
            return []
        }
    }
}
