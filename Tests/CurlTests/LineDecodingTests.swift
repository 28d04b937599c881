import Curl
import SwitchyardTesting
import Testing

@Suite struct LineDecodingTests {
    /// Splits `bytes` at every possible point and checks the lines never change.
    @Test func linesAreTheSameWhereverChunksEnd() {
        let text = "first\r\nsecond\n\nthird — ünïcödé\r\nlast-without-newline"
        let bytes = Array(text.utf8)
        let expected = ["first", "second", "", "third — ünïcödé", "last-without-newline"]
        for cut in 0...bytes.count {
            for secondCut in cut...bytes.count {
                var splitter = LineSplitter()
                var lines: [String] = []
                for part in [bytes[0..<cut], bytes[cut..<secondCut], bytes[secondCut...]] {
                    lines += splitter.push(part).map { String(decoding: $0, as: UTF8.self) }
                }
                if let last = splitter.finish() { lines.append(String(decoding: last, as: UTF8.self)) }
                #expect(lines == expected, "cut at \(cut), \(secondCut)")
            }
        }
    }

    @Test func serverSentEventRules() {
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
        for line in splitter.push(Array(stream.utf8)) {
            if let event = decoder.decode(line: line) { events.append(event) }
        }
        if let last = splitter.finish(), let event = decoder.decode(line: last) { events.append(event) }
        #expect(
            events == [
                ServerSentEvent(event: "response.output_text.delta", data: "{\"delta\":\"Hi\"}"),
                ServerSentEvent(data: "no space\n two spaces keep one\n"),
                ServerSentEvent(data: "last", id: "7", retry: 1500),
            ])
    }

    @Test func commentOnlyBlocksDispatchNothing() {
        var decoder = ServerSentEventDecoder()
        #expect(decoder.decode(line: Array(": ping".utf8)[...]) == nil)
        #expect(decoder.decode(line: []) == nil)
        #expect(decoder.decode(line: Array("data: [DONE]".utf8)[...]) == nil)
        #expect(decoder.decode(line: []) == ServerSentEvent(data: "[DONE]"))
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
