import Foundation
import Providers
import Switchyard
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue(
            parsing:
                #" {"s":"a\"b\\c\/d\n\u00e9\ud83d\ude00","n":-12.5e2,"i":42,"z":0,"t":true,"f":false,"x":null,"a":[1,[],{}]} "#
        )
        #expect(value["s"] == .string("a\"b\\c/d\né😀"))
        #expect(value["n"] == .number(-1250))
        #expect(value["i"]?.intValue == 42)
        #expect(value["z"] == 0)
        #expect(value["t"] == true)
        #expect(value["f"] == false)
        #expect(value["x"] == .null)
        #expect(value["a"] == [1, [], [:]])
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "\"abc", "\"\\x\"", "\"\\ud800\"",
        "\"a\u{01}b\"", "[1] [2]", "{\"a\":1,}", "nul", "[", "\"\\u12\"",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        #expect(error?.message.contains("nested deeper") == true)
    }

    /// Random documents: parsing what Foundation serialises gives back the same value,
    /// and the canonical text parses to the same value again.
    @Test func agreesWithFoundationOnRandomDocuments() throws {
        var generator = SystemRandomNumberGenerator()
        func random(depth: Int) -> Any {
            switch depth > 3 ? Int.random(in: 0..<4, using: &generator) : Int.random(in: 0..<6, using: &generator) {
            case 0: return Int.random(in: -1_000_000...1_000_000, using: &generator)
            case 1: return Double.random(in: -1e6...1e6, using: &generator)
            case 2:
                let scalars = (0..<Int.random(in: 0..<12, using: &generator)).map { _ in
                    ["a", "é", "\"", "\\", "\n", "😀", "\u{7f}", "/", " "].randomElement(using: &generator)!
                }
                return scalars.joined()
            case 3: return Bool.random(using: &generator)
            case 4: return (0..<Int.random(in: 0..<4, using: &generator)).map { _ in random(depth: depth + 1) }
            default:
                var object: [String: Any] = [:]
                for index in 0..<Int.random(in: 0..<4, using: &generator) {
                    object["k\(index)"] = random(depth: depth + 1)
                }
                return object
            }
        }
        for _ in 0..<300 {
            let document: [String: Any] = ["root": random(depth: 0)]
            let data = try JSONSerialization.data(withJSONObject: document)
            let parsed = try JSONValue(parsing: data)
            let reference = try JSONDecoder().decode(JSONValue.self, from: data)
            #expect(parsed == reference)
            #expect(try JSONValue(parsing: parsed.canonicalText) == parsed)
        }
    }

    @Test func canonicalTextSortsKeys() throws {
        let value = try JSONValue(parsing: #"{"b":1,"a":{"d":[true,null],"c":"x"}}"#)
        #expect(value.canonicalText == #"{"a":{"c":"x","d":[true,null]},"b":1}"#)
    }

    /// Request bodies keep a schema's required properties first, in `required`'s order, at
    /// any depth (llama.cpp generates them in that order); the rest stay sorted, and the
    /// bytes parse back to the same value.
    @Test func requestBytesWriteSchemaPropertiesInRequiredOrder() throws {
        let step: JSONValue = [
            "type": "object", "required": ["kind", "tool", "arguments"],
            "properties": ["arguments": ["type": "object"], "kind": ["const": "tool"], "tool": ["const": "read"]],
        ]
        let body: JSONValue = [
            "tools": [
                ["parameters": ["type": "object", "properties": ["zeta": true, "alpha": step], "required": ["zeta"]]]
            ],
            "model": "m",
        ]
        let text = String(decoding: body.requestBytes, as: UTF8.self)
        #expect(
            text
                == #"{"model":"m","tools":[{"parameters":{"properties":{"zeta":true,"alpha":{"properties":{"kind":{"const":"tool"},"tool":{"const":"read"},"arguments":{"type":"object"}},"required":["kind","tool","arguments"],"type":"object"}},"required":["zeta"],"type":"object"}}]}"#
        )
        #expect(try JSONValue(parsing: text) == body)
        // Anything that is not a schema is written as canonical text.
        let plain: JSONValue = ["required": "yes", "properties": ["b": 1, "a": 2]]
        #expect(plain.requestBytes == plain.canonicalBytes)
    }
}

@Suite struct OutputLimitTests {
    @Test func cutsAtLineBoundariesAndSaysWhatIsLeft() {
        let limit = OutputLimit(bytes: 100, lines: 3)
        let text = (1...10).map { "line \($0)\n" }.joined()
        let (capped, truncated) = limit.apply(to: text, hint: "read on")
        #expect(truncated)
        #expect(capped == "line 1\nline 2\nline 3\n[truncated: 7 more lines (50 bytes) not shown; read on]\n")
        #expect(limit.apply(to: "short\n", hint: "x") == ("short\n", false))
    }

    @Test func aSingleOverlongLineIsCutAtACharacterBoundary() {
        let limit = OutputLimit(bytes: 10, lines: 5)
        let text = String(repeating: "é", count: 20)
        let kept = limit.prefix(of: text)
        #expect(kept == String(repeating: "é", count: 5))
        #expect(limit.apply(to: text, hint: "more").truncated)
    }
}

/// A message keeps its renderings (the trace's JSON, each provider's wire form) so a
/// conversation resent every turn is rendered once a message; a change drops them.
@Suite struct MessageRenderingTests {
    /// Each provider splices the bytes its messages were written to once into the body: they
    /// must be the bytes of the body it records, whole, for every kind of message and after
    /// a message changes.
    @Test func theBytesSentAreTheBodyRecorded() throws {
        let call = ToolCall(id: "c\"1", name: "read", arguments: #"{"path":"a\\b","n":1}"#)
        var messages: [ChatMessage] = [
            .system("be brief"), .system("and exact"), .user("quote \" backslash \\ tab \t nul \u{0} é 🦀"),
            .assistant("", toolCalls: [call, ToolCall(id: "c2", name: "grep", arguments: "not json")]),
            .toolResult(for: call, content: "line\r\nline"), .assistant("thinking", toolCalls: [call]), .user(""),
        ]
        let tools = [
            ToolSpec(
                name: "read", description: "Read.",
                parameters: [
                    "type": "object", "required": ["path", "n"],
                    "properties": ["z": ["type": "string"], "path": ["type": "string"], "n": ["type": "integer"]],
                ])
        ]
        let chat = OpenAIChatProvider(baseURL: "http://127.0.0.1:1/v1", apiKey: nil, model: "m")
        let ollama = OllamaProvider(baseURL: "http://127.0.0.1:1", model: "m", options: ["num_ctx": 8192])
        let responses = OpenAIResponsesProvider(baseURL: "http://127.0.0.1:1/v1", apiKey: nil, model: "m")
        let providers: [any ModelProvider] = [chat, ollama, responses]
        for round in 0..<3 {
            for count in 0...messages.count {
                let request = ModelRequest(messages: Array(messages.prefix(count)), tools: tools, temperature: 0.5)
                for provider in providers {
                    let wire = provider.wire(request)
                    let sent = String(decoding: wire.bytes, as: UTF8.self)
                    #expect(sent == String(decoding: wire.body.requestBytes, as: UTF8.self), "\(type(of: provider))")
                    #expect(try JSONValue(parsing: sent) == wire.body)
                }
            }
            // Changed messages are written again, not served from what they were.
            messages[2].content += " \(round)"
            messages[3].toolCalls = Array(messages[3].toolCalls.dropLast())
        }
        #expect(responses.wire(ModelRequest(messages: messages)).body["instructions"] == "be brief\n\nand exact")
    }

    @Test func renderingsFollowEveryChangeAndNeverAffectEquality() throws {
        let call = ToolCall(id: "c1", name: "read", arguments: #"{"path":"a"}"#)
        var message = ChatMessage.assistant("first", toolCalls: [call])
        let wire = OpenAIChatProvider(baseURL: "http://127.0.0.1:1/v1", apiKey: nil, model: "m")
        func sent(_ message: ChatMessage) -> JSONValue? {
            wire.wire(ModelRequest(messages: [message])).body["messages"]?.arrayValue?.first
        }
        #expect(message.json["content"] == "first")
        #expect(sent(message)?["content"] == "first")
        let copy = message
        message.content = "second"
        #expect(message.json["content"] == "second")
        #expect(sent(message)?["content"] == "second")
        #expect(copy.json["content"] == "first")  // the copy kept its own
        message.toolCalls = []
        #expect(message.json["tool_calls"] == nil)
        message.role = .user
        #expect(sent(message)?["role"] == "user")
        message.toolCallID = "x"
        #expect(message.json["tool_call_id"] == "x")
        message.toolName = "read"
        #expect(message.json["tool_name"] == "read")

        // Rendered or not, equal messages are equal, hash alike and encode alike.
        let fresh = ChatMessage(role: .user, content: "second", toolCallID: "x", toolName: "read")
        #expect(fresh == message)
        #expect(fresh.hashValue == message.hashValue)
        let encoded = try JSONEncoder().encode(message)
        #expect(try JSONDecoder().decode(ChatMessage.self, from: encoded) == message)
        #expect(!String(decoding: encoded, as: UTF8.self).contains("renderings"))
    }
}
