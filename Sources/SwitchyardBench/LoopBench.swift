import ArgumentParser
import Curl
import Foundation
import Subprocess
import Switchyard
import SwitchyardTesting
import SystemPackage

/// The per-step cost of a tool-calling loop, Switchyard's against the floor: a bare loop in
/// Python's standard library that records nothing.
struct LoopBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loop",
        abstract: "Per-step cost of a tool-calling loop: switchyard run against a bare Python loop.",
        discussion: """
            One zero-latency scripted server (Python's standard library, OpenAI's chat format, \
            unstreamed) answers N calls of a `read` tool and then "done"; each client resends the \
            whole conversation every step, as a tool-calling loop must. The clients, taking turns \
            against the same server: a bare loop (http.client + json, reads the file, records \
            nothing); `switchyard run` with a planner-less agent (its tool-calling loop, the trace \
            on); and `switchyard run` with a planned agent (each planner round carries the run's \
            state). Step times are taken by the server, between one request's arrival and the \
            next's, so every client is timed by the same clock; the client's turn is the part of a \
            step from the server's answer to the next request's arrival, which leaves out the \
            server's own time (it parses a body that grows with the conversation). Reports, per N, \
            for steps and for turns, the median over \
            --repeat runs of the median step, the mean of the first and the last 20 steps, the \
            trace's bytes per step, and each client's ratio to the bare loop: the median, over the \
            attempts, of its median step over the bare loop's in the same attempt, so that a machine \
            that speeds up or slows down during the run weighs on every client alike.
            """
    )

    @Option(help: "Loop lengths, comma-separated.") var steps = "20,200"
    @Option(help: "Runs of each client at each length; the median is reported.") var `repeat` = 3
    @Option(help: "The Python to run the server and the bare loop with.") var python = "python3"
    @Option(help: "The switchyard binary (default: beside this one).") var switchyard: String?

    /// One client's run: the server's step times, the client's turns within them, and the
    /// trace's size.
    struct Sample {
        var steps: Times
        var turns: Times
        var traceBytes: Int?
    }

    /// A time per step, in ms.
    struct Times {
        var values: [Double]

        var median: Double { SwitchyardBench.median(values) }
        var first20: Double { mean(values.prefix(20)) }
        var last20: Double { mean(values.suffix(20)) }

        func mean(_ values: some Collection<Double>) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }
    }

    func run() async throws {
        let lengths = steps.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !lengths.isEmpty, lengths.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--steps: expected positive numbers, as in 20,200")
        }
        let binary =
            switchyard
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                "switchyard"
            ).path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no switchyard binary at \(binary): build it (swift build -c release)")
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let python = python.contains("/")
                ? python
                : path.split(separator: ":").map({ "\($0)/\(python)" }).first(where: {
                    FileManager.default.isExecutableFile(atPath: $0)
                })
        else { throw ValidationError("no \(self.python) on the PATH") }
        let scratch = try TemporaryDirectory("loop-bench")
        try Self.server.write(toFile: scratch.path + "/server.py", atomically: true, encoding: .utf8)
        try Self.bareLoop.write(toFile: scratch.path + "/loop.py", atomically: true, encoding: .utf8)
        try scratch.write("workspace/notes.txt", Self.notes)
        try await LoopServer.running(python: python, script: scratch.path + "/server.py") { server in
            try await measure(lengths, server: server, scratch: scratch, binary: binary, python: python)
        }
    }

    func measure(_ lengths: [Int], server: LoopServer, scratch: TemporaryDirectory, binary: String, python: String)
        async throws
    {
        print("tool-calling loop, times in ms on the server's clock, median of \(`repeat`) runs")
        for length in lengths {
            // The clients take turns, attempt by attempt, so that a machine that speeds up or
            // slows down during the run weighs on each of them alike; each is compared with the
            // bare loop of its own attempt.
            var samples: [Client: [Sample]] = [:]
            for attempt in 1...`repeat` {
                for client in Client.allCases {
                    let home = scratch.path + "/home-\(client)-\(length)-\(attempt)"
                    try await server.reset(steps: length, planned: client == .planned)
                    try await run(
                        client, steps: length, server: server, scratch: scratch, home: home, binary: binary,
                        python: python)
                    let (steps, turns) = try await server.stepTimes()
                    guard steps.count == length, turns.count == length else {
                        throw ValidationError(
                            "\(client) at N=\(length) made \(steps.count + 1) requests, not \(length + 1)")
                    }
                    samples[client, default: []].append(
                        Sample(
                            steps: Times(values: steps), turns: Times(values: turns),
                            traceBytes: client == .bare ? nil : Self.bytes(under: home)))
                }
            }
            report(samples, length: length, "a step (one request's arrival to the next's)", \.steps)
            report(samples, length: length, "the client's turn (the server's answer to the next request)", \.turns)
        }
    }

    /// One table: per client, the median run's times, its trace, and the median of its ratios
    /// to the bare loop of the same attempt.
    func report(_ samples: [Client: [Sample]], length: Int, _ title: String, _ times: KeyPath<Sample, Times>) {
        print("\nN=\(length), \(title)")
        print("client                   per step   first 20   last 20   trace B/step   per step / bare loop")
        let bare = samples[.bare] ?? []
        for client in Client.allCases {
            let runs = samples[client] ?? []
            let chosen = runs.sorted { $0[keyPath: times].median < $1[keyPath: times].median }[runs.count / 2]
            let ratios = zip(runs, bare).map { $0[keyPath: times].median / $1[keyPath: times].median }
            let ratio = client == .bare ? "-" : format(median(ratios), digits: 2) + "x"
            let trace = chosen.traceBytes.map { String($0 / length) } ?? "-"
            print(
                [
                    client.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0),
                    format(chosen[keyPath: times].median, digits: 3).padding(toLength: 10, withPad: " ", startingAt: 0),
                    format(chosen[keyPath: times].first20, digits: 3).padding(
                        toLength: 10, withPad: " ", startingAt: 0),
                    format(chosen[keyPath: times].last20, digits: 3).padding(toLength: 9, withPad: " ", startingAt: 0),
                    trace.padding(toLength: 14, withPad: " ", startingAt: 0), ratio,
                ].joined(separator: " "))
        }
    }

    enum Client: String, CaseIterable, Hashable {
        case bare = "python stdlib loop"
        case agent = "switchyard run"
        case planned = "switchyard run, planned"
    }

    func run(
        _ client: Client, steps: Int, server: LoopServer, scratch: TemporaryDirectory, home: String, binary: String,
        python: String
    ) async throws {
        let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home]
        let result: ProgramResult
        switch client {
        case .bare:
            result = try await runProgram(
                python, [scratch.path + "/loop.py", String(server.port), scratch.path + "/workspace"],
                environment: environment)
        case .agent, .planned:
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let spec = home + "/loop.md"
            try Self.spec(port: server.port, steps: steps, planned: client == .planned).write(
                toFile: spec, atomically: true, encoding: .utf8)
            result = try await runProgram(
                binary,
                [
                    "run", spec, "Read notes.txt until told to stop.", "--workspace", scratch.path + "/workspace",
                    "--json",
                ],
                environment: environment.merging(["SWITCHYARD_HOME": home + "/.switchyard"]) { $1 })
        }
        guard result.status == 0 else {
            throw ValidationError("\(client) failed (\(result.status)): \(result.standardError.suffix(600))")
        }
    }

    static func bytes(under directory: String) -> Int {
        let enumerator = FileManager.default.enumerator(atPath: directory + "/.switchyard")
        var total = 0
        while let name = enumerator?.nextObject() as? String {
            guard name.hasPrefix("traces.db") else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/.switchyard/" + name))?[.size]
            total += (size as? Int) ?? 0
        }
        return total
    }

    static let notes = String(
        repeating: "The parser keeps the line it was given and the column it stopped at.\n", count: 3)

    static func spec(port: Int, steps: Int, planned: Bool) -> String {
        """
        ---
        name: loop
        \(planned ? "planner: local\n" : "")model: local
        profiles:
          local: { provider: openai-compatible, base_url: "http://127.0.0.1:\(port)/v1", model: m, options: { stream: false } }
        tools:
          read: {}
        budgets: { steps: \(steps * 3 + 10), tokens: 1000000000, cost_usd: 1000, wall_seconds: 3600 }
        ---
        You read files when asked.
        """
    }

    /// The scripted server: `POST /reset` with `{"steps": N, "planned": bool}`, then N calls of
    /// `read` (or plans of one `read` step, for a request that offers `plan`) and "done";
    /// `GET /stats` gives each chat request's arrival time in ms.
    static let server = #"""
        import http.server, json, os, sys, threading, time

        state = {"steps": 0, "served": 0, "arrivals": [], "answers": []}

        def completion(message, finish):
            return {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}

        def call(index, name, arguments):
            return {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_%d" % index, "type": "function",
                 "function": {"name": name, "arguments": json.dumps(arguments)}}]}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go in two writes: without this, a delayed ACK costs 40 ms a step.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def reply(self, value):
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def answer(self, value):
                self.reply(value)
                state["answers"].append(time.perf_counter() * 1000)

            def do_GET(self):
                self.reply({"arrivals": state["arrivals"], "answers": state["answers"]})

            def do_POST(self):
                arrived = time.perf_counter() * 1000
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/reset":
                    state.update(steps=request["steps"], served=0, arrivals=[], answers=[])
                    return self.reply({})
                state["arrivals"].append(arrived)
                index = state["served"]
                state["served"] += 1
                planning = any(tool["function"]["name"] == "plan" for tool in request.get("tools", []))
                if planning:
                    if index < state["steps"]:
                        plan = {"steps": [{"kind": "tool", "tool": "read", "arguments": {"path": "notes.txt"}}]}
                    else:
                        plan = {"answer": "done"}
                    return self.answer(completion(call(index, "plan", plan), "tool_calls"))
                if index < state["steps"]:
                    return self.answer(completion(call(index, "read", {"path": "notes.txt"}), "tool_calls"))
                self.answer(completion({"role": "assistant", "content": "done"}, "stop"))

        def orphaned():
            # The benchmark that started it is gone: so is it.
            parent = os.getppid()
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=orphaned, daemon=True).start()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        with open(sys.argv[1] + ".partial", "w") as file:
            file.write(str(server.server_address[1]))
        os.rename(sys.argv[1] + ".partial", sys.argv[1])
        server.serve_forever()
        """#

    /// The floor: a tool-calling loop in Python's standard library that records nothing.
    static let bareLoop = #"""
        import http.client, json, os, sys

        port, workspace = int(sys.argv[1]), sys.argv[2]
        tools = [{"type": "function", "function": {
            "name": "read", "description": "Read a file of the workspace.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]
        messages = [{"role": "system", "content": "You read files when asked."},
                    {"role": "user", "content": "Read notes.txt until told to stop."}]
        connection = http.client.HTTPConnection("127.0.0.1", port)
        while True:
            body = json.dumps({"model": "m", "messages": messages, "tools": tools})
            connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            message = json.loads(connection.getresponse().read())["choices"][0]["message"]
            messages.append(message)
            if not message.get("tool_calls"):
                break
            for call in message["tool_calls"]:
                path = json.loads(call["function"]["arguments"])["path"]
                with open(os.path.join(workspace, path)) as file:
                    messages.append({"role": "tool", "tool_call_id": call["id"], "content": file.read()})
        """#
}

/// The scripted server of `LoopBench`, running in a process of its own.
struct LoopServer: Sendable {
    let port: Int

    /// Runs `body` while the server runs (it writes its port to `script`.port), then kills it.
    static func running<Result: Sendable>(
        python: String, script: String, _ body: (LoopServer) async throws -> Result
    ) async throws -> Result {
        let portFile = script + ".port"
        try? FileManager.default.removeItem(atPath: portFile)
        let configuration = Configuration(
            executable: .path(FilePath("/usr/bin/env")), arguments: Arguments([python, script, portFile]),
            environment: .inherit)
        let outcome = try await Subprocess.run(configuration, input: .none, output: .discarded, error: .discarded) {
            execution in
            defer { try? execution.send(signal: .kill) }
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) {
                    return try await body(LoopServer(port: port))
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw ValidationError("the scripted server did not start (is \(python) a Python 3?)")
        }
        return outcome.closureResult
    }

    private func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        let response = try await HTTPClient.shared.send(
            HTTPRequest(
                method: body == .null ? .get : .post, url: "http://127.0.0.1:\(port)\(path)",
                headers: ["Content-Type": "application/json"],
                body: body == .null ? nil : Array(body.canonicalText.utf8)))
        return try JSONValue(parsing: response.body)
    }

    func reset(steps: Int, planned: Bool) async throws {
        _ = try await post("/reset", ["steps": .number(Double(steps)), "planned": .bool(planned)])
    }

    /// Per step, the time between one chat request's arrival and the next's, and the client's
    /// turn within it: from the server's answer to the next request's arrival.
    func stepTimes() async throws -> (steps: [Double], turns: [Double]) {
        let stats = try await post("/stats", .null)
        func times(_ key: String) -> [Double] { stats[key]?.arrayValue?.compactMap(\.doubleValue) ?? [] }
        let arrivals = times("arrivals")
        return (
            zip(arrivals.dropFirst(), arrivals).map { $0 - $1 },
            zip(arrivals.dropFirst(), times("answers")).map { $0 - $1 }
        )
    }
}
