/// A transfer that did not produce a complete response.
///
/// An HTTP error status is not an `HTTPError`: the response arrives, and its status
/// says what the server meant.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidURL = Code(rawValue: "invalid-url")
        public static let couldNotResolve = Code(rawValue: "could-not-resolve")
        public static let couldNotConnect = Code(rawValue: "could-not-connect")
        public static let connectTimeout = Code(rawValue: "connect-timeout")
        /// No byte arrived for longer than the idle timeout.
        public static let idleTimeout = Code(rawValue: "idle-timeout")
        public static let totalTimeout = Code(rawValue: "total-timeout")
        /// The connection closed or broke before the response was complete.
        public static let connectionLost = Code(rawValue: "connection-lost")
        public static let tls = Code(rawValue: "tls")
        /// The body grew past the cap the caller set.
        public static let bodyTooLarge = Code(rawValue: "body-too-large")
        public static let cancelled = Code(rawValue: "cancelled")
        public static let transport = Code(rawValue: "transport")
    }

    public var code: Code
    public var message: String
    public var url: String
    /// Body bytes received before the failure.
    public var bytesReceived: Int
    /// When the error ended a `send`, the body bytes received before it.
    public var partialBody: [UInt8]
    /// libcurl's `CURLcode`, when libcurl reported the error.
    public var curlCode: Int32?

    public init(
        code: Code, message: String, url: String, bytesReceived: Int = 0, partialBody: [UInt8] = [],
        curlCode: Int32? = nil
    ) {
        self.code = code
        self.message = message
        self.url = url
        self.bytesReceived = bytesReceived
        self.partialBody = partialBody
        self.curlCode = curlCode
    }

    /// Failures a retry may cure: the request may not have reached the server, or the
    /// server may be back. Never true for a cancelled or malformed request.
    public var isTransient: Bool {
        switch code {
        case .couldNotConnect, .connectTimeout, .idleTimeout, .totalTimeout, .connectionLost, .couldNotResolve:
            true
        default: false
        }
    }

    public var description: String {
        var text = "\(message) (\(code), \(url)"
        if bytesReceived > 0 { text += ", \(bytesReceived) body bytes received" }
        return text + ")"
    }
}
