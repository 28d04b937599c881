import Foundation

/// A named model setup: which provider, where, which model, and how far it is trusted.
///
/// Keys under `profiles.NAME`: `provider` (`ollama`, `openai`, `openai-compatible`),
/// `base_url`, `model`, `api_key_env`, `clearance` (`public` … `secret`), `proxy` (a proxy URL:
/// without one a local profile connects directly and any other uses the environment's),
/// `context_window` (tokens; without it a run asks the server, where the server says),
/// `price.input` / `price.output` (USD per million tokens), and `options.*`: for
/// Ollama its model options (`num_ctx`, `temperature`, …) plus `keep_alive` and
/// `text_tool_calls`; for the OpenAI kinds `api` (`chat`, `responses`), `quirks`
/// (`openai`, `ollama`, `llama.cpp`, `llama-cpp-python`, `vllm`), `structured_output`
/// (`json_schema`, `json_object`, `tool`), `forced_tool_calls` (`tool_choice`, `schema`),
/// `parallel_tool_calls`, `stream`,
/// `stream_usage`, `max_completion_tokens`, `text_tool_calls`, and the sampling defaults
/// `temperature` and `seed`.
public struct ModelProfile: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case ollama
        case openAI = "openai"
        case openAICompatible = "openai-compatible"
    }

    /// USD per million tokens; a run's header records it as `{"input": …, "output": …}`.
    public struct Price: Sendable, Hashable, Codable {
        public var inputPerMillion: Double
        public var outputPerMillion: Double

        enum CodingKeys: String, CodingKey {
            case inputPerMillion = "input"
            case outputPerMillion = "output"
        }

        public init(inputPerMillion: Double, outputPerMillion: Double) {
            self.inputPerMillion = inputPerMillion
            self.outputPerMillion = outputPerMillion
        }

        /// What `usage` costs in USD.
        public func cost(of usage: Usage) -> Double {
            (Double(usage.inputTokens) * inputPerMillion + Double(usage.outputTokens) * outputPerMillion) / 1_000_000
        }
    }

    public var name: String
    public var kind: Kind
    public var baseURL: String
    public var model: String
    /// The environment variable that holds the API key.
    public var apiKeyEnvironment: String?
    public var clearance: Confidentiality
    public var options: [String: JSONValue]
    public var price: Price?
    /// The proxy its requests go through; `nil`: none for a local profile, the environment's
    /// (`https_proxy`, …) for any other.
    public var proxy: String?
    /// The tokens a request may take, when the settings say (`context_window`, or Ollama's
    /// `options.num_ctx`); otherwise a run asks the server.
    public var contextWindow: ContextWindow?

    static let keys: Set<String> = [
        "provider", "base_url", "model", "api_key_env", "clearance", "price.input", "price.output", "proxy",
        "context_window",
    ]
    static let openAIOptions: Set<String> = [
        "api", "quirks", "structured_output", "forced_tool_calls", "parallel_tool_calls", "stream", "stream_usage",
        "max_completion_tokens",
        "text_tool_calls", "temperature", "seed", "max_output_tokens",
    ]

    /// Every profile the settings define. Unknown keys are errors, not ignored.
    public static func all(
        from settings: Settings, environment: [String: String]
    ) throws(ConfigurationError) -> [String: ModelProfile] {
        var grouped: [String: [String: Settings.Entry]] = [:]
        for (key, entry) in settings.children(of: "profiles") {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw ConfigurationError(at: entry.origin, message: "profiles.\(key) must be a mapping of settings")
            }
            grouped[parts[0], default: [:]][parts[1]] = entry
        }
        var profiles: [String: ModelProfile] = [:]
        for (name, entries) in grouped {
            // Settings from the workspace were checked against what was defined when they were
            // read; a profile nothing else defines is checked here, so that a command without a
            // spec does not take a profile the repository made up.
            var base = Settings()
            for (key, entry) in entries where entry.trust == .user { base.entries["profiles.\(name).\(key)"] = entry }
            for (key, entry) in entries.sorted(by: { $0.key < $1.key }) where entry.trust == .workspace {
                if let rule = WorkspaceTrust.loosening("profiles.\(name).\(key)", entry.value, over: base) {
                    throw WorkspaceTrust.refusal("profiles.\(name).\(key)", rule, at: entry.origin)
                }
            }
            profiles[name] = try ModelProfile(name: name, entries: entries, environment: environment)
        }
        return profiles
    }

    /// The profile `name`, or an error that lists the ones there are.
    public static func named(
        _ name: String, in settings: Settings, environment: [String: String]
    ) throws(ConfigurationError) -> ModelProfile {
        let profiles = try all(from: settings, environment: environment)
        guard let profile = profiles[name] else {
            let known = profiles.keys.sorted()
            throw ConfigurationError(
                at: "profiles.\(name)",
                message: "no such profile; "
                    + (known.isEmpty
                        ? "define one in switchyard.yaml or with --set profiles.\(name).provider=ollama --set profiles.\(name).model=…"
                        : "known profiles: \(known.joined(separator: ", "))"))
        }
        return profile
    }

    init(name: String, entries: [String: Settings.Entry], environment: [String: String]) throws(ConfigurationError) {
        func string(_ key: String) throws(ConfigurationError) -> String? {
            guard let entry = entries[key] else { return nil }
            guard case .string(let value) = entry.value else {
                throw ConfigurationError(at: entry.origin, message: "profiles.\(name).\(key) must be text")
            }
            return value
        }
        func number(_ key: String) throws(ConfigurationError) -> Double? {
            guard let entry = entries[key] else { return nil }
            guard case .number(let value) = entry.value else {
                throw ConfigurationError(at: entry.origin, message: "profiles.\(name).\(key) must be a number")
            }
            return value
        }
        let location = entries.values.map(\.origin).min() ?? "profiles.\(name)"
        for (key, entry) in entries where !Self.keys.contains(key) && !key.hasPrefix("options.") {
            throw ConfigurationError(
                at: entry.origin,
                message:
                    "unknown setting profiles.\(name).\(key); expected one of \(Self.keys.sorted().joined(separator: ", ")), options.*"
            )
        }
        guard let providerName = try string("provider") else {
            throw ConfigurationError(
                at: location, message: "profiles.\(name).provider is missing (ollama, openai or openai-compatible)")
        }
        guard let kind = Kind(rawValue: providerName) else {
            throw ConfigurationError(
                at: entries["provider"]!.origin,
                message: "unknown provider '\(providerName)'; expected ollama, openai or openai-compatible")
        }
        guard let model = try string("model"), !model.isEmpty else {
            throw ConfigurationError(at: location, message: "profiles.\(name).model is missing")
        }
        self.name = name
        self.kind = kind
        self.model = model
        switch kind {
        case .ollama: baseURL = try string("base_url") ?? Endpoints.ollama(environment)
        case .openAI: baseURL = try string("base_url") ?? Endpoints.openAI(environment)
        case .openAICompatible:
            guard let url = try string("base_url") else {
                throw ConfigurationError(
                    at: location, message: "profiles.\(name).base_url is missing; an openai-compatible server needs one"
                )
            }
            baseURL = url
        }
        apiKeyEnvironment = try string("api_key_env") ?? (kind == .openAI ? "OPENAI_API_KEY" : nil)
        proxy = try string("proxy")
        if let level = try string("clearance") {
            guard let clearance = Confidentiality(name: level) else {
                throw ConfigurationError(
                    at: entries["clearance"]!.origin,
                    message: "unknown clearance '\(level)'; expected public, internal, private or secret")
            }
            self.clearance = clearance
        } else {
            self.clearance = kind == .openAI || !Self.isLocal(baseURL) ? .internal : .secret
        }
        var options: [String: JSONValue] = [:]
        for (key, entry) in entries where key.hasPrefix("options.") {
            let option = String(key.dropFirst("options.".count))
            if kind != .ollama, !Self.openAIOptions.contains(option) {
                throw ConfigurationError(
                    at: entry.origin,
                    message:
                        "unknown option \(option) for \(kind.rawValue); expected one of \(Self.openAIOptions.sorted().joined(separator: ", "))"
                )
            }
            if ["temperature", "seed", "max_output_tokens"].contains(option), kind != .ollama,
                entry.value.doubleValue == nil
            {
                throw ConfigurationError(at: entry.origin, message: "profiles.\(name).\(key) must be a number")
            }
            options[option] = entry.value
        }
        self.options = options
        // The window the spec gives, or the one Ollama is told to use.
        func window(_ key: String, _ value: Double?) throws(ConfigurationError) -> ContextWindow? {
            guard let value else { return nil }
            guard let tokens = Int(exactly: value), tokens > 0, tokens <= ContextWindow.largest else {
                throw ConfigurationError(
                    at: entries[key]?.origin ?? location,
                    message: "profiles.\(name).\(key): expected a whole number of tokens up to \(ContextWindow.largest)"
                )
            }
            return ContextWindow(tokens: tokens, source: "profiles.\(name).\(key)")
        }
        if let configured = try window("context_window", try number("context_window")) {
            contextWindow = configured
        } else if kind == .ollama {
            contextWindow = try window("options.num_ctx", options["num_ctx"]?.doubleValue)
        } else {
            contextWindow = nil
        }
        let input = try number("price.input")
        let output = try number("price.output")
        price = input == nil && output == nil ? nil : Price(inputPerMillion: input ?? 0, outputPerMillion: output ?? 0)
    }

    /// Whether `url` reaches this machine by its address: an IPv4 loopback address
    /// (127.0.0.0/8, also IPv4-mapped), `::1`, or the name `localhost`, which resolves to
    /// loopback without asking DNS. A name that only looks like one (`127.0.0.1.evil.example`)
    /// is a name, and names are not trusted to stay local.
    public static func isLocal(_ url: String) -> Bool {
        guard var host = URLComponents(string: url)?.host?.lowercased() else { return false }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasSuffix(".") { host.removeLast() }
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { $0[0] } == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes == Array(repeating: 0, count: 15) + [1] { return true }
        return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
    }

    /// The API key from the environment; an error when the profile names a variable (or, for
    /// OpenAI, has the default `OPENAI_API_KEY`) that is not set: a request without its key
    /// would only fail at the server, or go out unauthenticated.
    public func apiKey(_ environment: [String: String]) throws(ConfigurationError) -> String? {
        guard let variable = apiKeyEnvironment else { return nil }
        if let key = environment[variable], !key.isEmpty { return key }
        throw ConfigurationError(
            at: "profiles.\(name).api_key_env", message: "\(variable) is not set; export it to use \(baseURL)")
    }

    /// What a chat run's header records of the profile it called.
    public var header: RunHeader.ChatProfile {
        RunHeader.ChatProfile(name: name, provider: kind.rawValue, model: model, baseURL: baseURL, clearance: clearance)
    }

    /// The cost of `usage` in USD, when the profile has a price.
    public func cost(of usage: Usage) -> Double? {
        price?.cost(of: usage)
    }
}
