public import Foundation

/// When to try a request again, and after how long: the decision table of the OpenAI
/// Python client, which Ollama's clients follow too.
///
/// A request is retried on a transient transport failure or on status 408, 409, 429 or
/// 5xx, unless the server says `x-should-retry: false` or asks to wait longer than
/// `maxServerDelay`. 400, 401, 403, 404 and 422 are never retried. Nothing is retried
/// once body bytes have reached the consumer.
public struct RetryPolicy: Sendable {
    /// Retries after the first attempt (so `maxRetries + 1` attempts in all).
    public var maxRetries: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// A server-requested delay longer than this is not waited for: the caller gets the response.
    public var maxServerDelay: Duration
    /// A number in `0..<1` that scales the backoff down by up to 25 %.
    public var jitter: @Sendable () -> Double
    /// How to wait; tests record the delays instead of sleeping.
    public var sleep: @Sendable (Duration) async throws -> Void
    /// The current time, for `Retry-After` given as an HTTP date.
    public var now: @Sendable () -> Date

    public init(
        maxRetries: Int = 2,
        initialDelay: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(8),
        maxServerDelay: Duration = .seconds(120),
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.maxRetries = maxRetries
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxServerDelay = maxServerDelay
        self.jitter = jitter
        self.sleep = sleep
        self.now = now
    }

    public static let `default` = RetryPolicy()
    public static let never = RetryPolicy(maxRetries: 0)

    public enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case stop(reason: String)
    }

    /// What to do after a response with `status` and `headers` on attempt `retriesTaken + 1`.
    public func decision(status: Int, headers: HTTPHeaders, retriesTaken: Int) -> Decision {
        guard retriesTaken < maxRetries else { return .stop(reason: "gave up after \(retriesTaken + 1) attempts") }
        let serverDelay = retryAfter(headers)
        if let serverDelay, serverDelay > maxServerDelay {
            return .stop(reason: "the server asks to wait \(serverDelay), more than \(maxServerDelay)")
        }
        switch headers["x-should-retry"]?.lowercased() {
        case "true": return .retry(after: delay(server: serverDelay, retriesTaken: retriesTaken))
        case "false": return .stop(reason: "the server said x-should-retry: false")
        default: break
        }
        switch status {
        case 408, 409, 429, 500...599:
            return .retry(after: delay(server: serverDelay, retriesTaken: retriesTaken))
        default:
            return .stop(reason: "status \(status) is not retried")
        }
    }

    /// What to do after a transport failure on attempt `retriesTaken + 1`.
    public func decision(error: HTTPError, retriesTaken: Int) -> Decision {
        guard retriesTaken < maxRetries else { return .stop(reason: "gave up after \(retriesTaken + 1) attempts") }
        guard error.isTransient else { return .stop(reason: "\(error.code) is not retried") }
        return .retry(after: delay(server: nil, retriesTaken: retriesTaken))
    }

    /// The server's delay if it gave one in `(0, maxServerDelay]`, else exponential
    /// backoff with jitter: `min(initial · 2ⁿ, max) · (1 − 0.25 · jitter)`.
    func delay(server: Duration?, retriesTaken: Int) -> Duration {
        if let server, server > .zero, server <= maxServerDelay { return server }
        let exponent = min(retriesTaken, 30)
        let backoff = min(initialDelay * (1 << exponent), maxDelay)
        return backoff * (1 - 0.25 * jitter())
    }

    /// The delay a response asks for: `retry-after-ms`, then `retry-after` as seconds or
    /// as an HTTP date.
    public func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        if let text = headers["retry-after-ms"], let milliseconds = Double(text.trimmingSpaces), milliseconds.isFinite {
            return Self.delay(milliseconds: milliseconds)
        }
        guard let text = headers["retry-after"]?.trimmingSpaces else { return nil }
        if let seconds = Double(text), seconds.isFinite {
            return Self.delay(milliseconds: seconds * 1000)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        let seconds = date.timeIntervalSince(now())
        return Self.delay(milliseconds: seconds * 1000)
    }

    /// A server's delay as a duration: negative as none, anything past a year (`1e30`) as a
    /// year — longer than any `maxServerDelay`, so it is not waited for, and never a number
    /// too large to convert.
    static func delay(milliseconds: Double) -> Duration {
        .milliseconds(Int64(min(max(milliseconds, 0), 365 * 86_400_000).rounded(.up)))
    }
}
