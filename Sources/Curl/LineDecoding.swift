/// Splits a byte stream into lines: on `\n`, with one trailing `\r` stripped.
///
/// Chunks may end anywhere, mid-line or mid-character: a partial line waits for the
/// next chunk. Lines are bytes; decode UTF-8 only on whole lines. The work is linear in the
/// bytes however long a line is (each chunk is appended once and searched once), and a line
/// longer than `maximumLineBytes` is an error, not a buffer that grows without end.
public struct LineSplitter: Sendable {
    private var partial: [UInt8] = []
    /// The longest line accepted, in bytes.
    public let maximumLineBytes: Int

    public init(maximumLineBytes: Int = 16 << 20) {
        self.maximumLineBytes = maximumLineBytes
    }

    /// The lines that `chunk` completes, in order.
    public mutating func push(_ chunk: some Collection<UInt8>) throws(LineTooLong) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        try push(chunk) { lines.append($0) }
        return lines
    }

    /// Calls `body` with each line that `chunk` completes.
    public mutating func push(_ chunk: some Collection<UInt8>, _ body: (ArraySlice<UInt8>) -> Void)
        throws(LineTooLong)
    {
        // Only the new bytes can hold a newline the partial line has not met yet.
        var searchFrom = partial.count
        partial.append(contentsOf: chunk)
        var start = 0
        while let newline = partial[searchFrom...].firstIndex(of: 10) {
            var end = newline
            if end > start, partial[end - 1] == 13 { end -= 1 }
            if end - start > maximumLineBytes { throw LineTooLong(limit: maximumLineBytes) }
            body(partial[start..<end])
            start = newline + 1
            searchFrom = start
        }
        if start > 0 { partial.removeSubrange(0..<start) }
        if partial.count > maximumLineBytes { throw LineTooLong(limit: maximumLineBytes) }
    }

    /// The unterminated last line, if the stream ended without a final `\n`.
    public mutating func finish() -> ArraySlice<UInt8>? {
        defer { partial = [] }
        guard !partial.isEmpty else { return nil }
        var line = partial[...]
        if line.last == 13 { line = line.dropLast() }
        return line
    }
}

/// A line of a stream was longer than the splitter accepts.
public struct LineTooLong: Error, Sendable, CustomStringConvertible {
    public var limit: Int
    public var description: String { "a line of the response is longer than \(limit) bytes" }
}

/// One Server-Sent Event.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field; `nil` means the default type, `message`.
    public var event: String?
    /// The `data:` lines, joined with `\n`.
    public var data: String
    public var id: String?
    /// The `retry:` field, in milliseconds.
    public var retry: Int?

    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }
}

/// Assembles Server-Sent Events from lines, by the rules of the WHATWG spec as the
/// OpenAI client applies them: a blank line dispatches, a line starting with `:` is a
/// comment, a field name ends at the first `:`, one space after it is dropped,
/// `data:` lines join with `\n`, unknown fields are ignored.
public struct ServerSentEventDecoder: Sendable {
    private var event: String?
    /// The `data:` lines so far, joined at dispatch (joining as they come is quadratic).
    private var data: [UInt8]?
    private var id: String?
    private var retry: Int?
    /// The most `data` one event may gather, in bytes.
    public let maximumEventBytes: Int

    public init(maximumEventBytes: Int = 16 << 20) {
        self.maximumEventBytes = maximumEventBytes
    }

    /// Feeds one line (without its terminator); returns an event when the line completes one.
    public mutating func decode(line: ArraySlice<UInt8>) throws(LineTooLong) -> ServerSentEvent? {
        if line.isEmpty {
            guard event != nil || data != nil || id != nil || retry != nil else { return nil }
            let dispatched = ServerSentEvent(
                event: event, data: String(decoding: data ?? [], as: UTF8.self), id: id, retry: retry)
            event = nil
            data = nil
            id = nil
            retry = nil
            return dispatched
        }
        if line.first == 58 { return nil }  // ":" comment
        let colon = line.firstIndex(of: 58) ?? line.endIndex
        let name = line[..<colon]
        var valueStart = colon < line.endIndex ? colon + 1 : colon
        if valueStart < line.endIndex, line[valueStart] == 32 { valueStart += 1 }
        let value = line[valueStart...]
        if name.elementsEqual("data".utf8) {
            if data == nil {
                data = Array(value)
            } else {
                data!.append(10)
                data!.append(contentsOf: value)
            }
            if data!.count > maximumEventBytes { throw LineTooLong(limit: maximumEventBytes) }
        } else if name.elementsEqual("event".utf8) {
            event = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual("id".utf8) {
            if !value.contains(0) { id = String(decoding: value, as: UTF8.self) }
        } else if name.elementsEqual("retry".utf8) {
            if let milliseconds = Int(String(decoding: value, as: UTF8.self)) { retry = milliseconds }
        }
        return nil
    }
}

extension ResponseBody {
    /// The body's lines, split as `LineSplitter` does; the last line may lack its `\n`.
    public var lines: ResponseLines { ResponseLines(body: self) }

    /// The body's Server-Sent Events. An event not closed by a blank line before the
    /// body ends is dropped, as the spec says.
    public var serverSentEvents: ServerSentEvents { ServerSentEvents(body: self) }
}

public struct ResponseLines: AsyncSequence, Sendable {
    public typealias Element = ArraySlice<UInt8>
    let body: ResponseBody

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: ResponseBody.AsyncIterator
        var splitter = LineSplitter()
        var ready: [ArraySlice<UInt8>] = []
        var nextReady = 0
        var finished = false

        public mutating func next() async throws -> ArraySlice<UInt8>? {
            try await next(beforeWaiting: {})
        }

        /// The next line; `beforeWaiting` runs each time the body must be read from the
        /// network first, so a caller can hand on what it gathered from the lines so far.
        public mutating func next(beforeWaiting: () -> Void) async throws -> ArraySlice<UInt8>? {
            while nextReady == ready.count {
                if finished { return nil }
                ready.removeAll(keepingCapacity: true)
                nextReady = 0
                beforeWaiting()
                if let chunk = try await base.next() {
                    try splitter.push(chunk) { ready.append($0) }
                } else {
                    finished = true
                    if let last = splitter.finish() { ready.append(last) }
                }
            }
            defer { nextReady += 1 }
            return ready[nextReady]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator()) }
}

public struct ServerSentEvents: AsyncSequence, Sendable {
    public typealias Element = ServerSentEvent
    let body: ResponseBody

    public struct AsyncIterator: AsyncIteratorProtocol {
        var lines: ResponseLines.AsyncIterator
        var decoder = ServerSentEventDecoder()

        public mutating func next() async throws -> ServerSentEvent? {
            try await next(beforeWaiting: {})
        }

        /// The next event; `beforeWaiting` runs each time the body must be read from the network first.
        public mutating func next(beforeWaiting: () -> Void) async throws -> ServerSentEvent? {
            while let line = try await lines.next(beforeWaiting: beforeWaiting) {
                if let event = try decoder.decode(line: line) { return event }
            }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(lines: ResponseLines(body: body).makeAsyncIterator())
    }
}
