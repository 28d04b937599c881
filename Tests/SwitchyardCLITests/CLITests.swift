import Foundation
import SQLite
import Subprocess
import Switchyard
import SwitchyardTesting
import SystemPackage
import Testing

@Suite struct CLITests {
    let binary = BuiltProducts.executable("switchyard")
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"

    @Test func versionIsPrinted() async throws {
        let result = try await runProgram(binary, ["--version"], environment: ["PATH": path])
        #expect(result.status == 0)
        #expect(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func helpExplainsTheEnvironment() async throws {
        let result = try await runProgram(binary, ["doctor", "--help"], environment: ["PATH": path])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("OLLAMA_HOST"))
        #expect(result.standardOutput.contains("--json"))
    }

    @Test func doctorJSONTellsTheTruthWithoutModelServers() async throws {
        // A port bound but not listening refuses every connection, and stays ours while the
        // test runs (a stopped server's port can be taken by another test's server meanwhile).
        let closed = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(closed) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(closed, $0, length) == 0 && getsockname(closed, $0, &length) == 0
            }
        }
        try #require(bound)
        let ollamaAddress = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        let result = try await runProgram(
            binary, ["doctor", "--json", "--timeout", "2"],
            environment: ["PATH": path, "OLLAMA_HOST": ollamaAddress, "OPENAI_BASE_URL": "http://\(ollamaAddress)/v1"])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        let report = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        #expect(report?["passed"] as? Bool == true)
        let checks = report?["checks"] as? [[String: Any]] ?? []
        let byName = Dictionary(uniqueKeysWithValues: checks.map { ($0["name"] as? String ?? "", $0) })
        #expect(
            Set(byName.keys).isSuperset(of: [
                "libcurl", "libgit2", "SQLite", "ripgrep", "bubblewrap", "Ollama", "OpenAI key", "OpenAI API",
            ]))
        #expect(byName["Ollama"]?["status"] as? String == "failed")
        #expect((byName["Ollama"]?["fix"] as? String)?.isEmpty == false)
        #expect(byName["OpenAI key"]?["status"] as? String == "failed")
    }

    @Test func doctorFailsWhenARequiredPieceIsMissing() async throws {
        let result = try await runProgram(
            binary, ["doctor", "--timeout", "1"],
            environment: ["PATH": "/nonexistent", "NO_COLOR": "1", "OLLAMA_HOST": "127.0.0.1:1"])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("FAIL  ripgrep"))
        #expect(result.standardOutput.contains("fix: apt-get install ripgrep"))
        #expect(result.standardOutput.contains("Missing required pieces: ripgrep, bubblewrap."))
        #expect(!result.standardOutput.contains("\u{1B}["))
    }
}

@Suite struct CLIProxyTests {
    /// `http_proxy` in the environment reaches libcurl: doctor finds "Ollama" at a host
    /// name that does not exist, through a loopback proxy that answers for it.
    @Test func proxyVariablesAreHonoured() async throws {
        let targets = Shared<[String]>([])
        let proxy = try LoopbackHTTPServer { request, response in
            targets.update { $0.append(request.target) }
            if request.path.hasSuffix("/api/tags") {
                response.respond(status: 200, text: "{\"models\":[{\"name\":\"via-proxy:latest\"}]}")
            } else {
                response.respond(status: 200, text: "{\"version\":\"0.0.1\"}")
            }
        }
        let result = try await runProgram(
            BuiltProducts.executable("switchyard"), ["doctor", "--json", "--timeout", "2"],
            environment: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                "http_proxy": proxy.baseURL, "OLLAMA_HOST": "http://ollama.invalid:11434",
                "OPENAI_BASE_URL": "http://openai.invalid/v1",
            ])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("via-proxy:latest"))
        #expect(targets.value.contains("http://ollama.invalid:11434/api/tags"))
    }
}

@Suite struct CLIChatTests {
    let binary = BuiltProducts.executable("switchyard")
    let home = NSTemporaryDirectory() + "switchyard-home-\(UUID().uuidString)"
    var environment: [String: String] {
        ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "SWITCHYARD_HOME": home]
    }

    /// `trace ls` lines its columns up, whatever the longest status and agent name: an
    /// interrupted run's status never runs into its agent.
    @Test func traceListColumnsStayApart() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let store = try TraceStore(path: home + "/traces.db")
        for (agent, status) in [("loop-agent", RunStatus.interrupted), ("a-much-longer-agent-name", .finished)] {
            let run = try await store.startRun(agent: agent, task: "t", header: [:], at: 1_700_000_000_000)
            try await store.finish(run, status: status, at: 1_700_000_001_000)
        }
        let list = try await runProgram(binary, ["trace", "ls"], environment: environment)
        #expect(list.status == 0, "\(list.standardError)")
        let rows = list.standardOutput.split(separator: "\n").map {
            $0.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        #expect(rows.count == 2)
        #expect(Set(rows.map { $0[2] }) == ["interrupted", "finished"], "\(list.standardOutput)")
        #expect(Set(rows.map { $0[3] }) == ["loop-agent", "a-much-longer-agent-name"], "\(list.standardOutput)")
        // The agent column starts at the same place on every line.
        let starts = zip(list.standardOutput.split(separator: "\n"), rows).compactMap { line, row in
            line.range(of: row[3]).map { line.distance(from: line.startIndex, to: $0.lowerBound) }
        }
        #expect(starts.count == 2 && Set(starts).count == 1, "\(list.standardOutput)")
    }

    @Test func chatIsRecordedAsARunWithoutItsSecrets() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let server = try ScriptedModelServer()
        // The key arrives split across two deltas.
        server.enqueueOllamaKeyInTwoDeltas()
        let profile = ollamaProfile("l", at: server.baseURL)
        let chat = try await runProgram(binary, ["chat"] + profile + ["what is my key?"], environment: environment)
        #expect(chat.status == 0, "\(chat.standardError)")
        #expect(chat.standardOutput.contains("sk-AbCdEfGhIjKlMnOpQrStUvWxYz012345"))  // the user sees it
        #expect(chat.standardError.contains("recorded as run"))

        let list = try await runProgram(binary, ["trace", "ls", "--json"], environment: environment)
        let runs = try JSONValue(parsing: list.standardOutput).arrayValue ?? []
        #expect(runs.count == 1)
        #expect(runs.first?["status"] == "finished")
        #expect(runs.first?["events"] == 2)
        let id = try #require(runs.first?["id"]?.stringValue)

        let show = try await runProgram(binary, ["trace", "show", String(id.prefix(10))], environment: environment)
        #expect(show.status == 0, "\(show.standardError)")
        #expect(show.standardOutput.contains("model.response"))
        #expect(show.standardOutput.contains("→ llama3.2 at \(server.baseURL)/api/chat"))
        #expect(show.standardOutput.contains("finish stop, tokens 4 in / 9 out"))
        #expect(show.standardOutput.contains("hash chain: verified"))
        #expect(show.standardOutput.contains("[REDACTED:openai-key:"))

        let replay = try await runProgram(binary, ["replay", id], environment: environment)
        #expect(replay.status == 0, "\(replay.standardError)")
        #expect(replay.standardOutput.contains("no divergence"))
        let whatIf = try await runProgram(
            binary, ["replay", id, "--prompt", "what is your key?", "--json"], environment: environment)
        #expect(whatIf.status == 6)
        let divergence = try JSONValue(parsing: whatIf.standardOutput)["divergence"]
        #expect(divergence?["path"] == "request.messages[0].content")
        #expect(divergence?["recorded"] == "what is my key?")
        #expect(divergence?["replayed"] == "what is your key?")
        let export = try await runProgram(binary, ["trace", "export", id, "--jsonl"], environment: environment)
        let lines = export.standardOutput.split(separator: "\n")
        #expect(lines.count == 3)  // the run, then its two events
        #expect(try JSONValue(parsing: String(lines[2]))["kind"] == "model.response")
        let otlp = try await runProgram(binary, ["trace", "export", id, "--otlp"], environment: environment)
        #expect(otlp.status == 0, "\(otlp.standardError)")
        let spans =
            try JSONValue(parsing: otlp.standardOutput)["resourceSpans"]?.arrayValue?.first?["scopeSpans"]?
            .arrayValue?.first?["spans"]?.arrayValue ?? []
        #expect(spans.map { $0["name"] } == ["invoke_agent chat", "chat llama3.2"])
        let chatAttributes = spans.last?["attributes"]?.arrayValue ?? []
        func attribute(_ key: String) -> JSONValue? { chatAttributes.first { $0["key"] == .string(key) }?["value"] }
        #expect(attribute("gen_ai.operation.name") == ["stringValue": "chat"])
        #expect(attribute("gen_ai.usage.input_tokens") == ["intValue": "4"])
        #expect(attribute("gen_ai.usage.output_tokens") == ["intValue": "9"])
        #expect(attribute("gen_ai.input.messages") == nil)  // content is off by default
        #expect(spans.last?["parentSpanId"] == spans.first?["spanId"])
        let withContent = try await runProgram(
            binary, ["trace", "export", id, "--otlp", "--content"], environment: environment)
        #expect(withContent.standardOutput.contains("gen_ai.input.messages"))
        #expect(!withContent.standardOutput.contains("sk-AbCdEfGhIjKlMnOp"))

        let shown = try JSONValue(
            parsing: try await runProgram(binary, ["trace", "show", id, "--json"], environment: environment)
                .standardOutput)
        #expect(shown["header"]?["workspace"]?["path"] != nil)
        #expect(shown["header"]?["profile"]?["model"] == "llama3.2")
        #expect(shown["header"]?["libraries"]?["sqlite"] != nil)

        let same = try await runProgram(binary, ["trace", "diff", id, id], environment: environment)
        #expect(same.status == 0)
        #expect(same.standardOutput.contains("the runs record the same events"))

        let unrecorded = try await runProgram(
            binary, ["chat", "--no-record"] + profile + ["again"], environment: environment)
        #expect(unrecorded.status == 1)  // nothing scripted any more: a clear error, and no run
        let after = try await runProgram(binary, ["trace", "ls", "--json"], environment: environment)
        #expect(try JSONValue(parsing: after.standardOutput).arrayValue?.count == 1)
    }

    @Test func chatAgainstAnOllamaFake() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let server = try ScriptedModelServer()
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"Hello"},"done":false}"#,
                #"{"message":{"role":"assistant","content":" world"},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":2}"#,
            ]))
        let result = try await runProgram(
            binary, ["chat"] + ollamaProfile("local", at: server.baseURL) + ["--json", "hi"], environment: environment)
        #expect(result.status == 0, "\(result.standardError)")
        let report = try JSONValue(parsing: result.standardOutput)
        #expect(report["text"] == "Hello world")
        #expect(report["finish_reason"] == "stop")
        #expect(report["usage"]?["input_tokens"] == 3)
    }

    /// A trace whose last event was cut off is shown as broken and the command fails with the
    /// chain's exit code; replay says why it refuses it.
    @Test func anEditedTraceFailsShowAndIsNotReplayed() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let server = try ScriptedModelServer()
        server.enqueue(
            "/api/chat",
            .ndjson([#"{"message":{"role":"assistant","content":"hi"},"done":true,"done_reason":"stop"}"#]))
        let chat = try await runProgram(
            binary, ["chat"] + ollamaProfile("l", at: server.baseURL) + ["--json", "hello"], environment: environment)
        #expect(chat.status == 0, "\(chat.standardError)")
        let list = try await runProgram(binary, ["trace", "ls", "--json"], environment: environment)
        let id = try #require(try JSONValue(parsing: list.standardOutput).arrayValue?.first?["id"]?.stringValue)
        try Database(path: home + "/traces.db").execute("DELETE FROM events WHERE seq = 2")
        let show = try await runProgram(binary, ["trace", "show", id], environment: environment)
        #expect(show.status == 5)
        #expect(show.standardOutput.contains("hash chain: BROKEN — the seal does not match"), "\(show.standardOutput)")
        let refused = try await runProgram(binary, ["replay", id], environment: environment)
        #expect(refused.status == 1)
        #expect(refused.standardError.hasPrefix("switchyard: run \(id) is not replayed: its hash chain is BROKEN"))
    }

    /// A local model's traffic (it may be private) never goes through the environment's proxy.
    @Test func aLocalModelIsReachedDirectlyWhateverTheProxy() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let proxy = try LoopbackHTTPServer { _, writer in writer.respond(status: 502, text: "proxied") }
        defer { proxy.stop() }
        let server = try ScriptedModelServer()
        server.enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"direct"},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":1}"#
            ]))
        var proxied = environment
        for name in ["http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy", "ALL_PROXY"] {
            proxied[name] = proxy.baseURL
        }
        let result = try await runProgram(
            binary, ["chat"] + ollamaProfile("local", at: server.baseURL) + ["--json", "CANARY-9393"],
            environment: proxied)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try JSONValue(parsing: result.standardOutput)["text"] == "direct")
        #expect(proxy.requestCount == 0)
        #expect(server.requests.count == 1)
    }

    /// …unless its profile names a proxy, which then carries it.
    @Test func aLocalProfileThatNamesAProxyGoesThroughIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let server = try ScriptedModelServer()
        let proxy = try LoopbackHTTPServer { request, writer in
            // An absolute-form request target is what a proxy is sent.
            guard request.target.hasPrefix(server.baseURL) else { return writer.respond(status: 400, text: "") }
            writer.respond(
                status: 200, headers: [("Content-Type", "application/x-ndjson")],
                text:
                    #"{"message":{"role":"assistant","content":"proxied"},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":1}"#
                    + "\n")
        }
        defer { proxy.stop() }
        let result = try await runProgram(
            binary,
            ["chat"] + ollamaProfile("local", at: server.baseURL) + [
                "--set", "profiles.local.proxy=\(proxy.baseURL)", "--json", "hi",
            ], environment: environment)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try JSONValue(parsing: result.standardOutput)["text"] == "proxied")
        #expect(proxy.requestCount == 1)
        #expect(server.requests.isEmpty)
    }

    @Test func chatReportsModelErrorsInOneLineAndRecordsThem() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let server = try ScriptedModelServer()
        server.enqueue("/api/chat", .json(status: 404, #"{"error":"model 'llama9' not found"}"#))
        let result = try await runProgram(
            binary, ["chat"] + ollamaProfile("l", model: "llama9", at: server.baseURL) + ["hi"],
            environment: environment)
        #expect(result.status == 1)
        #expect(
            result.standardError.hasPrefix("switchyard: model: model-not-found (HTTP 404): model 'llama9' not found"))
    }

    @Test func unknownProfileIsAConfigurationError() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let result = try await runProgram(binary, ["chat", "--profile", "ghost", "hi"], environment: environment)
        #expect(result.status == 2)
        #expect(result.standardError.contains("no such profile"))
    }

    @Test(.usesLocalModel) func chatWithToolsAndSchemaAgainstTheLocalModel() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let peer = try await LocalModelPeer.endpoints()
        let directory = NSTemporaryDirectory() + "switchyard-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The profiles are the user's own: a workspace's switchyard.yaml may not define one.
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try """
        profiles:
          peer:
            provider: openai-compatible
            base_url: \(peer.chat)
            model: smollm2
            options:
              quirks: llama.cpp
          vectors:
            provider: openai-compatible
            base_url: \(peer.embed)
            model: smollm2
        """.write(toFile: home + "/config.yaml", atomically: true, encoding: .utf8)
        try
            #"[{"name":"get_weather","description":"Get the weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]"#
            .write(toFile: directory + "/tools.json", atomically: true, encoding: .utf8)
        try
            #"{"type":"object","properties":{"city":{"type":"string"},"sunny":{"type":"boolean"}},"required":["city","sunny"]}"#
            .write(toFile: directory + "/schema.json", atomically: true, encoding: .utf8)
        let base = ["--workspace", directory, "--profile", "peer"]

        let streamed = try await runProgram(
            binary, ["chat"] + base + ["--stream", "--max-tokens", "16", "Say hello."], environment: environment)
        #expect(streamed.status == 0, "\(streamed.standardError)")
        #expect(!streamed.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)

        let forced = try await runProgram(
            binary,
            ["chat"] + base + [
                "--tools", directory + "/tools.json", "--tool-choice", "get_weather", "--json", "Weather in Rome?",
            ], environment: environment)
        #expect(forced.status == 0, "\(forced.standardError)")
        let call = try JSONValue(parsing: forced.standardOutput)["tool_calls"]?.arrayValue?.first
        #expect(call?["name"] == "get_weather")
        #expect(call?["arguments"]?["city"]?.stringValue != nil)

        let structured = try await runProgram(
            binary, ["chat"] + base + ["--schema", directory + "/schema.json", "--json", "Is it sunny in Rome?"],
            environment: environment)
        #expect(structured.status == 0, "\(structured.standardError)")
        let text = try JSONValue(parsing: structured.standardOutput)["text"]?.stringValue ?? ""
        let answer = try JSONValue(parsing: text)
        #expect(answer["city"]?.stringValue != nil)
        #expect(answer["sunny"] == .bool(true) || answer["sunny"] == .bool(false))

        let embedded = try await runProgram(
            binary, ["embed", "--workspace", directory, "--profile", "vectors", "--json", "one", "two"],
            environment: environment)
        #expect(embedded.status == 0, "\(embedded.standardError)")
        let vectors = try JSONValue(parsing: embedded.standardOutput).arrayValue ?? []
        #expect(vectors.map { $0["dimensions"] } == [576, 576])
    }
}

@Suite struct CLIDoctorConfigurationTests {
    @Test func aBrokenConfigurationFailsDoctor() async throws {
        let directory = NSTemporaryDirectory() + "switchyard-doctor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "profiles:\n  local:\n    provider: olama\n    model: x\n".write(
            toFile: directory + "/config.yaml", atomically: true, encoding: .utf8)
        let result = try await runProgram(
            BuiltProducts.executable("switchyard"), ["doctor", "--workspace", directory, "--timeout", "1"],
            environment: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "NO_COLOR": "1",
                "SWITCHYARD_HOME": directory, "OLLAMA_HOST": "127.0.0.1:1",
            ])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("FAIL  configuration"))
        #expect(result.standardOutput.contains("config.yaml:3: unknown provider 'olama'"))
    }
}

@Suite struct CLIResumeTests {
    /// The chat process is killed while its request is in flight: the request was recorded
    /// before it was sent, the run is interrupted, and `resume` finishes it.
    @Test func aKilledChatIsInterruptedAndResumed() async throws {
        let home = NSTemporaryDirectory() + "switchyard-resume-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: home) }
        let environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "SWITCHYARD_HOME": home,
        ]
        let requests = Shared(0)
        let server = try LoopbackHTTPServer { _, response in
            let number = requests.update { count in
                count += 1
                return count
            }
            if number == 1 {
                // Never answer the first request: the client is killed meanwhile.
                response.waitForClose()
                response.abort()
                return
            }
            response.respond(
                status: 200,
                text: #"{"message":{"role":"assistant","content":"resumed answer"},"done":true,"done_reason":"stop"}"#
                    + "\n")
        }
        let configuration = processConfiguration(
            BuiltProducts.executable("switchyard"),
            ["chat"] + ollamaProfile("l", at: server.baseURL) + ["say something"],
            environment: environment)
        _ = try await Subprocess.run(configuration, input: .none, output: .discarded, error: .discarded) { execution in
            let deadline = ContinuousClock.now + .seconds(20)
            while requests.value == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            try execution.send(signal: .kill)
        }
        #expect(requests.value == 1)

        let list = try await runProgram(
            BuiltProducts.executable("switchyard"), ["trace", "ls", "--json"], environment: environment)
        let run = try #require(try JSONValue(parsing: list.standardOutput).arrayValue?.first)
        #expect(run["status"] == "interrupted")
        #expect(run["events"] == 1)  // the intent, committed before the request left
        let id = try #require(run["id"]?.stringValue)

        let resumed = try await runProgram(
            BuiltProducts.executable("switchyard"), ["resume", id], environment: environment)
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardOutput.contains("resumed answer"))
        #expect(requests.value == 2)

        let show = try await runProgram(
            BuiltProducts.executable("switchyard"), ["trace", "show", id, "--json"], environment: environment)
        let report = try JSONValue(parsing: show.standardOutput)
        #expect(report["run"]?["status"] == "finished")
        #expect(report["chain"] == "verified (2 events, keyed and sealed)")
        #expect(report["chain_holds"] == true)
        #expect(report["events"]?.arrayValue?.map { $0["kind"] } == ["model.request", "model.response"])
        #expect(report["events"]?.arrayValue?.last?["parent"] == 1)

        // A finished run does not resume again.
        let again = try await runProgram(
            BuiltProducts.executable("switchyard"), ["resume", id], environment: environment)
        #expect(again.status != 0)
        #expect(again.standardError.contains("only interrupted or failed runs resume"))
    }
}
