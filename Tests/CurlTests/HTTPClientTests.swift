import Curl
import Foundation
import SwitchyardTesting
import Testing

@Suite struct HTTPClientTests {
    let client = HTTPClient()

    @Test func bodyAndHeadersRoundTrip() async throws {
        let server = try LoopbackHTTPServer { request, response in
            response.respond(
                status: 201,
                headers: [
                    ("X-Echo-Method", request.method), ("X-Echo-Header", request.header("x-custom") ?? "missing"),
                    ("X-Multi", "one"), ("X-Multi", "two"),
                ],
                body: request.body.reversed())
        }
        let payload = Array("{\"prompt\":\"héllo\"}".utf8)
        let response = try await client.send(
            HTTPRequest(
                method: .post, url: server.baseURL + "/echo", headers: ["X-Custom": "value: with colon"],
                body: payload))
        #expect(response.status == 201)
        #expect(response.body == payload.reversed())
        #expect(response.headers["x-echo-method"] == "POST")
        #expect(response.headers["X-ECHO-HEADER"] == "value: with colon")
        #expect(response.headers.values(for: "x-multi") == ["one", "two"])
        #expect(response.headers["content-length"] == String(payload.count))
    }

    /// Bodies around the sizes libcurl sends in one piece (64 KB, and its 2 MB limit) arrive
    /// whole and in order.
    @Test(arguments: [65_535, 65_537, 1_000_000, 3_000_001]) func largeBodiesArriveWhole(size: Int) async throws {
        let server = try LoopbackHTTPServer { request, response in
            response.respond(status: 200, body: request.body.reversed())
        }
        var random = SeededRandom(seed: UInt64(size))
        let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
        let response = try await client.send(
            HTTPRequest(method: .post, url: server.baseURL + "/", body: payload), maxBodyBytes: 4 << 20)
        #expect(response.body == payload.reversed())
    }

    @Test func methodsWithoutBodyAndHead() async throws {
        let server = try LoopbackHTTPServer { request, response in
            response.respond(status: 200, headers: [("X-Method", request.method)], text: "body of \(request.method)")
        }
        for method: HTTPMethod in [.get, .delete, .put, .patch] {
            let response = try await client.send(HTTPRequest(method: method, url: server.baseURL))
            #expect(response.headers["x-method"] == method.rawValue)
            #expect(response.text == "body of \(method.rawValue)")
        }
        let head = try await client.send(HTTPRequest(method: .head, url: server.baseURL))
        #expect(head.headers["x-method"] == "HEAD")
        #expect(head.body.isEmpty)
    }

    @Test func streamedChunksArriveInOrder() async throws {
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, headers: [("Content-Type", "application/x-ndjson")], contentLength: nil)
            for index in 0..<200 {
                response.write("{\"n\":\(index)}\n")
                if index % 20 == 0 { Thread.sleep(forTimeInterval: 0.005) }
            }
            response.end()
        }
        let numbers = try await client.stream(HTTPRequest(url: server.baseURL)) { response in
            #expect(response.status == 200)
            var numbers: [Int] = []
            for try await line in response.body.lines {
                let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Int]
                numbers.append(object?["n"] ?? -1)
            }
            return numbers
        }
        #expect(numbers == Array(0..<200))
    }

    @Test func consumerBreakingEarlyAbortsTheTransfer() async throws {
        let serverSawDisconnect = Shared(false)
        let server = try LoopbackHTTPServer { request, response in
            if request.path == "/small" { return response.respond(status: 200, text: "small") }
            response.writeHead(status: 200, contentLength: nil)
            let block = [UInt8](repeating: 65, count: 64 * 1024)
            for _ in 0..<100_000 where !response.isBroken {
                response.write(block)
            }
            serverSawDisconnect.update { $0 = response.isBroken }
        }
        let firstChunk = try await client.stream(HTTPRequest(url: server.baseURL)) { response in
            for try await chunk in response.body { return chunk.count }
            return 0
        }
        #expect(firstChunk > 0)
        #expect(await eventually { serverSawDisconnect.value })
        // The client goes on working after an aborted transfer.
        let again = try await client.send(HTTPRequest(url: server.baseURL + "/small"))
        #expect(again.text == "small")
    }

    @Test func cancellingTheConsumingTaskAbortsMidStream() async throws {
        let serverSawDisconnect = Shared(false)
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, contentLength: nil)
            response.write("data: first\n\n")
            for _ in 0..<600 where !response.isBroken {
                Thread.sleep(forTimeInterval: 0.05)
                response.write(": keep-alive\n\n")
            }
            serverSawDisconnect.update { $0 = response.isBroken }
        }
        let received = Shared<[String]>([])
        let client = self.client
        let task = Task {
            try await client.stream(HTTPRequest(url: server.baseURL)) { response in
                for try await event in response.body.serverSentEvents {
                    received.update { $0.append(event.data) }
                }
            }
        }
        #expect(await eventually { received.value == ["first"] })
        task.cancel()
        let outcome = await task.result
        #expect(throws: (any Error).self) { try outcome.get() }
        #expect(await eventually { serverSawDisconnect.value })
    }

    @Test func thirtyTwoConcurrentStreams() async throws {
        let server = try LoopbackHTTPServer { request, response in
            let id = Int(request.path.dropFirst()) ?? -1
            response.writeHead(status: 200, contentLength: nil)
            for line in 0..<50 {
                response.write("\(id):\(line)\n")
                if line % 10 == 0 { Thread.sleep(forTimeInterval: 0.002) }
            }
            response.end()
        }
        let client = self.client
        let results = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
            for id in 0..<32 {
                group.addTask {
                    let lines = try await client.stream(HTTPRequest(url: "\(server.baseURL)/\(id)")) { response in
                        var lines: [String] = []
                        for try await line in response.body.lines {
                            lines.append(String(decoding: line, as: UTF8.self))
                        }
                        return lines
                    }
                    return (id, lines)
                }
            }
            var results: [Int: [String]] = [:]
            for try await (id, lines) in group { results[id] = lines }
            return results
        }
        #expect(results.count == 32)
        for (id, lines) in results {
            #expect(lines == (0..<50).map { "\(id):\($0)" })
        }
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try LoopbackHTTPServer { _, response in response.respond(status: 200, text: "ok") }
        for _ in 0..<25 {
            let response = try await client.send(HTTPRequest(url: server.baseURL))
            #expect(response.text == "ok")
        }
        #expect(server.requestCount == 25)
        #expect(server.connectionCount == 1)
    }

    @Test func connectionRefusedIsAClearError() async throws {
        let server = try LoopbackHTTPServer { _, response in response.respond(status: 200) }
        let url = server.baseURL
        server.stop()
        try await Task.sleep(for: .milliseconds(50))
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: url))
        }
        #expect(error?.code == .couldNotConnect)
        #expect(error?.url == url)
        #expect(error?.isTransient == true)
    }

    @Test func idleTimeoutFiresOnAStalledServer() async throws {
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, contentLength: nil)
            response.write("partial")
            Thread.sleep(forTimeInterval: 5)
            response.end()
        }
        let request = HTTPRequest(url: server.baseURL, timeouts: HTTPTimeouts(connect: .seconds(2), idle: .seconds(1)))
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(request)
        }
        #expect(error?.code == .idleTimeout)
        #expect(error?.partialBody == Array("partial".utf8))
    }

    @Test func totalTimeoutEndsASlowTransfer() async throws {
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, contentLength: nil)
            for _ in 0..<100 where !response.isBroken {
                response.write("tick\n")
                Thread.sleep(forTimeInterval: 0.1)
            }
            response.end()
        }
        let request = HTTPRequest(
            url: server.baseURL, timeouts: HTTPTimeouts(connect: .seconds(2), idle: nil, total: .milliseconds(700)))
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(request)
        }
        #expect(error?.code == .totalTimeout)
    }

    @Test func droppedConnectionMidBodyKeepsTheBytesReceived() async throws {
        let sent = (0..<4000).map { UInt8(truncatingIfNeeded: $0) }
        let server = try LoopbackHTTPServer { _, response in
            response.writeHead(status: 200, contentLength: 10_000)
            response.write(sent)
            Thread.sleep(forTimeInterval: 0.05)
            response.abort()
        }
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: server.baseURL))
        }
        #expect(error?.code == .connectionLost)
        #expect(error?.partialBody == sent)
        #expect(error?.bytesReceived == sent.count)

        // Streaming: the consumer has the bytes, then the error.
        let received = Shared<[UInt8]>([])
        let streamError = await #expect(throws: HTTPError.self) {
            try await client.stream(HTTPRequest(url: server.baseURL)) { response in
                for try await chunk in response.body { received.update { $0 += chunk } }
            }
        }
        #expect(streamError?.code == .connectionLost)
        #expect(received.value == sent)
    }

    @Test func bodyOverTheCapIsRefused() async throws {
        let server = try LoopbackHTTPServer { _, response in
            response.respond(status: 200, body: [UInt8](repeating: 1, count: 100_000))
        }
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: server.baseURL), maxBodyBytes: 50_000)
        }
        #expect(error?.code == .bodyTooLarge)
    }

    @Test func proxyIsUsedWhenConfigured() async throws {
        let proxy = try LoopbackHTTPServer { request, response in
            response.respond(status: 200, text: "via proxy: \(request.target)")
        }
        var configuration = HTTPClient.Configuration()
        configuration.proxy = proxy.baseURL
        let proxied = HTTPClient(configuration: configuration)
        let response = try await proxied.send(HTTPRequest(url: "http://upstream.invalid:8080/path?q=1"))
        #expect(response.text == "via proxy: http://upstream.invalid:8080/path?q=1")
    }

    @Test func headerInjectionIsRefused() async throws {
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: "http://127.0.0.1:9/", headers: ["X-Bad": "a\r\nHost: evil"]))
        }
        #expect(error?.code == .invalidURL)
    }

    @Test func malformedURLIsAClearError() async throws {
        let error = await #expect(throws: HTTPError.self) {
            _ = try await client.send(HTTPRequest(url: "gopherx://nowhere"))
        }
        #expect(error?.code == .invalidURL)
    }

    /// 200 MB through a consumer that is slower than the network: memory stays bounded
    /// because the transfer pauses while the consumer catches up. The client runs in its own
    /// process (`switchyard-bench stream-memory`), so other tests cannot move the figure.
    @Test func largeBodyStreamsWithBoundedMemory() async throws {
        let total = 200 << 20
        let server = try LoopbackHTTPServer { _, response in
            let block = [UInt8](repeating: 7, count: 1 << 20)
            response.writeHead(status: 200, contentLength: total)
            for _ in 0..<(total >> 20) where !response.isBroken { response.write(block) }
        }
        defer { server.stop() }
        let result = try await runProgram(
            BuiltProducts.executable("switchyard-bench"), ["stream-memory", "--url", server.baseURL], environment: [:])
        #expect(result.status == 0, "\(result.standardError)")
        let figures = result.standardOutput.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(figures.first == total)
        let growth = figures.last ?? .max
        #expect(growth < 64 << 20, "peak RSS grew by \(growth >> 20) MB")
    }
}
