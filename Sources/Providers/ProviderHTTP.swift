public import Curl
import Foundation
import Switchyard
import Synchronization

/// Where a provider sends its requests, and how it retries them.
public struct ProviderEndpoint: Sendable {
    /// For messages: `ollama`, `openai`, `openai-compatible`.
    public var provider: String
    public var baseURL: String { didSet { isLocal = ModelProfile.isLocal(baseURL) } }
    public var headers: HTTPHeaders
    public var client: HTTPClient
    public var retry: RetryPolicy
    /// Whether `baseURL` is on this machine: worked out once, not on every request.
    private var isLocal: Bool

    public init(
        provider: String, baseURL: String, headers: HTTPHeaders = [:], client: HTTPClient = .shared,
        retry: RetryPolicy = .default
    ) {
        self.provider = provider
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.isLocal = ModelProfile.isLocal(base)
        self.headers = headers
        self.client = client
        self.retry = retry
    }

    /// Whether requests connect directly: to an endpoint on this machine, whose traffic may be
    /// private, no proxy of the environment's (`http_proxy` is for the outside) carries them —
    /// only one the profile names.
    var bypassesProxy: Bool { isLocal && client.configuration.proxy == nil }

    /// The POST of `body` to `path`.
    func wire(_ path: String, body: JSONValue) -> WireRequest {
        WireRequest(url: baseURL + path, body: body)
    }

    /// The POST to `path` of `body` with the array `key` of the messages' items.
    func wire(_ path: String, body: [String: JSONValue], key: String, messages: [WireItems]) -> WireRequest {
        WireRequest(url: baseURL + path, body: body, key: key, messages: messages)
    }

    /// POSTs the wire request's body as JSON and hands a successful response to `consume`.
    ///
    /// Retryable failures are retried under `retry` until `consume` reports, through
    /// `delivered`, that it passed something on; after that a failure is final. Every
    /// failure comes out as a `ModelError`. Under a `ModelDeadline`, no attempt (and no wait
    /// between attempts) runs past it: libcurl ends a transfer still going at the deadline,
    /// and that is a `deadline-exceeded` error.
    func post<Result>(
        _ wire: WireRequest, timeouts: HTTPTimeouts? = nil,
        consume: (StreamingResponse, _ delivered: @escaping @Sendable () -> Void) async throws -> Result
    ) async throws -> Result {
        var request = HTTPRequest(
            method: .post, url: wire.url, headers: headers, body: wire.bytes, timeouts: timeouts)
        request.headers.set("Content-Type", "application/json")
        request.bypassProxy = bypassesProxy
        let label = "\(provider) \(request.url)"
        let deadline = ModelDeadline.current
        let deadlineExceeded = ModelError(
            code: .deadlineExceeded,
            message: "the run's wall-time budget ran out while the model was answering; the call was cancelled",
            provider: label, isRetryable: false)
        /// Waits before the next attempt, unless the deadline comes first.
        func wait(_ delay: Duration) async throws {
            if let deadline, ContinuousClock.now + delay >= deadline { throw deadlineExceeded }
            try await retry.sleep(delay)
        }
        var retriesTaken = 0
        while true {
            let delivered = DeliveryFlag()
            var cutByDeadline = false
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                guard left > .zero else { throw deadlineExceeded }
                var limits = timeouts ?? client.configuration.timeouts
                if limits.total.map({ $0 >= left }) ?? true {
                    limits.total = left
                    cutByDeadline = true
                }
                request.timeouts = limits
            }
            do {
                return try await client.stream(request) { response in
                    guard response.head.isSuccess else {
                        let bytes = (try? await response.body.collect(upTo: 1 << 20)) ?? []
                        throw StatusFailure(head: response.head, body: bytes)
                    }
                    return try await consume(response) { delivered.set() }
                }
            } catch let failure as StatusFailure {
                let error = ModelError(status: failure.head, body: failure.body, provider: label, retry: retry)
                guard !delivered.isSet, error.code != .quotaExhausted,
                    case .retry(let delay) = retry.decision(
                        status: failure.head.status, headers: failure.head.headers, retriesTaken: retriesTaken)
                else { throw error }
                try await wait(delay)
            } catch let error as HTTPError {
                if cutByDeadline, error.code == .totalTimeout { throw deadlineExceeded }
                let modelError = ModelError(transport: error, provider: label)
                guard !delivered.isSet,
                    case .retry(let delay) = retry.decision(error: error, retriesTaken: retriesTaken)
                else { throw modelError }
                try await wait(delay)
            } catch is CancellationError {
                throw ModelError(code: .cancelled, message: "the request was cancelled", provider: label)
            } catch let error as LineTooLong {
                throw ModelError(code: .malformedResponse, message: "\(error)", provider: label, isRetryable: false)
            }
            retriesTaken += 1
        }
    }

    /// POSTs `body` and decodes the whole JSON reply as `Reply`.
    func postJSON<Reply: Decodable>(_ path: String, body: JSONValue, as: Reply.Type) async throws -> Reply {
        try await post(wire(path, body: body)) { response, _ in
            let bytes = try await response.body.collect(upTo: 256 << 20)
            return try decode(Reply.self, from: bytes, what: path)
        }
    }

    /// GETs `path` and decodes the JSON reply.
    func getJSON<Reply: Decodable>(_ path: String, as: Reply.Type) async throws -> Reply {
        let label = "\(provider) \(baseURL + path)"
        let response: HTTPResponse
        do {
            var request = HTTPRequest(url: baseURL + path, headers: headers)
            request.bypassProxy = bypassesProxy
            response = try await client.send(request, maxBodyBytes: 64 << 20, retry: retry)
        } catch let error as HTTPError {
            throw ModelError(transport: error, provider: label)
        }
        guard response.isSuccess else {
            throw ModelError(
                status: HTTPResponseHead(status: response.status, headers: response.headers), body: response.body,
                provider: label, retry: retry)
        }
        return try decode(Reply.self, from: response.body, what: path)
    }

    /// The JSON a quick question gets (`GET`, or `POST` of `body`), or nil if the server
    /// does not answer it within a few seconds with a JSON document: for what a server may
    /// say of itself, never for what a run needs.
    func ask(_ url: String, body: JSONValue? = nil) async -> JSONValue? {
        var request = HTTPRequest(
            method: body == nil ? .get : .post, url: url, headers: headers,
            body: body.map { Array($0.canonicalText.utf8) },
            timeouts: HTTPTimeouts(connect: .seconds(2), idle: .seconds(2), total: .seconds(3)))
        if body != nil { request.headers.set("Content-Type", "application/json") }
        request.bypassProxy = bypassesProxy
        guard let response = try? await client.send(request, maxBodyBytes: 4 << 20, retry: .never),
            response.isSuccess
        else { return nil }
        return try? JSONValue(parsing: response.body)
    }

    /// The server's root: `baseURL` without a trailing `/v1`.
    var root: String { baseURL.hasSuffix("/v1") ? String(baseURL.dropLast(3)) : baseURL }

    func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8], what: String) throws -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch {
            throw ModelError(
                code: .malformedResponse,
                message:
                    "cannot read the reply to \(what): \(error) in \(String(decoding: bytes.prefix(300), as: UTF8.self))",
                provider: "\(provider) \(baseURL)")
        }
    }
}

extension HTTPHeaders {
    /// `Authorization: Bearer KEY`, or nothing without a key.
    static func bearer(_ apiKey: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if let apiKey { headers.set("Authorization", "Bearer \(apiKey)") }
        return headers
    }
}

private struct StatusFailure: Error {
    var head: HTTPResponseHead
    var body: [UInt8]
}

private final class DeliveryFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The error shapes of both APIs: Ollama's `{"error": "text"}` and OpenAI's
/// `{"error": {"message", "type", "param", "code"}}`, where llama.cpp sends `code` as a number.
struct WireError {
    var message: String
    var type: String?
    var code: String?

    init(message: String, type: String? = nil, code: String? = nil) {
        self.message = message
        self.type = type
        self.code = code
    }

    /// The error inside `{"error": …}`, if `document` is one.
    init?(document: JSONValue) {
        switch document["error"] {
        case .string(let text)?: self.init(message: text)
        case .object(let error)?:
            let code: String? =
                switch error["code"] {
                case .string(let text)?: text
                // A number as it was sent (llama.cpp sends the status): `1e30` too, without a trap.
                case .number(let number)?: number.isFinite ? JSONValue.number(number).canonicalText : nil
                default: nil
                }
            self.init(
                message: error["message"]?.stringValue ?? "unknown error", type: error["type"]?.stringValue, code: code)
        default: return nil
        }
    }

    static func parse(_ bytes: [UInt8]) -> WireError? {
        (try? JSONValue(parsing: bytes)).flatMap(WireError.init(document:))
    }
}

extension ModelError {
    /// The error an HTTP error status means, read from the body in either API's shape.
    init(status head: HTTPResponseHead, body: [UInt8], provider: String, retry: RetryPolicy) {
        let wire = WireError.parse(body)
        let message = Self.summary(wire?.message ?? Self.summary(page: body))
        let requestID = head.headers["x-request-id"] ?? head.headers["request-id"]
        let kind = [wire?.type, wire?.code].compactMap { $0 }
        let lowered = message.lowercased()
        let code: Code
        switch head.status {
        case 429 where kind.contains("insufficient_quota"): code = .quotaExhausted
        case 429: code = .rateLimited
        case 401, 403: code = .unauthorized
        case 404 where lowered.contains("model") || kind.contains("model_not_found"): code = .modelNotFound
        case 503: code = .overloaded
        case _
        where kind.contains("context_length_exceeded") || kind.contains("exceed_context_size_error")
            || lowered.contains("context length") || lowered.contains("context size")
            || lowered.contains("context window"):
            code = .contextTooLong
        case 500...: code = .serverError
        default: code = .badRequest
        }
        let retryable: Bool
        if code == .quotaExhausted {
            retryable = false
        } else if case .retry = retry.decision(status: head.status, headers: head.headers, retriesTaken: 0) {
            retryable = true
        } else {
            retryable = false
        }
        self.init(
            code: code, status: head.status, message: message.isEmpty ? "HTTP \(head.status)" : message,
            requestID: requestID, provider: provider, isRetryable: retryable)
        self.retryAfter = retry.retryAfter(head.headers)
        self.rateLimit = RateLimit(head.headers)
    }

    /// At most this many characters of a server's error message are kept.
    static let summaryLength = 300

    /// `message` on one line, cut at `summaryLength` (a server may send a whole traceback).
    static func summary(_ message: String) -> String {
        let line = message.oneLine
        return line.count <= summaryLength ? line : line.prefix(summaryLength) + "…"
    }

    /// What an error body that is not an API error says: an HTML page's title (or first
    /// heading, or its text), anything else as it is.
    static func summary(page body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(64 * 1024), as: UTF8.self)
        let start = text.prefix(512).lowercased()
        guard start.contains("<html") || start.contains("<!doctype html") || start.contains("<head") else {
            return text
        }
        for element in [#/(?si)<title[^>]*>(.*?)</title>/#, #/(?si)<h1[^>]*>(.*?)</h1>/#] {
            if let inner = text.firstMatch(of: element)?.output.1 {
                let words = inner.replacing(#/<[^>]*>/#, with: " ").oneLine
                if !words.isEmpty { return words }
            }
        }
        return text.replacing(#/(?si)<script.*?</script>|<style.*?</style>/#, with: " ")
            .replacing(#/<[^>]*>/#, with: " ")
    }

    init(transport error: HTTPError, provider: String) {
        let code: Code = error.code == .cancelled ? .cancelled : .transport
        self.init(
            code: code, message: error.description, provider: provider, isRetryable: error.isTransient)
    }

    /// An `{"error": …}` object met inside a 200 stream.
    static func inStream(_ wire: WireError, provider: String) -> ModelError {
        ModelError(code: .serverError, message: summary(wire.message), provider: provider, isRetryable: false)
    }
}

extension RateLimit {
    /// The limits an OpenAI reply's headers state; `nil` when they state none.
    init?(_ headers: HTTPHeaders) {
        self.init(
            limitRequests: headers["x-ratelimit-limit-requests"].flatMap { Int($0) },
            limitTokens: headers["x-ratelimit-limit-tokens"].flatMap { Int($0) },
            remainingRequests: headers["x-ratelimit-remaining-requests"].flatMap { Int($0) },
            remainingTokens: headers["x-ratelimit-remaining-tokens"].flatMap { Int($0) },
            resetRequests: headers["x-ratelimit-reset-requests"],
            resetTokens: headers["x-ratelimit-reset-tokens"])
        if self == RateLimit() { return nil }
    }
}
