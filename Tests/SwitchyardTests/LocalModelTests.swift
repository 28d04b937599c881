import Curl
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// Checks `arguments` against the simple JSON Schemas these tests use: an object with
/// typed properties and required keys.
func conforms(_ arguments: [String: JSONValue], to schema: JSONValue) -> Bool {
    for case .string(let key) in schema["required"]?.arrayValue ?? [] where arguments[key] == nil { return false }
    for (key, value) in arguments {
        guard let type = schema["properties"]?[key]?["type"]?.stringValue else { continue }
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("number", .number): continue
        case ("integer", .number(let number)) where number == number.rounded(): continue
        default: return false
        }
    }
    return true
}

/// Against the real local model server (llama-cpp-python + SmolLM2-135M). A 135M model
/// is not clever: these tests pin mechanics — valid calls of offered tools, schemas
/// honoured, streams assembled — not the quality of answers.
@Suite(.usesLocalModel) struct LocalModelTests {
    func chat(_ quirks: CompatibilityQuirks = .llamaCppPython, retry: RetryPolicy = .default) async throws
        -> OpenAIChatProvider
    {
        let peer = try await LocalModelPeer.endpoints()
        return OpenAIChatProvider(
            baseURL: peer.chat, apiKey: nil, model: "smollm2", quirks: quirks, retry: retry,
            provider: "openai-compatible")
    }

    @Test func plainChat() async throws {
        let response = try await chat().complete(
            ModelRequest(messages: [.user("Say hello.")], maxOutputTokens: 16, temperature: 0))
        #expect(!response.text.isEmpty)
        #expect(response.finishReason == .stop || response.finishReason == .length)
        #expect(response.toolCalls.isEmpty)
    }

    @Test func plainChatReportsItsUsage() async throws {
        // The preset asks unstreamed: llama-cpp-python's streams carry no usage.
        let response = try await chat().complete(
            ModelRequest(messages: [.user("Say hello.")], maxOutputTokens: 8, temperature: 0))
        let usage = try #require(response.usage)
        #expect(usage.inputTokens > 0 && usage.outputTokens > 0)
    }

    @Test func streamedChatArrivesInPieces() async throws {
        var deltas = 0
        var finish: FinishReason?
        var streaming = CompatibilityQuirks.llamaCppPython
        streaming.streams = true
        for try await event in try await chat(streaming).stream(
            ModelRequest(messages: [.user("Count from one to ten.")], maxOutputTokens: 24, temperature: 0))
        {
            switch event {
            case .textDelta: deltas += 1
            case .finish(let reason): finish = reason
            default: break
            }
        }
        #expect(deltas > 1)
        #expect(finish == .length || finish == .stop)
    }

    @Test func forcedToolCallNamesTheToolWithValidArguments() async throws {
        let response = try await chat().complete(
            ModelRequest(
                messages: [.user("What is the weather in Paris?")], tools: [weatherTool],
                toolChoice: .tool("get_weather"), maxOutputTokens: 64, temperature: 0))
        let call = try #require(response.toolCalls.first)
        #expect(call.name == "get_weather")
        #expect(conforms(try call.parsedArguments(), to: weatherTool.parameters))
        #expect(response.finishReason == .toolCalls)
    }

    @Test func automaticToolChoiceGivesAValidCallOrText() async throws {
        let search = ToolSpec(
            name: "search_code", description: "Search the code base for a text",
            parameters: ["type": "object", "properties": ["query": ["type": "string"]], "required": ["query"]])
        let response = try await chat().complete(
            ModelRequest(
                messages: [.user("What is the weather in Oslo?")], tools: [weatherTool, search],
                toolChoice: .auto, maxOutputTokens: 256, temperature: 0))
        for call in response.toolCalls {
            let tool = try #require(
                [weatherTool, search].first { $0.name == call.name }, "\(call.name) was not offered")
            if response.finishReason == .length {
                // Cut off by the token limit: the arguments may be incomplete, and say so.
                continue
            }
            #expect(conforms(try call.parsedArguments(), to: tool.parameters))
        }
        // llama-cpp-python cannot stream an optional tool choice: the quirks send it
        // unstreamed, and the whole reply (with its usage) is decoded.
        #expect(response.finishReason != nil)
        #expect(response.usage != nil)
    }

    @Test func structuredOutputThroughTheForcedToolPath() async throws {
        let schema: JSONValue = [
            "type": "object",
            "properties": ["name": ["type": "string", "maxLength": 20], "age": ["type": "integer"]],
            "required": ["name", "age"],
        ]
        let response = try await chat().complete(
            ModelRequest(
                messages: [.user("Invent a person with a short name.")],
                responseFormat: .jsonSchema(name: "person", schema: schema), maxOutputTokens: 96, temperature: 0))
        guard case .object(let answer) = try JSONValue(parsing: response.text) else {
            Issue.record("not a JSON object: \(response.text)")
            return
        }
        #expect(conforms(answer, to: schema))
    }

    @Test func embeddingsHaveStableDimensionsAndAreDeterministic() async throws {
        let peer = try await LocalModelPeer.endpoints()
        let embedder = OpenAIEmbeddingProvider(baseURL: peer.embed, apiKey: nil, model: "smollm2")
        let first = try await embedder.embed(["func fetchWeather(city: String)", "a recipe for bread"])
        let again = try await embedder.embed(["func fetchWeather(city: String)"])
        #expect(first.count == 2)
        #expect(first.allSatisfy { $0.count == 576 })
        #expect(first[0] == again[0])
        #expect(first[0] != first[1])
        let norm = first[0].reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) < 1e-4)
    }

    @Test func anErrorReplyIsAModelError() async throws {
        // llama-cpp-python refuses OpenAI's json_schema response format with a 500.
        var quirks = CompatibilityQuirks.llamaCppPython
        quirks.structuredOutput = .jsonSchema
        let provider = try await chat(quirks, retry: .never)
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider.complete(
                ModelRequest(
                    messages: [.user("hi")], responseFormat: .jsonSchema(name: "x", schema: ["type": "object"]),
                    maxOutputTokens: 8))
        }
        #expect(error?.status == 500)
        #expect(error?.code == .serverError)
        #expect(error?.message.isEmpty == false)
    }
}
