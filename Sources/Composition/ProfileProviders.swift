public import Curl
import Providers
public import Switchyard

/// A profile made into the provider it describes: the one place that knows which concrete
/// provider serves which kind of profile.
extension ModelProfile {
    func quirks() throws(ConfigurationError) -> CompatibilityQuirks {
        // A server of no named kind is not asked about itself.
        var quirks: CompatibilityQuirks = kind == .openAI ? .openAI : CompatibilityQuirks()
        if case .string(let name)? = options["quirks"] {
            guard let named = CompatibilityQuirks.named(name) else {
                throw ConfigurationError(
                    at: "profiles.\(self.name).options.quirks",
                    message: "unknown quirks '\(name)'; expected openai, ollama, llama.cpp, llama-cpp-python or vllm")
            }
            quirks = named
        }
        if case .string(let mode)? = options["structured_output"] {
            guard let structured = CompatibilityQuirks.StructuredOutput(rawValue: mode) else {
                throw ConfigurationError(
                    at: "profiles.\(name).options.structured_output",
                    message: "unknown mode '\(mode)'; expected json_schema, json_object or tool")
            }
            quirks.structuredOutput = structured
        }
        if case .string(let mode)? = options["forced_tool_calls"] {
            switch mode {
            case "tool_choice": quirks.forcesToolsThroughSchema = false
            case "schema": quirks.forcesToolsThroughSchema = true
            default:
                throw ConfigurationError(
                    at: "profiles.\(name).options.forced_tool_calls",
                    message: "unknown mode '\(mode)'; expected tool_choice or schema")
            }
        }
        if case .bool(let flag)? = options["parallel_tool_calls"] { quirks.sendsParallelToolCalls = flag }
        if case .bool(let flag)? = options["stream"] { quirks.streams = flag }
        if case .bool(let flag)? = options["stream_usage"] { quirks.requestsStreamUsage = flag }
        if case .bool(let flag)? = options["max_completion_tokens"] { quirks.usesMaxCompletionTokens = flag }
        if case .bool(let flag)? = options["text_tool_calls"] { quirks.parsesToolCallsInText = flag }
        return quirks
    }

    /// The provider this profile describes, with its API key from `environment`.
    public func chatProvider(
        environment: [String: String], client: HTTPClient = .shared, retry: RetryPolicy = .default
    ) throws(ConfigurationError) -> any ModelProvider {
        try chatProvider(apiKey: try apiKey(environment), client: client, retry: retry)
    }

    /// The provider this profile describes, with `apiKey` (nil for one that is only asked
    /// what it would send, as in a replay).
    public func chatProvider(
        apiKey: String?, client: HTTPClient = .shared, retry: RetryPolicy = .default
    ) throws(ConfigurationError) -> any ModelProvider {
        let client = proxied(client)
        switch kind {
        case .ollama:
            var modelOptions = options
            let keepAlive = modelOptions.removeValue(forKey: "keep_alive")
            let textCalls = modelOptions.removeValue(forKey: "text_tool_calls")
            return OllamaProvider(
                baseURL: baseURL, model: model, options: modelOptions,
                keepAlive: keepAlive.map { value in
                    if case .string(let text) = value { text } else { value.canonicalText }
                }, parsesToolCallsInText: textCalls == .bool(true), client: client, retry: retry,
                apiKey: apiKey)
        case .openAI, .openAICompatible:
            if options["api"] == "responses" {
                return OpenAIResponsesProvider(
                    baseURL: baseURL, apiKey: apiKey, model: model, client: client, retry: retry)
            }
            var provider = OpenAIChatProvider(
                baseURL: baseURL, apiKey: apiKey, model: model, quirks: try quirks(), client: client,
                retry: retry, provider: kind.rawValue)
            provider.defaultTemperature = options["temperature"]?.doubleValue
            provider.defaultSeed = options["seed"]?.intValue
            provider.defaultMaxOutputTokens = options["max_output_tokens"]?.intValue
            return provider
        }
    }

    /// `client`, or one like it that goes through the profile's proxy.
    private func proxied(_ client: HTTPClient) -> HTTPClient {
        guard let proxy else { return client }
        var configuration = client.configuration
        configuration.proxy = proxy
        return HTTPClient(configuration: configuration)
    }

    /// The embedding provider this profile describes.
    public func embeddingProvider(
        environment: [String: String], client: HTTPClient = .shared, retry: RetryPolicy = .default
    ) throws(ConfigurationError) -> any EmbeddingProvider {
        let client = proxied(client)
        switch kind {
        case .ollama:
            return OllamaProvider(
                baseURL: baseURL, model: model, client: client, retry: retry, apiKey: try apiKey(environment))
        case .openAI, .openAICompatible:
            return OpenAIEmbeddingProvider(
                baseURL: baseURL, apiKey: try apiKey(environment), model: model, client: client, retry: retry,
                provider: kind.rawValue)
        }
    }
}
