import ArgumentParser
import Curl
import Foundation
import Providers
import Switchyard
import SwitchyardTesting

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard-bench",
        abstract: "Release-mode benchmarks, each against a reference tool in the same run.",
        subcommands: [
            HTTPBench.self, DecodeBench.self, TraceBench.self, TraceWriter.self, ToolsBench.self, VectorsBench.self,
            OrchestratorBench.self, LoopBench.self, StreamMemory.self,
        ]
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

}

/// How long `body` takes.
func time(_ body: () async throws -> Void) async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    return clock.now - start
}

func format(_ value: Double, digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

/// The middle value (the upper one of an even count).
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

struct DecodeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Provider stream decoding against `curl -N`, on a loopback server.",
        discussion: """
            A loopback server sends --events Chat Completions SSE records, then the same number of \
            Ollama NDJSON lines, as fast as it can. The provider stack (HTTP, line splitting, SSE, \
            JSON decoding, events) is timed against `curl -sN -o /dev/null` fetching the same bytes. \
            Time to first event: --probes requests whose first record is sent at once and the rest \
            never; the provider's median time to its first event against curl's time_starttransfer.
            """
    )

    @Option(help: "Records per stream.") var events = 100_000
    @Option(help: "Rounds per measurement; the best counts.") var rounds = 3
    @Option(help: "Requests for the time-to-first-event probe.") var probes = 200

    func run() async throws {
        let sse = Array(
            (String(
                repeating:
                    #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1727346176,"model":"gpt-4o","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"tok"},"logprobs":null,"finish_reason":null}]}"#
                    + "\n\n",
                count: events - 1)
                + #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1727346176,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
                + "\n\ndata: [DONE]\n\n").utf8)
        let ndjson = Array(
            (String(
                repeating:
                    #"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"tok"},"done":false}"#
                    + "\n",
                count: events - 1)
                + #"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"prompt_eval_count":26,"eval_count":282}"#
                + "\n").utf8)
        let firstRecord = Array(
            (#"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"first"},"finish_reason":null}]}"#
                + "\n\n").utf8)
        // Long lines: 8 MB of SSE as records of 64 KB, and as records of 2 MB.
        func longRecords(_ size: Int) -> [UInt8] {
            let record =
                #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":""#
                + String(repeating: "x", count: size) + #""},"finish_reason":null}]}"# + "\n\n"
            return Array((String(repeating: record, count: (8 << 20) / size) + "data: [DONE]\n\n").utf8)
        }
        let long = [64 << 10: longRecords(64 << 10), 2 << 20: longRecords(2 << 20)]
        let server = try LoopbackHTTPServer { request, response in
            switch request.path {
            case "/long/64k/chat/completions":
                response.respond(status: 200, headers: [("Content-Type", "text/event-stream")], body: long[64 << 10]!)
            case "/long/2m/chat/completions":
                response.respond(status: 200, headers: [("Content-Type", "text/event-stream")], body: long[2 << 20]!)
            case "/v1/chat/completions":
                response.respond(status: 200, headers: [("Content-Type", "text/event-stream")], body: sse)
            case "/api/chat":
                response.respond(status: 200, headers: [("Content-Type", "application/x-ndjson")], body: ndjson)
            default:
                // The probe: the first record now, then nothing until the client goes away.
                response.writeHead(status: 200, headers: [("Content-Type", "text/event-stream")], contentLength: nil)
                response.write(firstRecord)
                response.waitForClose()
                response.closesConnection = true
            }
        }
        let client = HTTPClient()
        let openAI = OpenAIChatProvider(baseURL: server.baseURL + "/v1", apiKey: "k", model: "m", client: client)
        let ollama = OllamaProvider(baseURL: server.baseURL, model: "llama3.2", client: client)
        let request = ModelRequest(messages: [.user("go")])

        func count(_ stream: ModelEventStream) async throws -> Int {
            var count = 0
            for try await _ in stream { count += 1 }
            return count
        }
        var results: [(String, Duration, Duration, Int)] = []
        for (name, path, provider) in [
            ("SSE (OpenAI chat)", "/v1/chat/completions", openAI as any ModelProvider),
            ("NDJSON (Ollama)", "/api/chat", ollama as any ModelProvider),
        ] {
            var ours: [Duration] = []
            var curls: [Duration] = []
            var produced = 0
            for _ in 0..<rounds {
                ours.append(try await time { produced = try await count(provider.stream(request)) })
                curls.append(
                    try await time {
                        _ = try await runProgram(
                            "/usr/bin/curl",
                            ["-sN", "-o", "/dev/null", "-X", "POST", "-d", "{}", server.baseURL + path],
                            environment: [:])
                    })
            }
            results.append((name, ours.min()!, curls.min()!, produced))
        }
        for (name, ours, curl, produced) in results {
            let rate = Double(events) / ours.seconds
            print(
                "\(name): \(events) records -> \(produced) events in \(format(ours.seconds * 1000)) ms = \(format(rate / 1000)) k events/s; curl -N \(format(curl.seconds * 1000)) ms (\(format(Double(events) / curl.seconds / 1000)) k records/s); time ratio \(format(ours.seconds / curl.seconds, digits: 2))x"
            )
        }

        // Long lines: the time per megabyte must not grow with the line.
        var perMegabyte: [String: Double] = [:]
        for (name, path, size) in [("64 KB", "/long/64k", 64 << 10), ("2 MB", "/long/2m", 2 << 20)] {
            let provider = OpenAIChatProvider(baseURL: server.baseURL + path, apiKey: "k", model: "m", client: client)
            var best = Duration.seconds(1000)
            var produced = 0
            for _ in 0..<rounds {
                best = min(best, try await time { produced = try await count(provider.stream(request)) })
            }
            let megabytes = Double(long[size]!.count) / 1e6
            perMegabyte[name] = best.seconds / megabytes
            print(
                "SSE records of \(name): \(produced) events, \(format(megabytes)) MB in \(format(best.seconds * 1000)) ms = \(format(megabytes / best.seconds)) MB/s, \(format(Double(produced) / best.seconds)) events/s"
            )
        }
        print(
            "a 2 MB line costs \(format(perMegabyte["2 MB"]! / perMegabyte["64 KB"]!, digits: 2))x a 64 KB line per byte (at most 2x)"
        )

        // Time to first event.
        let probeProvider = OpenAIChatProvider(
            baseURL: server.baseURL + "/probe", apiKey: "k", model: "m", client: client)
        var firstEvents: [Duration] = []
        for _ in 0..<probes {
            let clock = ContinuousClock()
            let start = clock.now
            for try await _ in probeProvider.stream(request) {
                firstEvents.append(clock.now - start)
                break
            }
        }
        var curlFirst: [Double] = []
        for _ in 0..<min(probes, 50) {
            let result = try await runProgram(
                "/usr/bin/curl",
                [
                    "-sN", "-o", "/dev/null", "-m", "0.3", "-w", "%{time_starttransfer}", "-X", "POST", "-d", "{}",
                    server.baseURL + "/probe/chat/completions",
                ],
                environment: [:])
            if let seconds = Double(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) {
                curlFirst.append(seconds)
            }
        }
        let ourMedian = median(firstEvents.map(\.seconds)) * 1000
        let curlMedian = median(curlFirst) * 1000
        print(
            "time to first event: median \(format(ourMedian, digits: 3)) ms over \(firstEvents.count) requests; curl time_starttransfer median \(format(curlMedian, digits: 3)) ms; added \(format(ourMedian - curlMedian, digits: 3)) ms"
        )
    }

}

struct TraceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Trace store append throughput and latency, and the secret scanner's speed.",
        discussion: """
            Concurrent: --events appends issued at once, each committed in its turn; posted: \
            --events posts (no wait each), settled by finishing the run. One commit \
            per event: --commits appends awaited one after the other, with p50/p99 latency. Bytes \
            per event: the database file's size over the events in it. Scanner: MB/s over 100 KB \
            of source-like text with a few planted secrets.
            """
    )

    @Option(help: "Events in the concurrent, posted and burst runs.") var events = 50_000
    @Option(help: "Events committed one at a time.") var commits = 2_000

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("traces.db").path
        let store = try TraceStore(path: path)
        let payload: JSONValue = [
            "tool": "search", "arguments": ["pattern": "fn handle_request", "glob": "*.rs"],
            "result": ["matches": 12, "truncated": false],
        ]
        let clock = ContinuousClock()

        let batchedRun = try await store.startRun(agent: "bench", task: "batched", header: [:], at: 0)
        let batchedStart = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<events {
                group.addTask {
                    try await store.append(
                        run: batchedRun, kind: .toolCall, step: "$\(index)", payload: payload, at: 0)
                }
            }
            try await group.waitForAll()
        }
        let batched = clock.now - batchedStart

        // Posted: what a run's decisions use (plans, routes, step ends): no wait per event,
        // committed in groups, all of them durable once the run is finished.
        let postedRun = try await store.startRun(agent: "bench", task: "posted", header: [:], at: 0)
        let postedStart = clock.now
        for index in 0..<events {
            try await store.post(run: postedRun, kind: .stepFinished, step: "$\(index)", payload: payload, at: 0)
        }
        try await store.finish(postedRun, status: .finished, at: 1)
        let posted = clock.now - postedStart

        let burstRun = try await store.startRun(agent: "bench", task: "bursts", header: [:], at: 0)
        let burst = (0..<100).map { index in
            TraceStore.NewEvent(kind: EventKind(rawValue: "model.chunk"), step: "$\(index)", payload: payload, at: 0)
        }
        let burstStart = clock.now
        for _ in 0..<(events / burst.count) { try await store.append(run: burstRun, events: burst) }
        let bursts = clock.now - burstStart

        let singleRun = try await store.startRun(agent: "bench", task: "single", header: [:], at: 0)
        var latencies: [Double] = []
        let singleStart = clock.now
        for index in 0..<commits {
            let start = clock.now
            try await store.append(run: singleRun, kind: .toolCall, step: "$\(index)", payload: payload, at: 0)
            latencies.append((clock.now - start).seconds * 1000)
        }
        let single = clock.now - singleStart
        latencies.sort()
        try await store.finish(batchedRun, status: .finished, at: 1)
        try await store.finish(singleRun, status: .finished, at: 1)
        let size =
            ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            + ((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0)

        let line = "    let response = client.send(request, retry: policy) // user@example.com fetches the page\n"
        var text = String(repeating: line, count: 100_000 / line.utf8.count)
        text += "token = \"Zq8#vL2!pR7@xT4\" and sk-AbCdEfGhIjKlMnOpQrStUvWxYz012345 and AKIAIOSFODNN7EXAMPLE\n"
        let scanner = SecretScanner(key: Array("bench".utf8))
        let scanRounds = 200
        let scanStart = clock.now
        var redactedBytes = 0
        for _ in 0..<scanRounds { redactedBytes += scanner.redact(text).utf8.count }
        let scan = (clock.now - scanStart) / scanRounds
        precondition(redactedBytes > 0)

        // Replay: a 1,000-step run recorded live, then replayed from the store.
        let steps = 1_000
        let replayRun = try await store.startRun(agent: "bench", task: "replay", header: [:], at: 0)
        let live = LiveEffects(store: store, run: replayRun, clock: { 0 })
        for index in 0..<steps {
            _ = try await live.tool("search", arguments: ["pattern": .string("step \(index)")], step: "$\(index)") {
                ["matches": .number(Double(index))]
            }
        }
        try await store.finish(replayRun, status: .finished, at: 1)
        let replayStart = clock.now
        let replay = try await RecordedEffects(replaying: replayRun, in: store)
        for index in 0..<steps {
            _ = try await replay.tool("search", arguments: ["pattern": .string("step \(index)")], step: "$\(index)") {
                fatalError("a replay must not run tools")
            }
        }
        let replayed = clock.now - replayStart
        let complete = await replay.isComplete
        precondition(complete, "the replay left recorded effects unused")

        print(
            "concurrent appends: \(events) events in \(format(batched.seconds * 1000)) ms = \(format(Double(events) / batched.seconds / 1000)) k events/s"
        )
        print(
            "posted (post, then finish): \(events) events in \(format(posted.seconds * 1000)) ms = \(format(Double(events) / posted.seconds / 1000)) k events/s"
        )
        print(
            "one commit per event: \(commits) in \(format(single.seconds * 1000)) ms = \(format(Double(commits) / single.seconds)) commits/s; p50 \(format(latencies[latencies.count / 2], digits: 3)) ms, p99 \(format(latencies[latencies.count * 99 / 100], digits: 3)) ms"
        )
        print(
            "bytes per event: \(format(Double(size) / Double(3 * events + commits))) (database and WAL, \(size) bytes)"
        )
        print(
            "bursts of 100 (append(run:events:)): \(events) events in \(format(bursts.seconds * 1000)) ms = \(format(Double(events) / bursts.seconds / 1000)) k events/s"
        )
        print("replay of a \(steps)-step run (\(2 * steps) events): \(format(replayed.seconds * 1000)) ms")
        for limit in [64 * 1024, 4 * 1024] {
            let size = try await plannerRunSize(
                in: directory.appendingPathComponent("planner-\(limit).db").path, inlineLimit: limit)
            print(
                "a planner run of \(plannerRounds) rounds (16 KB prompt, 6 KB read per round; requests with their wire bodies), strings over \(limit / 1024) KB stored once: \(size / 1024) KB on disk"
            )
        }
        print(
            "secret scanner: 100 KB in \(format(scan.seconds * 1000, digits: 3)) ms = \(format(Double(text.utf8.count) / scan.seconds / 1e6)) MB/s"
        )
    }

}

extension TraceBench {
    var plannerRounds: Int { 12 }

    /// The bytes on disk (database and WAL) of a store holding one planner-shaped run: each
    /// round sends the same system prompt and the whole history, which grows by a plan and a
    /// file read per round.
    func plannerRunSize(in path: String, inlineLimit: Int) async throws -> Int {
        let store = try TraceStore(path: path, inlineLimit: inlineLimit)
        let run = try await store.startRun(agent: "bench", task: "planner", header: [:], at: 0)
        let effects = LiveEffects(store: store, run: run, clock: { 0 })
        let prompt = String(repeating: "You plan steps for a code assistant; cite files and lines. ", count: 280)
        var messages: [ChatMessage] = [.system(prompt), .user("Where is the retry policy applied?")]
        for round in 1...plannerRounds {
            let plan = try await effects.model(
                ModelRequest(messages: messages), profile: "cloud", provider: CannedModel(), step: "plan-\(round)")
            let read = (1...120).map { "\(round * 1000 + $0)    let policy = RetryPolicy.default // line \($0)" }
            messages += [.assistant(plan.text), .user(read.joined(separator: "\n"))]
        }
        try await store.finish(run, status: .finished, at: 1)
        return [path, path + "-wal"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
        }
    }
}

/// A writer for crash tests: appends events one commit at a time and prints each
/// sequence number once it is acknowledged, until it is killed.
struct TraceWriter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace-writer",
        abstract: "Append events to a store, printing each acknowledged one (for crash tests).")

    @Option(help: "The trace store.") var store: String
    @Option(help: "Events to write.") var events = 1_000
    @Flag(
        help:
            "Make model calls through the effects boundary (a request and its answer, from a CannedModel taking 5 ms, each), printing each call once its answer is on disk: with the next request, which follows from it."
    )
    var effects = false
    @Flag(
        help: "Keep the run open after the last event until killed, so that a slow killer still kills a running writer."
    )
    var hold = false

    func run() async throws {
        let store = try TraceStore(path: store)
        let run = try await store.startRun(agent: "crash-test", task: "write", header: [:], at: 0)
        emit("run \(run) \(getpid())")
        if effects {
            let live = LiveEffects(store: store, run: run, clock: { 0 })
            let calls = events / 2
            for index in 1...calls {
                _ = try await live.model(
                    CannedModel.request(index), profile: "canned", provider: CannedModel(delay: .milliseconds(5)),
                    step: "$\(index)")
                // The answer before this one was committed with this request.
                if index > 1 { emit("ack \(index - 1)") }
            }
            try await store.settle()
            emit("ack \(calls)")
        } else {
            for index in 1...events {
                let sequence = try await store.append(
                    run: run, kind: .toolResult, step: "$\(index)", payload: ["index": .number(Double(index))], at: 0)
                emit("ack \(sequence)")
            }
        }
        if hold {
            emit("holding")
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
        try await store.finish(run, status: .finished, at: 1)
        emit("done")
    }

    /// Unbuffered, so the reader sees each line the moment it is true.
    func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
