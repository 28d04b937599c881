/// A model call that failed, in no provider's dialect.
public struct ModelError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let rateLimited = Code(rawValue: "rate-limited")
        /// Billing: retrying does not help.
        public static let quotaExhausted = Code(rawValue: "quota-exhausted")
        public static let contextTooLong = Code(rawValue: "context-too-long")
        public static let modelNotFound = Code(rawValue: "model-not-found")
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let badRequest = Code(rawValue: "bad-request")
        public static let serverError = Code(rawValue: "server-error")
        /// The server is overloaded or busy (Ollama's 503 queue-full).
        public static let overloaded = Code(rawValue: "overloaded")
        public static let transport = Code(rawValue: "transport")
        /// The server said something this client cannot read: bad JSON, a stream cut short.
        public static let malformedResponse = Code(rawValue: "malformed-response")
        /// A tool call's arguments are not a JSON object.
        public static let malformedToolArguments = Code(rawValue: "malformed-tool-arguments")
        public static let cancelled = Code(rawValue: "cancelled")
        /// The run's wall-time budget ran out while the model was answering (``ModelDeadline``).
        public static let deadlineExceeded = Code(rawValue: "deadline-exceeded")
    }

    public var code: Code
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// The provider's own words.
    public var message: String
    /// The provider's request id (`x-request-id`), for support tickets.
    public var requestID: String?
    /// Which provider and endpoint, such as `openai https://api.openai.com/v1/chat/completions`.
    public var provider: String?
    /// Whether trying again may help.
    public var isRetryable: Bool
    /// How long the server asked to wait (`retry-after`, `retry-after-ms`).
    public var retryAfter: Duration?
    /// What the server said of its rate limits.
    public var rateLimit: RateLimit?

    public init(
        code: Code, status: Int? = nil, message: String, requestID: String? = nil, provider: String? = nil,
        isRetryable: Bool? = nil
    ) {
        self.code = code
        self.status = status
        self.message = message
        self.requestID = requestID
        self.provider = provider
        self.isRetryable =
            isRetryable ?? [.rateLimited, .serverError, .overloaded, .transport].contains(code)
    }

    public var description: String {
        var text = "\(code)"
        if let status { text += " (HTTP \(status))" }
        text += ": \(message)"
        if let provider { text += " — \(provider)" }
        if let requestID { text += ", request id \(requestID)" }
        return text
    }
}

/// When the model calls made in a task must have answered: the end of the run's wall-time
/// budget. The gateway sets it around each call; a provider gives the call no more time than
/// is left (`ProviderEndpoint.post`: libcurl ends a transfer that outlives it, and no retry
/// waits past it) and fails it with `deadline-exceeded`, which the effects record, so that a
/// replay takes the same turn without waiting.
public enum ModelDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?
}

/// The `x-ratelimit-*` headers of an OpenAI reply.
public struct RateLimit: Sendable, Hashable {
    public var limitRequests: Int?
    public var limitTokens: Int?
    public var remainingRequests: Int?
    public var remainingTokens: Int?
    /// Go-style durations, such as `1s` or `6m0s`, as the server wrote them.
    public var resetRequests: String?
    public var resetTokens: String?

    public init(
        limitRequests: Int? = nil, limitTokens: Int? = nil, remainingRequests: Int? = nil,
        remainingTokens: Int? = nil, resetRequests: String? = nil, resetTokens: String? = nil
    ) {
        self.limitRequests = limitRequests
        self.limitTokens = limitTokens
        self.remainingRequests = remainingRequests
        self.remainingTokens = remainingTokens
        self.resetRequests = resetRequests
        self.resetTokens = resetTokens
    }
}
