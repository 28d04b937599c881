/// An HTTP client on libcurl's multi interface: one thread drives every transfer,
/// connections are pooled and reused, bodies stream with backpressure.
///
/// ```swift
/// let client = HTTPClient.shared
/// let response = try await client.send(HTTPRequest(url: "http://127.0.0.1:11434/api/tags"))
/// try await client.stream(request) { response in
///     for try await line in response.body.lines { … }
/// }
/// ```
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var timeouts = HTTPTimeouts()
        /// A proxy URL; `nil` leaves libcurl to read `http_proxy`, `https_proxy`,
        /// `all_proxy` and `no_proxy` from the environment.
        public var proxy: String?
        public var followRedirects = false
        public var userAgent = "switchyard"
        /// Body bytes held for a slow consumer before the transfer pauses reading.
        public var bufferedBytesLimit = 1 << 20

        public init() {}
    }

    /// The process's client, for callers without special needs.
    public static let shared = HTTPClient()

    public let configuration: Configuration
    private let loop: MultiLoop

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.loop = MultiLoop(name: "switchyard.curl")
    }

    deinit {
        loop.submit(.shutdown)
    }

    /// Sends `request` and reads the whole body, up to `maxBodyBytes`.
    ///
    /// Transient failures and retryable statuses are retried under `retry`; the last
    /// response is returned whatever its status. A transfer that breaks off throws an
    /// `HTTPError` whose `partialBody` holds the bytes that did arrive.
    public func send(
        _ request: HTTPRequest, maxBodyBytes: Int = 64 << 20, retry: RetryPolicy = .never
    ) async throws -> HTTPResponse {
        var retriesTaken = 0
        while true {
            var body: [UInt8] = []
            do {
                let transfer = try start(request)
                defer { transfer.cancel() }
                let head = try await transfer.head()
                while let chunk = try await transfer.nextChunk() {
                    guard body.count + chunk.count <= maxBodyBytes else {
                        throw HTTPError(
                            code: .bodyTooLarge, message: "the response body exceeds \(maxBodyBytes) bytes",
                            url: request.url, bytesReceived: body.count + chunk.count)
                    }
                    body.append(contentsOf: chunk)
                }
                let response = HTTPResponse(status: head.status, headers: head.headers, body: body)
                guard !response.isSuccess,
                    case .retry(let delay) = retry.decision(
                        status: head.status, headers: head.headers, retriesTaken: retriesTaken)
                else { return response }
                try await retry.sleep(delay)
            } catch var error as HTTPError {
                error.partialBody = body
                guard case .retry(let delay) = retry.decision(error: error, retriesTaken: retriesTaken) else {
                    throw error
                }
                try await retry.sleep(delay)
            }
            retriesTaken += 1
        }
    }

    /// Sends `request` and hands the response, body unread, to `consume`; the transfer
    /// ends when `consume` returns, and is aborted if the body was not read to its end.
    ///
    /// Retries under `retry` happen only before `consume` is called: once the consumer
    /// may have seen body bytes, a failure is its to handle.
    public func stream<Result>(
        _ request: HTTPRequest, retry: RetryPolicy = .never,
        _ consume: (StreamingResponse) async throws -> Result
    ) async throws -> Result {
        var retriesTaken = 0
        while true {
            let transfer = try start(request)
            defer { transfer.cancel() }
            let head: HTTPResponseHead
            do {
                head = try await transfer.head()
            } catch let error as HTTPError {
                guard case .retry(let delay) = retry.decision(error: error, retriesTaken: retriesTaken) else {
                    throw error
                }
                transfer.cancel()
                try await retry.sleep(delay)
                retriesTaken += 1
                continue
            }
            if !head.isSuccess,
                case .retry(let delay) = retry.decision(
                    status: head.status, headers: head.headers, retriesTaken: retriesTaken)
            {
                transfer.cancel()
                try await retry.sleep(delay)
                retriesTaken += 1
                continue
            }
            return try await consume(StreamingResponse(head: head, body: ResponseBody(transfer: transfer)))
        }
    }

    private func start(_ request: HTTPRequest) throws(HTTPError) -> Transfer {
        let transfer = try Transfer(request: request, configuration: configuration, loop: loop)
        loop.submit(.add(transfer))
        return transfer
    }
}

/// A response whose body is still arriving.
public struct StreamingResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: ResponseBody

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }
}

/// The body of a streaming response, as chunks of bytes in arrival order.
///
/// Reading it is single-consumer. Cancelling the reading task aborts the transfer.
public struct ResponseBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let transfer: Transfer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let transfer: Transfer
        public mutating func next() async throws -> [UInt8]? {
            try await transfer.nextChunk()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(transfer: transfer) }

    /// Reads the rest of the body, up to `limit` bytes.
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in self {
            guard bytes.count + chunk.count <= limit else {
                throw HTTPError(
                    code: .bodyTooLarge, message: "the response body exceeds \(limit) bytes", url: transfer.url,
                    bytesReceived: bytes.count + chunk.count, partialBody: bytes)
            }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }
}
