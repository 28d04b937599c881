import Foundation
import Hashing

/// A run as an OTLP/JSON trace (`ExportTraceServiceRequest`), with the OpenTelemetry
/// GenAI conventions: a root span `invoke_agent AGENT`, a span `chat MODEL` per model
/// call and `execute_tool TOOL` per tool call, token usage as `gen_ai.usage.*`. Message
/// contents are left out unless `includeContent` is set.
public enum OTLPExport {
    public static func document(
        run summary: RunSummary, header: RunHeader, events: [TraceEvent], includeContent: Bool
    ) -> JSONValue {
        let traceID = SHA256.hash(Array(summary.id.rawValue.utf8)).prefix(16).hexString
        func spanID(_ sequence: Int) -> String {
            SHA256.hash(Array("\(summary.id.rawValue)/\(sequence)".utf8)).prefix(8).hexString
        }
        let root = spanID(0)
        let model = header.profile?.model
        let provider = header.profile?.provider
        let results = Dictionary(
            events.compactMap { event in event.parent.map { ($0, event) } }, uniquingKeysWith: { a, _ in a })

        var spans: [JSONValue] = [
            span(
                traceID: traceID, id: root, parent: nil, name: "invoke_agent \(summary.agent)",
                start: summary.startedAt, end: summary.endedAt ?? events.last?.time ?? summary.startedAt,
                attributes: [
                    ("gen_ai.operation.name", .string("invoke_agent")), ("gen_ai.agent.name", .string(summary.agent)),
                    ("switchyard.run.id", .string(summary.id.rawValue)),
                    ("switchyard.run.status", .string(summary.status.rawValue)),
                ],
                error: summary.status == .failed || summary.status == .interrupted ? summary.status.rawValue : nil)
        ]
        for event in events {
            switch event.kind {
            case .modelRequest:
                let result = results[event.sequence]
                // The model the request named on the wire; for a run recorded without it, the profile's.
                let wire = event.payload["wire"]
                let name =
                    wire?["body"]?["model"]?.stringValue ?? model ?? event.payload["profile"]?.stringValue ?? "model"
                var attributes: [(String, JSONValue)] = [
                    ("gen_ai.operation.name", "chat"), ("gen_ai.request.model", .string(name)),
                ]
                if let provider { attributes.append(("gen_ai.provider.name", .string(provider))) }
                if let server = wire?["url"]?.stringValue.flatMap(URLComponents.init(string:)), let host = server.host {
                    attributes.append(("server.address", .string(host)))
                    if let port = server.port { attributes.append(("server.port", .number(Double(port)))) }
                }
                if let step = event.step { attributes.append(("switchyard.step", .string(step))) }
                if let usage = result?.payload["usage"] {
                    attributes.append(("gen_ai.usage.input_tokens", usage["input"] ?? 0))
                    attributes.append(("gen_ai.usage.output_tokens", usage["output"] ?? 0))
                }
                if let finish = result?.payload["finish"]?.stringValue {
                    attributes.append(("gen_ai.response.finish_reasons", [.string(finish)]))
                }
                if includeContent {
                    attributes.append(
                        ("gen_ai.input.messages", .string(event.payload["request"]?["messages"]?.canonicalText ?? "[]"))
                    )
                    if let result, result.kind == .modelResponse {
                        attributes.append(("gen_ai.output.messages", .string(result.payload.canonicalText)))
                    }
                }
                spans.append(
                    span(
                        traceID: traceID, id: spanID(event.sequence), parent: root, name: "chat \(name)",
                        start: event.time, end: result?.time ?? event.time, attributes: attributes,
                        error: result?.kind == .modelError ? result?.payload["message"]?.stringValue ?? "error" : nil)
                )
            case .toolCall:
                let result = results[event.sequence]
                let tool = event.payload["name"]?.stringValue ?? "tool"
                var attributes: [(String, JSONValue)] = [
                    ("gen_ai.operation.name", "execute_tool"), ("gen_ai.tool.name", .string(tool)),
                ]
                if let step = event.step { attributes.append(("switchyard.step", .string(step))) }
                if includeContent {
                    attributes.append(
                        ("gen_ai.tool.call.arguments", .string(event.payload["arguments"]?.canonicalText ?? "{}")))
                    if let output = result?.payload["output"] {
                        attributes.append(("gen_ai.tool.call.result", .string(output.canonicalText)))
                    }
                }
                spans.append(
                    span(
                        traceID: traceID, id: spanID(event.sequence), parent: root, name: "execute_tool \(tool)",
                        start: event.time, end: result?.time ?? event.time, attributes: attributes,
                        error: result?.kind == .toolError ? result?.payload["message"]?.stringValue ?? "error" : nil))
            default:
                continue
            }
        }
        return [
            "resourceSpans": [
                [
                    "resource": ["attributes": .array([attribute("service.name", "switchyard")])],
                    "scopeSpans": [
                        [
                            "scope": ["name": "switchyard", "version": .string(Switchyard.version)],
                            "spans": .array(spans),
                        ]
                    ],
                ]
            ]
        ]
    }

    private static func span(
        traceID: String, id: String, parent: String?, name: String, start: Int64, end: Int64,
        attributes: [(String, JSONValue)], error: String?
    ) -> JSONValue {
        var span: [String: JSONValue] = [
            "traceId": .string(traceID), "spanId": .string(id), "name": .string(name), "kind": 1,
            "startTimeUnixNano": .string(String(start * 1_000_000)),
            "endTimeUnixNano": .string(String(max(start, end) * 1_000_000)),
            "attributes": .array(attributes.map { attribute($0.0, $0.1) }),
            "status": error.map { ["code": 2, "message": .string($0)] } ?? ["code": 1],
        ]
        if let parent { span["parentSpanId"] = .string(parent) }
        return .object(span)
    }

    /// An OTLP `KeyValue`; integers are strings, as proto3's JSON mapping of int64 says.
    private static func attribute(_ key: String, _ value: JSONValue) -> JSONValue {
        ["key": .string(key), "value": anyValue(value)]
    }

    private static func anyValue(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): ["stringValue": .string(text)]
        case .bool(let flag): ["boolValue": .bool(flag)]
        case .number(let number):
            number == number.rounded() ? ["intValue": .string(String(Int64(number)))] : ["doubleValue": .number(number)]
        case .array(let values): ["arrayValue": ["values": .array(values.map(anyValue))]]
        case .object, .null: ["stringValue": .string(value.canonicalText)]
        }
    }
}
