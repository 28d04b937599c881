import Composition
import Curl
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// An Ollama server's `/api/tags` and `/api/version`, in the shapes of Ollama's docs.
func fakeOllama(models: [String]) throws -> LoopbackHTTPServer {
    try LoopbackHTTPServer { request, response in
        switch request.path {
        case "/api/tags":
            let entries = models.map { name in
                """
                {"name":"\(name)","model":"\(name)","modified_at":"2025-10-03T23:34:03.409490317-07:00",\
                "size":3338801804,"digest":"4a03f83c62a5c09a8f5bb4b4c88e9e6d0f2d4c0f7c1b6e4f3b2c1d0e9f8a7b6c",\
                "details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],\
                "parameter_size":"3.2B","quantization_level":"Q4_K_M"}}
                """
            }
            response.respond(
                status: 200, headers: [("Content-Type", "application/json; charset=utf-8")],
                text: "{\"models\":[\(entries.joined(separator: ","))]}")
        case "/api/version":
            response.respond(
                status: 200, headers: [("Content-Type", "application/json")], text: "{\"version\":\"0.12.6\"}")
        default:
            response.respond(status: 404, text: "404 page not found")
        }
    }
}

/// OpenAI's `GET /v1/models`: 200 with the right key, 401 in OpenAI's error shape otherwise.
func fakeOpenAI(key: String, authorizations: Shared<[String]>) throws -> LoopbackHTTPServer {
    try LoopbackHTTPServer { request, response in
        let authorization = request.header("authorization") ?? ""
        authorizations.update { $0.append(authorization) }
        guard request.path == "/v1/models" else { return response.respond(status: 404, text: "{}") }
        if authorization == "Bearer \(key)" {
            response.respond(
                status: 200, headers: [("x-request-id", "req_123")],
                text: """
                    {"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"},\
                    {"id":"text-embedding-3-small","object":"model","created":1705948997,"owned_by":"system"}]}
                    """)
        } else {
            response.respond(
                status: 401, headers: [("x-request-id", "req_456")],
                text: """
                    {"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}
                    """)
        }
    }
}

/// An address with nothing listening: port 1 is privileged and unused, so no test
/// server running in parallel can take it (a freed ephemeral port could be reused).
func closedPort() throws -> String { "127.0.0.1:1" }

@Suite struct DoctorTests {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"

    func check(_ name: String, in checks: [DoctorCheck]) throws -> DoctorCheck {
        try #require(checks.first { $0.name == name })
    }

    @Test func reportsOllamaModelsAndVersion() async throws {
        let ollama = try fakeOllama(models: ["llama3.2:latest", "qwen2.5-coder:7b"])
        let doctor = Doctor(environment: ["PATH": path, "OLLAMA_HOST": "127.0.0.1:\(ollama.port)"])
        let checks = await doctor.run()
        let line = try check("Ollama", in: checks)
        #expect(line.status == .ok)
        #expect(line.detail.contains("Ollama 0.12.6"))
        #expect(line.detail.contains("2 models: llama3.2:latest, qwen2.5-coder:7b"))
    }

    @Test func ollamaWithoutModelsIsAWarning() async throws {
        let ollama = try fakeOllama(models: [])
        let checks = await Doctor(environment: ["PATH": path, "OLLAMA_HOST": ollama.baseURL]).run()
        let line = try check("Ollama", in: checks)
        #expect(line.status == .warning)
        #expect(line.fix?.contains("ollama pull") == true)
    }

    @Test func unreachableServersAreOptionalWithAFix() async throws {
        let address = try closedPort()
        let doctor = Doctor(
            environment: ["PATH": path, "OLLAMA_HOST": address, "OPENAI_BASE_URL": "http://\(try closedPort())/v1"])
        let checks = await doctor.run()
        let ollama = try check("Ollama", in: checks)
        #expect(ollama.status == .failed)
        #expect(!ollama.required)
        #expect(ollama.detail.contains("nothing is listening"))
        #expect(ollama.detail.contains("OLLAMA_HOST=\(address)"))
        #expect(ollama.fix?.contains("ollama serve") == true)
        let key = try check("OpenAI key", in: checks)
        #expect(key.status == .failed)
        #expect(key.fix?.contains("OPENAI_API_KEY") == true)
        let api = try check("OpenAI API", in: checks)
        #expect(api.status == .failed)
        #expect(api.fix != nil)
        #expect(Doctor.passed(checks))
    }

    @Test func somethingElseOnTheOllamaPortIsNotOllama() async throws {
        let other = try LoopbackHTTPServer { _, response in response.respond(status: 404, text: "not here") }
        let checks = await Doctor(environment: ["PATH": path, "OLLAMA_HOST": other.baseURL]).run()
        let line = try check("Ollama", in: checks)
        #expect(line.status == .failed)
        #expect(line.detail.contains("status 404"))
    }

    @Test func openAIKeyIsSentAndChecked() async throws {
        let seen = Shared<[String]>([])
        let openAI = try fakeOpenAI(key: "sk-test-123", authorizations: seen)
        let good = await Doctor(
            environment: ["PATH": path, "OPENAI_API_KEY": "sk-test-123", "OPENAI_BASE_URL": openAI.baseURL + "/v1/"]
        ).checkOpenAI()
        #expect(good.map(\.status) == [.ok, .ok])
        #expect(good[1].detail.contains("2 models"))
        #expect(seen.value.last == "Bearer sk-test-123")

        let bad = await Doctor(
            environment: ["PATH": path, "OPENAI_API_KEY": "sk-wrong", "OPENAI_BASE_URL": openAI.baseURL + "/v1"]
        ).checkOpenAI()
        #expect(bad[1].status == .warning)
        #expect(bad[1].detail.contains("refuses the key"))
        #expect(bad[1].detail.contains("req_456"))
        // The key itself never appears in what doctor prints.
        #expect(!bad.contains { $0.detail.contains("sk-wrong") || ($0.fix ?? "").contains("sk-wrong") })
    }

    @Test func missingHelperProgramsFailTheRequiredChecks() async throws {
        let checks = await Doctor(environment: ["PATH": "/nonexistent", "OLLAMA_HOST": try closedPort()]).run()
        #expect(try check("ripgrep", in: checks).status == .failed)
        #expect(try check("ripgrep", in: checks).fix?.contains("apt-get install ripgrep") == true)
        #expect(try check("bubblewrap", in: checks).status == .failed)
        #expect(!Doctor.passed(checks))
        #expect(try check("libcurl", in: checks).detail.contains("libcurl/"))
        #expect(try check("SQLite", in: checks).status == .ok)
    }

    @Test(
        arguments: [
            (nil, "http://127.0.0.1:11434"),
            ("", "http://127.0.0.1:11434"),
            ("0.0.0.0", "http://0.0.0.0:11434"),
            ("example.com:8080", "http://example.com:8080"),
            ("https://ollama.example.com", "https://ollama.example.com:443"),
            ("http://10.0.0.2:11434/", "http://10.0.0.2:11434"),
            ("http://host:1234/proxy/ollama", "http://host:1234/proxy/ollama"),
            (":11500", "http://127.0.0.1:11500"),
        ] as [(String?, String)])
    func ollamaHostIsReadLikeOllamaDoes(value: String?, expected: String) {
        #expect(Endpoints.ollama(value.map { ["OLLAMA_HOST": $0] } ?? [:]) == expected)
    }

    @Test func openAIBaseURLDefaultsToTheCloud() {
        #expect(Endpoints.openAI([:]) == "https://api.openai.com/v1")
        #expect(Endpoints.openAI(["OPENAI_BASE_URL": "http://127.0.0.1:8000/v1/"]) == "http://127.0.0.1:8000/v1")
    }
}

@Suite struct DoctorProfileTests {
    @Test func eachProfileGetsALine() async throws {
        let ollama = try fakeOllama(models: ["llama3.2:latest"])
        let seen = Shared<[String]>([])
        let compatible = try fakeOpenAI(key: "local-key", authorizations: seen)
        var settings = Settings()
        for assignment in [
            "profiles.pulled.provider=ollama", "profiles.pulled.model=llama3.2",
            "profiles.pulled.base_url=\(ollama.baseURL)",
            "profiles.missing.provider=ollama", "profiles.missing.model=qwen3",
            "profiles.missing.base_url=\(ollama.baseURL)",
            "profiles.cloud.provider=openai", "profiles.cloud.model=gpt-4o-mini",
            "profiles.peer.provider=openai-compatible", "profiles.peer.model=m", "profiles.peer.api_key_env=PEER_KEY",
            "profiles.peer.base_url=\(compatible.baseURL)/v1",
        ] {
            try settings.set(assignment)
        }
        let environment = ["PEER_KEY": "local-key"]
        let profiles = Array(try ModelProfile.all(from: settings, environment: environment).values)
        let checks = await Doctor(environment: environment, profiles: profiles).checkProfiles()
        let byName = Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0) })
        #expect(checks.map(\.name) == ["profile cloud", "profile missing", "profile peer", "profile pulled"])
        #expect(byName["profile pulled"]?.status == .ok)
        #expect(byName["profile missing"]?.status == .warning)
        #expect(byName["profile missing"]?.fix == "ollama pull qwen3")
        #expect(byName["profile cloud"]?.status == .failed)
        #expect(byName["profile cloud"]?.detail.contains("OPENAI_API_KEY is not set") == true)
        #expect(byName["profile peer"]?.status == .ok)
        #expect(seen.value.contains("Bearer local-key"))
        #expect(checks.allSatisfy { !$0.required })
    }

    @Test func eachMCPServerGetsALineSayingWhatItOffers() async throws {
        let directory = try TemporaryDirectory("doctor-mcp")
        let command = [try await MCPPeers.python(), MCPPeers.peerScript, directory.path + "/calls.jsonl"]
        let servers = [
            MCPServerSpec(name: "peer", command: command, allow: ["echo", "lookup"], origin: "agents/a.md:7"),
            MCPServerSpec(name: "stale", command: command, allow: ["echo", "search"], origin: "agents/a.md:9"),
            MCPServerSpec(name: "gone", command: ["no-such-mcp-server"], origin: "agents/a.md:11"),
        ]
        let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let checks = await Doctor(environment: environment, servers: servers, workspace: directory.path)
            .checkServers()
        #expect(checks.map(\.name) == ["mcp peer", "mcp stale", "mcp gone"])
        #expect(checks[0].status == .ok)
        #expect(checks[0].detail == "peer 1.0: 2 tools (echo, lookup), clearance public")
        #expect(checks[1].status == .warning)
        #expect(checks[1].detail.hasPrefix("peer 1.0 does not list search (it lists "), "\(checks[1].detail)")
        #expect(checks[1].fix == "correct mcp.stale.tools in agents/a.md:9")
        #expect(checks[2].status == .failed)
        #expect(checks[2].detail.contains("no program `no-such-mcp-server` on PATH"), "\(checks[2].detail)")
        #expect(checks.allSatisfy { !$0.required })
    }
}
