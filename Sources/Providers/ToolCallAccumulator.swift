import Foundation
import Switchyard

/// Assembles tool calls from streamed deltas, robust to what servers really send:
/// calls keyed by `index`; a new `id` at a used index opens a new call (vLLM, Ollama's
/// qwen3-coder parser put several calls at index 0); without an index, a delta with a
/// new `id` opens a call and an arguments-only delta continues the last one (Gemini and
/// proxies omit `index`). `id` and `name` are set once — early llama.cpp repeated the
/// name in every delta; only `arguments` concatenate.
struct ToolCallAccumulator {
    private struct Partial {
        var id: String?
        var name = ""
        var arguments = ""
    }

    private var calls: [Partial] = []
    private var slotForIndex: [Int: Int] = [:]
    private var lastOpened: Int?

    var isEmpty: Bool { calls.isEmpty }

    mutating func apply(index: Int?, id: String?, name: String?, arguments: String?) {
        let id = id.flatMap { $0.isEmpty ? nil : $0 }
        let slot: Int
        if let index, let existing = slotForIndex[index] {
            if let id, let known = calls[existing].id, known != id {
                slot = open()
                slotForIndex[index] = slot
            } else {
                slot = existing
            }
        } else if let index {
            slot = open()
            slotForIndex[index] = slot
        } else if let last = lastOpened, id == nil || calls[last].id == nil || calls[last].id == id {
            slot = last
        } else {
            slot = open()
        }
        if calls[slot].id == nil, let id { calls[slot].id = id }
        if calls[slot].name.isEmpty, let name, !name.isEmpty { calls[slot].name = name }
        if let arguments { calls[slot].arguments += arguments }
    }

    private mutating func open() -> Int {
        calls.append(Partial())
        lastOpened = calls.count - 1
        return calls.count - 1
    }

    /// The calls so far, with ids made up for those that had none; then starts afresh.
    mutating func finish(idPrefix: String = "call_") -> [ToolCall] {
        defer {
            calls = []
            slotForIndex = [:]
            lastOpened = nil
        }
        return calls.enumerated().map { offset, call in
            ToolCall(id: call.id ?? "\(idPrefix)\(offset)", name: call.name, arguments: call.arguments)
        }
    }
}

/// Tool calls that a model wrote as text instead of calling (gotcha 2 of the wire
/// notes): `{"name": …, "arguments"|"parameters": {…}}`, alone or in `<tool_call>` tags,
/// accepted only when the name is one of the offered tools.
enum TextToolCalls {
    static func parse(_ text: String, offered: [ToolSpec]) -> [ToolCall]? {
        var body = text.trimming(" \n\r\t")
        if body.hasPrefix("```") {
            body = String(body.drop { $0 != "\n" }).trimming(" \n\r\t")
            if body.hasSuffix("```") { body = String(body.dropLast(3)).trimming(" \n\r\t") }
        }
        var fragments: [String] = []
        if body.hasPrefix("<tool_call>") {
            for piece in body.components(separatedBy: "<tool_call>") where !piece.isEmpty {
                let inner = piece.components(separatedBy: "</tool_call>")[0].trimming(" \n\r\t")
                fragments.append(inner)
            }
        } else {
            fragments = [body]
        }
        let names = Set(offered.map(\.name))
        var calls: [ToolCall] = []
        for fragment in fragments {
            guard fragment.hasPrefix("{"), let value = try? JSONValue(parsing: fragment),
                case .string(let name) = value["name"], names.contains(name)
            else { return nil }
            let arguments = value["arguments"] ?? value["parameters"] ?? .object([:])
            let text: String
            if case .string(let encoded) = arguments { text = encoded } else { text = arguments.canonicalText }
            calls.append(ToolCall(id: "call_\(calls.count)", name: name, arguments: text))
        }
        return calls.isEmpty ? nil : calls
    }
}
