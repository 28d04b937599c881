import ArgumentParser
import Curl
import Foundation
import SwitchyardTesting

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard-bench",
        abstract: "Release-mode benchmarks, each against a reference tool in the same run.",
        subcommands: [HTTPBench.self]
    )
}

struct HTTPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "The Curl module against the curl command line, on a loopback server.",
        discussion: """
            Bulk: one GET of --bulk-mb megabytes, streamed and discarded. Small: --requests \
            sequential GETs of a 2-byte body over one keep-alive connection (curl gets them all \
            from one config file, so it reuses its connection too). Each measurement runs \
            --rounds times, alternating the two clients; the best round counts.
            """
    )

    @Option(help: "Megabytes in the bulk download.") var bulkMb = 1024
    @Option(help: "Small requests per round.") var requests = 10_000
    @Option(help: "Rounds per measurement.") var rounds = 3

    func run() async throws {
        let block = [UInt8](repeating: 0x5A, count: 1 << 20)
        let server = try LoopbackHTTPServer { request, response in
            if request.path == "/bulk" {
                let megabytes = Int(request.target.split(separator: "=").last ?? "") ?? 1
                response.writeHead(status: 200, contentLength: megabytes << 20)
                for _ in 0..<megabytes where !response.isBroken { response.write(block) }
            } else {
                response.respond(status: 200, text: "ok")
            }
        }
        let client = HTTPClient()
        let bulkURL = "\(server.baseURL)/bulk?mb=\(bulkMb)"
        let smallURL = "\(server.baseURL)/small"
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-bench-\(getpid()).curl")
        try String(repeating: "url = \"\(smallURL)\"\noutput = \"/dev/null\"\n", count: requests)
            .write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }

        // Warm up both paths once.
        _ = try await client.send(HTTPRequest(url: smallURL))
        try await curl(["-s", "-o", "/dev/null", smallURL])

        var bulkOurs: [Duration] = []
        var bulkCurl: [Duration] = []
        var smallOurs: [Duration] = []
        var smallCurl: [Duration] = []
        for _ in 0..<rounds {
            bulkOurs.append(
                try await time {
                    let received = try await client.stream(HTTPRequest(url: bulkURL)) { response in
                        var count = 0
                        for try await chunk in response.body { count += chunk.count }
                        return count
                    }
                    precondition(received == bulkMb << 20, "short bulk body: \(received)")
                })
            bulkCurl.append(try await time { try await curl(["-s", "-o", "/dev/null", bulkURL]) })
            smallOurs.append(
                try await time {
                    for _ in 0..<requests {
                        let response = try await client.send(HTTPRequest(url: smallURL))
                        precondition(response.body.count == 2)
                    }
                })
            smallCurl.append(try await time { try await curl(["-s", "-K", config.path]) })
        }

        let bestBulkOurs = bulkOurs.min()!, bestBulkCurl = bulkCurl.min()!
        let bestSmallOurs = smallOurs.min()!, bestSmallCurl = smallCurl.min()!
        let megabytes = Double(bulkMb)
        print(
            "bulk \(bulkMb) MB       switchyard \(format(megabytes / bestBulkOurs.seconds)) MB/s   curl \(format(megabytes / bestBulkCurl.seconds)) MB/s   time ratio \(format(bestBulkOurs.seconds / bestBulkCurl.seconds, digits: 3))x"
        )
        print(
            "small x\(requests)   switchyard \(format(bestSmallOurs.seconds / Double(requests) * 1e6)) µs/req   curl \(format(bestSmallCurl.seconds / Double(requests) * 1e6)) µs/req   time ratio \(format(bestSmallOurs.seconds / bestSmallCurl.seconds, digits: 3))x"
        )
        print("server connections: \(server.connectionCount) for \(server.requestCount) requests")
    }

    func curl(_ arguments: [String]) async throws {
        let result = try await runProgram("/usr/bin/curl", arguments, environment: [:])
        guard result.status == 0 else { throw ValidationError("curl failed: \(result.standardError)") }
    }

    func time(_ body: () async throws -> Void) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try await body()
        return clock.now - start
    }

    func format(_ value: Double, digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
