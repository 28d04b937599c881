internal import CCurl
import Synchronization

/// One request in flight: a libcurl easy handle and the state its consumer reads.
///
/// Fields marked "loop" are touched only on the multi loop's thread; everything the
/// consumer shares sits in `state`, behind a mutex.
final class Transfer: @unchecked Sendable {  // see the field comments: loop-confined or mutex-protected
    let url: String
    let followsRedirects: Bool
    private let highWater: Int
    private let lowWater: Int
    private let loop: MultiLoop

    // loop
    let easy: UnsafeMutableRawPointer
    private var requestHeaders: UnsafeMutablePointer<curl_slist>?
    private var resolveList: UnsafeMutablePointer<curl_slist>?
    private var responseHeaders = HTTPHeaders()
    private var headDelivered = false
    private var bytesReceived = 0
    private var awaitingFlush = false
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    /// The idle timeout, enforced by the loop: libcurl's low-speed check averages over
    /// seconds and cannot say "no byte for this long".
    let idleLimit: Duration?
    private(set) var lastActivity = ContinuousClock.now

    private struct State {
        var head: HTTPResponseHead?
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var chunks: [[UInt8]] = []
        var nextChunk = 0
        var buffered = 0
        var paused = false
        var cancelRequested = false
        var completion: Result<Void, HTTPError>?
        var bodyWaiter: CheckedContinuation<[UInt8]?, any Error>?
    }
    private let state = Mutex(State())

    init(request: HTTPRequest, configuration: HTTPClient.Configuration, loop: MultiLoop) throws(HTTPError) {
        _ = curlGlobalInitialized
        guard let easy = curl_easy_init() else {
            throw HTTPError(code: .transport, message: "libcurl could not create a handle", url: request.url)
        }
        self.easy = easy
        self.url = request.url
        self.loop = loop
        self.followsRedirects = configuration.followRedirects
        self.highWater = max(configuration.bufferedBytesLimit, 1)
        self.lowWater = self.highWater / 2
        self.idleLimit = (request.timeouts ?? configuration.timeouts).idle
        errorBuffer.initialize(to: 0)
        try configure(request: request, configuration: configuration)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(requestHeaders)
        curl_slist_free_all(resolveList)
        errorBuffer.deallocate()
    }

    private func configure(request: HTTPRequest, configuration: HTTPClient.Configuration) throws(HTTPError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        var failed: (CURLoption, CURLcode)?
        func set(_ option: CURLoption, _ code: CURLcode) {
            if code != CURLE_OK, failed == nil { failed = (option, code) }
        }
        set(CURLOPT_URL, sy_easy_setopt_string(easy, CURLOPT_URL, request.url))
        set(CURLOPT_NOSIGNAL, sy_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set(CURLOPT_ERRORBUFFER, sy_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set(CURLOPT_WRITEFUNCTION, sy_easy_setopt_write_function(easy, CURLOPT_WRITEFUNCTION, bodyCallback))
        set(CURLOPT_WRITEDATA, sy_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context))
        set(CURLOPT_HEADERFUNCTION, sy_easy_setopt_write_function(easy, CURLOPT_HEADERFUNCTION, headerCallback))
        set(CURLOPT_HEADERDATA, sy_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context))
        set(CURLOPT_BUFFERSIZE, sy_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, 256 * 1024))
        set(CURLOPT_ACCEPT_ENCODING, sy_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))
        set(CURLOPT_SUPPRESS_CONNECT_HEADERS, sy_easy_setopt_long(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
        set(CURLOPT_TCP_KEEPALIVE, sy_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        set(CURLOPT_USERAGENT, sy_easy_setopt_string(easy, CURLOPT_USERAGENT, configuration.userAgent))
        if configuration.followRedirects {
            set(CURLOPT_FOLLOWLOCATION, sy_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1))
            set(CURLOPT_MAXREDIRS, sy_easy_setopt_long(easy, CURLOPT_MAXREDIRS, 10))
        }
        // Proxies: libcurl reads http_proxy, https_proxy, all_proxy and no_proxy itself
        // unless a proxy is set here.
        if request.bypassProxy {
            set(CURLOPT_PROXY, sy_easy_setopt_string(easy, CURLOPT_PROXY, ""))
        } else if let proxy = configuration.proxy {
            set(CURLOPT_PROXY, sy_easy_setopt_string(easy, CURLOPT_PROXY, proxy))
        }
        if !request.protocols.isEmpty {
            let list = request.protocols.joined(separator: ",")
            set(CURLOPT_PROTOCOLS_STR, sy_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, list))
            set(CURLOPT_REDIR_PROTOCOLS_STR, sy_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, list))
        }
        if !request.pinnedAddresses.isEmpty {
            var pinned: UnsafeMutablePointer<curl_slist>?
            for entry in request.pinnedAddresses { pinned = curl_slist_append(pinned, entry) }
            resolveList = pinned
            set(CURLOPT_RESOLVE, sy_easy_setopt_slist(easy, CURLOPT_RESOLVE, pinned))
        }

        let timeouts = request.timeouts ?? configuration.timeouts
        set(
            CURLOPT_CONNECTTIMEOUT_MS,
            sy_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, timeouts.connect.milliseconds)))
        if let total = timeouts.total {
            set(CURLOPT_TIMEOUT_MS, sy_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, total.milliseconds)))
        }

        switch request.method {
        case .get: set(CURLOPT_HTTPGET, sy_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .head: set(CURLOPT_NOBODY, sy_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        case .post: set(CURLOPT_POST, sy_easy_setopt_long(easy, CURLOPT_POST, 1))
        default: set(CURLOPT_CUSTOMREQUEST, sy_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method.rawValue))
        }
        if let body = request.body {
            set(
                CURLOPT_POSTFIELDSIZE_LARGE,
                sy_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            // A body goes out in one send up to libcurl's limit (2 MB), not in 64 KB pieces.
            let chunk = min(max(body.count, 64 * 1024), 2 * 1024 * 1024)
            set(CURLOPT_UPLOAD_BUFFERSIZE, sy_easy_setopt_long(easy, CURLOPT_UPLOAD_BUFFERSIZE, chunk))
            // COPYPOSTFIELDS: libcurl keeps its own copy, so the array may go.
            body.withUnsafeBytes { bytes in
                let pointer = bytes.baseAddress ?? UnsafeRawPointer(errorBuffer)
                set(
                    CURLOPT_COPYPOSTFIELDS,
                    sy_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: pointer)))
            }
        } else if request.method == .post {
            set(CURLOPT_POSTFIELDSIZE_LARGE, sy_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0))
        }

        var list: UnsafeMutablePointer<curl_slist>?
        // An empty `Expect:` stops libcurl from waiting for `100 Continue` on large bodies.
        var lines = ["Expect:"]
        for field in request.headers {
            guard !field.name.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 58 }),
                !field.value.utf8.contains(where: { $0 == 13 || $0 == 10 })
            else {
                throw HTTPError(
                    code: .invalidURL, message: "header field '\(field.name)' contains a line break or colon",
                    url: request.url)
            }
            lines.append(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
        }
        for line in lines { list = curl_slist_append(list, line) }
        requestHeaders = list
        set(CURLOPT_HTTPHEADER, sy_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))

        if let (option, code) = failed {
            let reason = String(cString: curl_easy_strerror(code))
            throw HTTPError(
                code: code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT ? .invalidURL : .transport,
                message: "libcurl refused option \(option.rawValue): \(reason)", url: request.url,
                curlCode: Int32(code.rawValue))
        }
    }

    // MARK: Consumer side

    /// Waits for the status line and header fields.
    func head() async throws -> HTTPResponseHead {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<HTTPResponseHead, HTTPError>? = state.withLock { state in
                    if let head = state.head { return .success(head) }
                    if case .failure(let error) = state.completion { return .failure(error) }
                    if state.completion != nil {
                        return .failure(HTTPError(code: .connectionLost, message: "no response", url: url))
                    }
                    state.headWaiter = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The next chunk of the body, or `nil` at its end.
    func nextChunk() async throws -> [UInt8]? {
        if let ready = try takeChunk() { return ready.chunk }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                do {
                    if let ready = try takeChunk(orWait: continuation) {
                        continuation.resume(returning: ready.chunk)
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            cancel()
        }
    }

    private struct Ready { var chunk: [UInt8]? }

    /// A buffered chunk or the end of the body; otherwise registers `waiter` and returns nil.
    private func takeChunk(orWait waiter: CheckedContinuation<[UInt8]?, any Error>? = nil) throws -> Ready? {
        let (ready, resume): (Result<Ready, HTTPError>?, Bool) = state.withLock { state in
            if let (chunk, resume) = Self.pop(&state, lowWater: lowWater) {
                return (.success(Ready(chunk: chunk)), resume)
            }
            switch state.completion {
            case .success: return (.success(Ready(chunk: nil)), false)
            case .failure(let error): return (.failure(error), false)
            case nil:
                if let waiter { state.bodyWaiter = waiter }
                return (nil, false)
            }
        }
        if resume { loop.submit(.resume(self)) }
        return try ready?.get()
    }

    /// Takes the oldest buffered chunk; says whether a paused transfer may read again.
    private static func pop(_ state: inout State, lowWater: Int) -> (chunk: [UInt8], resume: Bool)? {
        guard state.nextChunk < state.chunks.count else { return nil }
        let chunk = state.chunks[state.nextChunk]
        state.chunks[state.nextChunk] = []
        state.nextChunk += 1
        if state.nextChunk == state.chunks.count {
            state.chunks.removeAll(keepingCapacity: true)
            state.nextChunk = 0
        } else if state.nextChunk >= 64, state.nextChunk * 2 >= state.chunks.count {
            // A consumer that never quite catches up: drop the consumed slots.
            state.chunks.removeFirst(state.nextChunk)
            state.nextChunk = 0
        }
        state.buffered -= chunk.count
        let resume = state.paused && state.buffered <= lowWater
        if resume { state.paused = false }
        return (chunk, resume)
    }

    /// Aborts the transfer unless it already ended. Safe from any thread, more than once.
    func cancel() {
        let submit = state.withLock { state in
            guard state.completion == nil, !state.cancelRequested else { return false }
            state.cancelRequested = true
            return true
        }
        if submit { loop.submit(.cancel(self)) }
    }

    // MARK: Loop side

    fileprivate func receiveHeader(_ line: UnsafeRawBufferPointer) -> Int {
        lastActivity = .now
        var end = line.count
        while end > 0, line[end - 1] == 10 || line[end - 1] == 13 { end -= 1 }
        if end == 0 {
            deliverHeadIfFinal()
        } else if line.starts(with: "HTTP/".utf8) {
            responseHeaders = HTTPHeaders()
        } else if line[0] == 32 || line[0] == 9, let last = responseHeaders.fields.last {
            // An obsolete folded continuation line.
            let more = String(decoding: line[0..<end], as: UTF8.self).trimmingSpaces
            responseHeaders.set(last.name, last.value + " " + more)
        } else if let colon = line[0..<end].firstIndex(of: 58) {
            let name = String(decoding: line[0..<colon], as: UTF8.self)
            let value = String(decoding: line[(colon + 1)..<end], as: UTF8.self).trimmingSpaces
            responseHeaders.add(name, value)
        }
        return line.count
    }

    private func deliverHeadIfFinal() {
        var status = 0
        sy_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        if (100..<200).contains(status)
            || (followsRedirects && (300..<400).contains(status) && responseHeaders["location"] != nil)
        {
            responseHeaders = HTTPHeaders()
            return
        }
        deliverHead(HTTPResponseHead(status: status, headers: responseHeaders))
    }

    private func deliverHead(_ head: HTTPResponseHead) {
        guard !headDelivered else { return }
        headDelivered = true
        let waiter = state.withLock { state in
            state.head = head
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        waiter?.resume(returning: head)
    }

    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        if !headDelivered { deliverHeadIfFinal() }
        let accepted: Int = state.withLock { state in
            if state.cancelRequested { return 0 }
            if state.buffered >= highWater {
                state.paused = true
                return sy_writefunc_pause
            }
            state.chunks.append(Array(bytes))
            state.buffered += bytes.count
            return bytes.count
        }
        if accepted == bytes.count {
            lastActivity = .now
            bytesReceived += bytes.count
            if !awaitingFlush {
                awaitingFlush = true
                loop.flushAfterPerform(self)
            }
        }
        return accepted
    }

    /// Hands buffered data to a waiting consumer. The loop calls this once after each
    /// round of libcurl callbacks, so a burst of callbacks wakes the consumer once.
    func flush() {
        awaitingFlush = false
        let delivery = state.withLock { state -> (CheckedContinuation<[UInt8]?, any Error>, [UInt8], Bool)? in
            guard let waiter = state.bodyWaiter, let (chunk, resume) = Self.pop(&state, lowWater: lowWater) else {
                return nil
            }
            state.bodyWaiter = nil
            return (waiter, chunk, resume)
        }
        guard let (waiter, chunk, resume) = delivery else { return }
        if resume { resumeReceiving() }
        waiter.resume(returning: chunk)
    }

    /// Called on the loop once the easy handle has left the multi handle.
    func complete(_ code: CURLcode, cancelled: Bool = false, idle: Bool = false) {
        flush()
        let result: Result<Void, HTTPError>
        if idle {
            result = .failure(
                HTTPError(
                    code: .idleTimeout, message: "no data arrived for \(idleLimit ?? .zero)", url: url,
                    bytesReceived: bytesReceived))
        } else if code == CURLE_OK && !cancelled {
            if !headDelivered { deliverHeadIfFinal() }
            result = .success(())
        } else {
            result = .failure(error(for: code, cancelled: cancelled))
        }
        let (headWaiter, bodyWaiter) = state.withLock { state in
            state.completion = result
            defer {
                state.headWaiter = nil
                state.bodyWaiter = nil
            }
            // After `flush`, a waiting consumer means nothing is buffered.
            return (state.headWaiter, state.bodyWaiter)
        }
        if let headWaiter {
            switch result {
            case .failure(let error): headWaiter.resume(throwing: error)
            case .success:
                headWaiter.resume(throwing: HTTPError(code: .connectionLost, message: "no response", url: url))
            }
        }
        if let bodyWaiter {
            bodyWaiter.resume(with: result.map { nil }.mapError { $0 as any Error })
        }
    }

    func resumeReceiving() {
        lastActivity = .now
        curl_easy_pause(easy, sy_pause_cont)
    }

    /// Whether no byte has arrived for longer than the idle limit, not counting time
    /// spent paused for a slow consumer.
    func isIdle(at now: ContinuousClock.Instant) -> Bool {
        guard let idleLimit, now - lastActivity > idleLimit else { return false }
        return !state.withLock { $0.paused }
    }

    private func error(for code: CURLcode, cancelled: Bool) -> HTTPError {
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let kind: HTTPError.Code
        if cancelled || state.withLock({ $0.cancelRequested }) {
            return HTTPError(
                code: .cancelled, message: "the transfer was cancelled", url: url, bytesReceived: bytesReceived)
        }
        switch code {
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: kind = .invalidURL
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .couldNotResolve
        case CURLE_COULDNT_CONNECT: kind = .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT:
            if message.contains("too slow") {
                kind = .idleTimeout
            } else {
                kind =
                    message.hasPrefix("Connection timed out") || message.hasPrefix("Resolving timed out")
                    ? .connectTimeout : .totalTimeout
            }
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING: kind = .connectionLost
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            kind = .tls
        case CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR: kind = .cancelled
        default: kind = .transport
        }
        return HTTPError(
            code: kind, message: message, url: url, bytesReceived: bytesReceived, curlCode: Int32(code.rawValue))
    }
}

private let bodyCallback: curl_write_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let headerCallback: curl_write_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    return transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
