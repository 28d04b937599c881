import Curl
import SwitchyardTesting
import Testing

@Suite struct LineDecodingTests {
    /// Splits `bytes` at every possible point and checks the lines never change.
    @Test func linesAreTheSameWhereverChunksEnd() throws {
        let text = "first\r\nsecond\n\nthird — ünïcödé\r\nlast-without-newline"
        let bytes = Array(text.utf8)
        let expected = ["first", "second", "", "third — ünïcödé", "last-without-newline"]
        for cut in 0...bytes.count {
            for secondCut in cut...bytes.count {
                var splitter = LineSplitter()
                var lines: [String] = []
                for part in [bytes[0..<cut], bytes[cut..<secondCut], bytes[secondCut...]] {
                    lines += try splitter.push(part).map { String(decoding: $0, as: UTF8.self) }
                }
                if let last = splitter.finish() { lines.append(String(decoding: last, as: UTF8.self)) }
                #expect(lines == expected, "cut at \(cut), \(secondCut)")
            }
        }
    }

    @Test func serverSentEventRules() throws {
        let stream = """
            : a comment, ignored
            event: response.output_text.delta
            data: {"delta":"Hi"}

            data:no space
            data:  two spaces keep one
            data

            id: 7
            retry: 1500
            unknown: field
            data: last

            data: never dispatched without a blank line
            """
        var decoder = ServerSentEventDecoder()
        var splitter = LineSplitter()
        var events: [ServerSentEvent] = []
        for line in try splitter.push(Array(stream.utf8)) {
            if let event = try decoder.decode(line: line) { events.append(event) }
        }
        if let last = splitter.finish(), let event = try decoder.decode(line: last) { events.append(event) }
        #expect(
            events == [
                ServerSentEvent(event: "response.output_text.delta", data: "{\"delta\":\"Hi\"}"),
                ServerSentEvent(data: "no space\n two spaces keep one\n"),
                ServerSentEvent(data: "last", id: "7", retry: 1500),
            ])
    }

    @Test func commentOnlyBlocksDispatchNothing() throws {
        var decoder = ServerSentEventDecoder()
        #expect(try decoder.decode(line: Array(": ping".utf8)[...]) == nil)
        #expect(try decoder.decode(line: []) == nil)
        #expect(try decoder.decode(line: Array("data: [DONE]".utf8)[...]) == nil)
        #expect(try decoder.decode(line: []) == ServerSentEvent(data: "[DONE]"))
    }

    /// A line past the cap, and an event of many data lines past it, are errors; a 2 MB line in
    /// 1-byte-to-64-KB pieces is split in time linear in its bytes (the bench times it).
    @Test func longLinesAreCappedAndManyDataLinesAreNotQuadratic() throws {
        var small = LineSplitter(maximumLineBytes: 1000)
        #expect(throws: LineTooLong.self) { _ = try small.push(Array(repeating: UInt8(ascii: "x"), count: 1001)) }
        var pieces = LineSplitter(maximumLineBytes: 1000)
        _ = try pieces.push(Array(repeating: UInt8(ascii: "x"), count: 600))
        #expect(throws: LineTooLong.self) { _ = try pieces.push(Array(repeating: UInt8(ascii: "x"), count: 600)) }
        // Just under the cap, in two pieces, is a line.
        var fits = LineSplitter(maximumLineBytes: 1000)
        _ = try fits.push(Array(repeating: UInt8(ascii: "y"), count: 500))
        #expect(try fits.push(Array(repeating: UInt8(ascii: "y"), count: 500) + [10]).map(\.count) == [1000])

        var decoder = ServerSentEventDecoder(maximumEventBytes: 10_000)
        var thrown = false
        for _ in 0..<2000 {
            do {
                _ = try decoder.decode(line: Array("data: 0123456789".utf8)[...])
            } catch {
                thrown = true
                break
            }
        }
        #expect(thrown)
        // 200,000 one-byte data lines join into one event.
        var many = ServerSentEventDecoder()
        for _ in 0..<200_000 { _ = try many.decode(line: Array("data:a".utf8)[...]) }
        let event = try #require(try many.decode(line: []))
        #expect(event.data.utf8.count == 399_999)
    }

    /// The server writes byte by byte, so every event and line is split across reads.
    @Test func sseOverHTTPWithTinyWrites() async throws {
        let body = "data: {\"a\":1}\r\n\r\n: keep-alive\n\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n"
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, headers: [("Content-Type", "text/event-stream")], contentLength: nil)
            for byte in body.utf8 { response.write([byte]) }
            response.end()
        }
        let events = try await HTTPClient.shared.stream(HTTPRequest(url: server.baseURL)) { response in
            var events: [String] = []
            for try await event in response.body.serverSentEvents { events.append(event.data) }
            return events
        }
        #expect(events == ["{\"a\":1}", "line one\nline two", "[DONE]"])
    }

    @Test func ndjsonOverHTTPWithSplitMultibyteCharacters() async throws {
        let lines = (0..<50).map { "{\"n\":\($0),\"text\":\"€→\($0)\"}" }
        let bytes = Array(lines.joined(separator: "\n").utf8) + [10]
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, headers: [("Content-Type", "application/x-ndjson")], contentLength: nil)
            var index = 0
            var size = 1
            while index < bytes.count {
                let end = min(index + size, bytes.count)
                response.write(Array(bytes[index..<end]))
                index = end
                size = size % 7 + 1
            }
            response.end()
        }
        let received = try await HTTPClient.shared.stream(HTTPRequest(url: server.baseURL)) { response in
            var received: [String] = []
            for try await line in response.body.lines { received.append(String(decoding: line, as: UTF8.self)) }
            return received
        }
        #expect(received == lines)
    }
}
