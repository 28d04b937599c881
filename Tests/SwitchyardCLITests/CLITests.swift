import Foundation
import SwitchyardTesting
import Testing

@Suite struct CLITests {
    let binary = BuiltProducts.executable("switchyard")
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"

    @Test func versionIsPrinted() throws {
        let result = try runProgram(binary, ["--version"], environment: ["PATH": path])
        #expect(result.status == 0)
        #expect(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func helpExplainsTheEnvironment() throws {
        let result = try runProgram(binary, ["doctor", "--help"], environment: ["PATH": path])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("OLLAMA_HOST"))
        #expect(result.standardOutput.contains("--json"))
    }

    @Test func doctorJSONTellsTheTruthWithoutModelServers() throws {
        let ollama = try LoopbackHTTPServer { _, response in response.respond(status: 200) }
        let ollamaAddress = "127.0.0.1:\(ollama.port)"
        ollama.stop()
        let result = try runProgram(
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

    @Test func doctorFailsWhenARequiredPieceIsMissing() throws {
        let result = try runProgram(
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
    @Test func proxyVariablesAreHonoured() throws {
        let targets = Shared<[String]>([])
        let proxy = try LoopbackHTTPServer { request, response in
            targets.update { $0.append(request.target) }
            if request.path.hasSuffix("/api/tags") {
                response.respond(status: 200, text: "{\"models\":[{\"name\":\"via-proxy:latest\"}]}")
            } else {
                response.respond(status: 200, text: "{\"version\":\"0.0.1\"}")
            }
        }
        let result = try runProgram(
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
