import ArgumentParser
import Composition
import Foundation
import Switchyard

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Call one model directly, to check a setup.",
        discussion: """
            The profile comes from switchyard.yaml in the workspace, $SWITCHYARD_HOME/config.yaml \
            (default ~/.switchyard), or --set, e.g.:
              switchyard chat --set profiles.local.provider=ollama --set profiles.local.model=llama3.2 \\
                --profile local "Why is the sky blue?"
            --tools takes a JSON array of {name, description, parameters}; --schema a JSON Schema the \
            answer must satisfy. --json prints the collected result: text, tool calls with parsed \
            arguments, usage and finish reason.
            """
    )

    @Option(help: "The model profile to call.") var profile: String
    @Flag(help: "Print the answer as it arrives.") var stream = false
    @Option(
        help: ArgumentHelp(
            "Tools the model may call: a JSON array of {name, description, parameters}.", valueName: "FILE.json"))
    var tools: String?
    @Option(help: ArgumentHelp("auto, required, none, or a tool's name.", valueName: "CHOICE"))
    var toolChoice: String = "auto"
    @Option(help: ArgumentHelp("A JSON Schema the answer must satisfy.", valueName: "FILE.json"))
    var schema: String?
    @Option(help: "A system prompt.") var system: String?
    @Option(help: "Most tokens to generate.") var maxTokens: Int?
    @Option(help: "Sampling temperature.") var temperature: Double?
    @Flag(help: "Print the collected result as JSON.") var json = false
    @OptionGroup var settings: SettingsOptions
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "What to ask.") var prompt: String

    func run() async throws {
        let request = try makeRequest()
        let printsLive = stream && !json
        let outcome: ChatRun.Outcome
        do {
            let chat = ChatRun(
                profile: profile, workspace: settings.workspace, overrides: settings.overrides,
                store: try recording.store())
            outcome = try await chat.run(request, prompt: prompt) { event in
                guard printsLive else { return }
                switch event {
                case .textDelta(let text): FileHandle.standardOutput.write(Data(text.utf8))
                case .toolCall(let call): print("\n[tool call] \(call.name) \(call.arguments)")
                default: break
                }
            }
        } catch {
            throw fail(error)
        }
        let response = outcome.response
        if let run = outcome.run {
            FileHandle.standardError.write(Data("(recorded as run \(run); switchyard trace show \(run))\n".utf8))
        }
        if json {
            printJSON(Self.report(response))
        } else if stream {
            print("")
            printSummary(response)
        } else {
            if !response.text.isEmpty { print(response.text) }
            for call in response.toolCalls { print("[tool call] \(call.name) \(call.arguments)") }
            printSummary(response)
        }
    }

    private func printSummary(_ response: ModelResponse) {
        var parts: [String] = []
        if let reason = response.finishReason { parts.append("finish: \(reason.wireName)") }
        if let usage = response.usage { parts.append("tokens: \(usage.inputTokens) in, \(usage.outputTokens) out") }
        if !parts.isEmpty { FileHandle.standardError.write(Data("(\(parts.joined(separator: "; ")))\n".utf8)) }
    }

    func makeRequest() throws -> ModelRequest {
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        messages.append(.user(prompt))
        let toolSpecs = try tools.map { try ToolSpec.list(readJSON($0, what: "tools"), in: $0) } ?? []
        let choice: ToolChoice
        switch toolChoice {
        case "auto": choice = .auto
        case "required": choice = .required
        case "none": choice = .none
        case let name:
            guard toolSpecs.contains(where: { $0.name == name }) else {
                throw ValidationError("--tool-choice \(name): no such tool in --tools")
            }
            choice = .tool(name)
        }
        var format = ResponseFormat.text
        if let schema { format = .jsonSchema(name: "answer", schema: try readJSON(schema, what: "the schema")) }
        return ModelRequest(
            messages: messages, tools: toolSpecs, toolChoice: choice, responseFormat: format,
            maxOutputTokens: maxTokens, temperature: temperature)
    }

    static func report(_ response: ModelResponse) -> JSONValue {
        var object: [String: JSONValue] = [
            "text": .string(response.text),
            "tool_calls": .array(
                response.toolCalls.map { call in
                    var entry: [String: JSONValue] = [
                        "id": .string(call.id), "name": .string(call.name), "arguments_text": .string(call.arguments),
                    ]
                    switch Result(catching: { () throws(ModelError) in try call.parsedArguments() }) {
                    case .success(let arguments): entry["arguments"] = .object(arguments)
                    case .failure(let error):
                        entry["arguments"] = .null
                        entry["arguments_error"] = .string(error.message)
                    }
                    return .object(entry)
                }),
            "finish_reason": response.finishReason.map { .string($0.wireName) } ?? .null,
            "usage": response.usage.map { usage in
                [
                    "input_tokens": .number(Double(usage.inputTokens)),
                    "output_tokens": .number(Double(usage.outputTokens)),
                ]
            } ?? .null,
        ]
        if !response.reasoning.isEmpty { object["reasoning"] = .string(response.reasoning) }
        return .object(object)
    }
}

struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed texts with a profile's model; prints the vectors' dimensions.")

    @Option(help: "The embedding profile.") var profile: String
    @Flag(help: "Print the vectors as JSON.") var json = false
    @OptionGroup var settings: SettingsOptions
    @Argument(help: "The texts to embed.") var texts: [String]

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let vectors: [[Float]]
        do {
            let profile = try ModelProfile.named(self.profile, in: settings.load(), environment: environment)
            vectors = try await profile.embeddingProvider(environment: environment).embed(texts)
        } catch {
            throw fail(error)
        }
        if json {
            printJSON(
                .array(
                    zip(texts, vectors).map { text, vector in
                        [
                            "text": .string(text), "dimensions": .number(Double(vector.count)),
                            "vector": .array(vector.map { .number(Double($0)) }),
                        ]
                    }))
        } else {
            for (text, vector) in zip(texts, vectors) { print("\(vector.count) dimensions  \(text.prefix(60))") }
        }
    }
}
