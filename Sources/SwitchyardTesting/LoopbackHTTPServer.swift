import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small HTTP/1.1 server on 127.0.0.1 for tests and benchmarks: a thread per
/// connection, keep-alive, and a handler that controls every byte, so it can also
/// stall, truncate or lie the way real servers sometimes do.
public final class LoopbackHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        /// The request target as sent: a path with its query, or an absolute URL through a proxy.
        public var target: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// Which connection (1, 2, …) carried the request.
        public var connection: Int

        public var path: String { String(target.prefix { $0 != "?" }) }

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public typealias Handler = @Sendable (Request, ResponseWriter) -> Void

    public let port: Int
    /// Whether it listens on `::1` instead of `127.0.0.1`.
    public let ipv6: Bool
    public var baseURL: String { ipv6 ? "http://[::1]:\(port)" : "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let handler: Handler
    private struct Counters {
        var connections = 0
        var requests = 0
        var open: Set<Int32> = []
        var stopped = false
    }
    private let counters = Mutex(Counters())

    /// Starts listening on a free port of `127.0.0.1` (or `::1`); `handler` answers every request.
    public init(ipv6: Bool = false, handler: @escaping Handler) throws {
        signal(SIGPIPE, SIG_IGN)
        let family = ipv6 ? AF_INET6 : AF_INET
        #if canImport(Glibc)
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(family, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ServerError("socket", errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var bound: Int32
        var port: UInt16 = 0
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_addr = in6addr_loopback
            bound = Self.bindAndListen(fd, &address)
            port = address.sin6_port
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            bound = Self.bindAndListen(fd, &address)
            port = address.sin_port
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw ServerError("bind/listen", code)
        }
        self.ipv6 = ipv6
        self.port = Int(UInt16(bigEndian: port))
        self.listener = fd
        self.handler = handler
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "loopback-http-accept"
        thread.start()
    }

    /// Binds `fd` to `address` (port 0: any free one), listens, and reads the port back into it.
    private static func bindAndListen<Address>(_ fd: Int32, _ address: inout Address) -> Int32 {
        let size = socklen_t(MemoryLayout<Address>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        guard bound == 0, listen(fd, 512) == 0 else { return -1 }
        var length = size
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        return 0
    }

    deinit {
        stop()
    }

    /// Connections accepted so far.
    public var connectionCount: Int { counters.withLock { $0.connections } }
    /// Requests read so far.
    public var requestCount: Int { counters.withLock { $0.requests } }

    /// Stops accepting and closes every open connection.
    public func stop() {
        let open = counters.withLock { counters -> Set<Int32>? in
            guard !counters.stopped else { return nil }
            counters.stopped = true
            return counters.open
        }
        guard let open else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            var yes: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let number: Int? = counters.withLock { counters in
                guard !counters.stopped else { return nil }
                counters.connections += 1
                counters.open.insert(fd)
                return counters.connections
            }
            guard let number else {
                close(fd)
                break
            }
            let thread = Thread { [self] in serve(fd, connection: number) }
            thread.name = "loopback-http-\(number)"
            thread.start()
        }
        close(listener)
    }

    private func serve(_ fd: Int32, connection: Int) {
        defer {
            counters.withLock { _ = $0.open.remove(fd) }
            close(fd)
        }
        var reader = RequestReader(fd: fd)
        while let request = reader.next(connection: connection) {
            counters.withLock { $0.requests += 1 }
            let writer = ResponseWriter(fd: fd, method: request.method)
            handler(request, writer)
            writer.finish()
            if writer.closesConnection || request.header("connection")?.lowercased() == "close" { break }
        }
    }
}

/// Writes one response. Writes after the client went away are dropped silently.
public final class ResponseWriter: @unchecked Sendable {  // used by one connection thread only
    private let fd: Int32
    private let method: String
    private var chunked = false
    private var headWritten = false
    private var ended = false
    public private(set) var isBroken = false
    /// Set to close the connection after this response.
    public var closesConnection = false

    init(fd: Int32, method: String) {
        self.fd = fd
        self.method = method
    }

    /// A complete response with a `Content-Length`.
    public func respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        let head = head(status: status, headers: headers, contentLength: body.count)
        writeRaw(method == "HEAD" ? head : head + body)  // one segment
        ended = true
    }

    public func respond(status: Int, headers: [(String, String)] = [], text: String) {
        respond(status: status, headers: headers, body: Array(text.utf8))
    }

    /// The status line and header fields. With `contentLength: nil` the body is sent chunked.
    public func writeHead(status: Int, headers: [(String, String)] = [], contentLength: Int?) {
        writeRaw(head(status: status, headers: headers, contentLength: contentLength))
    }

    private func head(status: Int, headers: [(String, String)], contentLength: Int?) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let contentLength {
            head += "Content-Length: \(contentLength)\r\n"
        } else {
            head += "Transfer-Encoding: chunked\r\n"
            chunked = true
        }
        if closesConnection { head += "Connection: close\r\n" }
        head += "\r\n"
        headWritten = true
        return Array(head.utf8)
    }

    /// Body bytes: framed as a chunk when the body is chunked, raw otherwise.
    public func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if chunked {
            writeRaw(Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10])
        } else {
            writeRaw(bytes)
        }
    }

    public func write(_ text: String) { write(Array(text.utf8)) }

    /// Ends a chunked body.
    public func end() {
        guard !ended else { return }
        ended = true
        if chunked { writeRaw(Array("0\r\n\r\n".utf8)) }
    }

    /// Bytes exactly as given, with no framing: for servers that lie.
    public func writeRaw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeRaw($0) }
    }

    public func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        guard !isBroken, var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let sent = send(fd, pointer, remaining, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                isBroken = true
                return
            }
            pointer += sent
            remaining -= sent
        }
    }

    /// Blocks until the client closes the connection (or sends more bytes).
    public func waitForClose() {
        var byte: UInt8 = 0
        _ = recv(fd, &byte, 1, 0)
        isBroken = true
    }

    /// Drops the connection now, mid-response if need be.
    public func abort() {
        isBroken = true
        ended = true
        closesConnection = true
        var linger = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    func finish() {
        if !headWritten {
            respond(status: 500, text: "the test handler wrote no response")
        } else if !ended {
            if chunked { end() } else { closesConnection = true }
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

public struct ServerError: Error, CustomStringConvertible {
    public var description: String
    init(description: String) { self.description = description }
    init(_ call: String, _ code: Int32) { description = "\(call) failed: \(String(cString: strerror(code)))" }
}

/// Reads requests off one connection.
private struct RequestReader {
    let fd: Int32
    var buffer: [UInt8] = []
    var start = 0

    init(fd: Int32) { self.fd = fd }

    mutating func next(connection: Int) -> LoopbackHTTPServer.Request? {
        guard let headEnd = readUntilHeadEnd() else { return nil }
        let head = String(decoding: buffer[start..<headEnd], as: UTF8.self)
        start = headEnd + 4
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return nil }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (
                    name: String(line[..<colon]),
                    value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                ))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        guard fill(count: length) else { return nil }
        let body = Array(buffer[start..<(start + length)])
        start += length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return LoopbackHTTPServer.Request(
            method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body,
            connection: connection)
    }

    /// The index of the `\r\n\r\n` that ends the head, reading more as needed.
    private mutating func readUntilHeadEnd() -> Int? {
        var searchFrom = start
        while true {
            if buffer.count - searchFrom >= 4 {
                var index = searchFrom
                while index + 3 < buffer.count {
                    if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 {
                        return index
                    }
                    index += 1
                }
                searchFrom = max(start, buffer.count - 3)
            }
            guard readMore() else { return nil }
        }
    }

    private mutating func fill(count: Int) -> Bool {
        while buffer.count - start < count {
            guard readMore() else { return false }
        }
        return true
    }

    private mutating func readMore() -> Bool {
        if start > 0, start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }
}
