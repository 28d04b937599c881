import Curl
import Foundation
import Providers
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

/// Against the real local model server: llama.cpp's own server (`llama-server`, from the
/// xllamacpp wheel) with SmolLM2-135M, through the `llama.cpp` quirks its users set. A 135M
/// model is not clever: these tests pin mechanics — valid calls of offered tools, schemas
/// honoured, streams assembled, usage counted, errors read — not the quality of answers.
@Suite(.usesLocalModel) struct LocalModelTests {
    func chat(_ quirks: CompatibilityQuirks = .llamaCpp, retry: RetryPolicy = .default) async throws
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

    @Test func aStreamReportsItsUsageAndAnUnstreamedReplyTheSame() async throws {
        let request = ModelRequest(messages: [.user("Say hello.")], maxOutputTokens: 8, temperature: 0)
        var unstreamed = CompatibilityQuirks.llamaCpp
        unstreamed.streams = false
        let streamed = try #require(try await chat().complete(request).usage)
        let whole = try #require(try await chat(unstreamed).complete(request).usage)
        #expect(streamed.inputTokens > 0 && streamed.outputTokens > 0 && streamed.outputTokens <= 8)
        // The same prompt counts the same tokens either way (the second may come from its cache).
        #expect(whole.inputTokens == streamed.inputTokens)
        #expect(whole.cachedInputTokens ?? 0 > 0)
    }

    @Test func theContextWindowIsReadFromProps() async throws {
        let window = try #require(await chat().contextWindow())
        #expect(window.tokens == 8192)
        #expect(window.source.hasSuffix("/props"))
    }

    @Test func streamedChatArrivesInPieces() async throws {
        var deltas = 0
        var finish: FinishReason?
        for try await event in try await chat().stream(
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

    /// SmolLM2's chat template renders no tools, so llama.cpp offers the model none and
    /// `tool_choice` alone gets text; the quirks ask the call as structured output.
    @Test func forcedToolCallNamesTheToolWithValidArguments() async throws {
        let response = try await chat().complete(
            ModelRequest(
                messages: [.user("What is the weather in Paris?")], tools: [weatherTool],
                toolChoice: .tool("get_weather"), maxOutputTokens: 64, temperature: 0))
        let call = try #require(response.toolCalls.first)
        #expect(call.name == "get_weather")
        #expect(conforms(try call.parsedArguments(), to: weatherTool.parameters))
        #expect(response.finishReason == .toolCalls)

        var native = CompatibilityQuirks.llamaCpp
        native.forcesToolsThroughSchema = false
        let ignored = try await chat(native).complete(
            ModelRequest(
                messages: [.user("What is the weather in Paris?")], tools: [weatherTool],
                toolChoice: .tool("get_weather"), maxOutputTokens: 16, temperature: 0))
        #expect(ignored.toolCalls.isEmpty, "llama.cpp now offers SmolLM2 tools: the schema route may go")
    }

    @Test func aRequiredCallAmongSeveralToolsIsOneOfThem() async throws {
        let search = ToolSpec(
            name: "search_code", description: "Search the code base for a text",
            parameters: ["type": "object", "properties": ["query": ["type": "string"]], "required": ["query"]])
        for question in ["What is the weather in Oslo?", "Where is fetchWeather defined in the code?"] {
            let response = try await chat().complete(
                ModelRequest(
                    messages: [.user(question)], tools: [weatherTool, search], toolChoice: .required,
                    maxOutputTokens: 64, temperature: 0))
            let call = try #require(response.toolCalls.first, "\(response.text)")
            let tool = try #require([weatherTool, search].first { $0.name == call.name })
            #expect(response.text.isEmpty)
            if response.finishReason == .length {
                // Cut off by the token limit (SmolLM2 runs on inside a string): still a call
                // of an offered tool, whose arguments say they are incomplete.
                #expect(throws: ModelError.self) { try call.parsedArguments() }
            } else {
                #expect(conforms(try call.parsedArguments(), to: tool.parameters))
                #expect(response.finishReason == .toolCalls)
            }
        }
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
        // Streamed with the tools offered, and the stream's usage decoded.
        #expect(response.finishReason != nil)
        #expect(response.usage != nil)
    }

    @Test func structuredOutputThroughTheServersGrammar() async throws {
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

    @Test func aPromptLongerThanTheWindowIsAContextError() async throws {
        let provider = try await chat(retry: .never)
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider.complete(
                ModelRequest(
                    messages: [.user(String(repeating: "word ", count: 10_000))], maxOutputTokens: 8))
        }
        #expect(error?.status == 400)
        #expect(error?.code == .contextTooLong)
        #expect(error?.message.contains("8192") == true, "\(error?.message ?? "")")
    }

    @Test func aSchemaTheGrammarCannotBuildIsABadRequest() async throws {
        let provider = try await chat(retry: .never)
        let error = await #expect(throws: ModelError.self) {
            _ = try await provider.complete(
                ModelRequest(
                    messages: [.user("hi")],
                    responseFormat: .jsonSchema(
                        name: "x", schema: ["type": "object", "properties": ["a": ["$ref": "#/nowhere"]]]),
                    maxOutputTokens: 8))
        }
        #expect(error?.status == 400)
        #expect(error?.code == .badRequest)
        #expect(error?.message.contains("nowhere") == true, "\(error?.message ?? "")")
    }
}
