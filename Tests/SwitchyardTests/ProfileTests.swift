import Composition
import Foundation
import Providers
import Switchyard
import SwitchyardTesting
import Testing

@Suite struct ProfileTests {
    let yaml = """
        profiles:
          local:
            provider: ollama
            model: qwen2.5-coder:7b
            options:
              num_ctx: 8192
              keep_alive: 30m
          cloud:
            provider: openai
            model: gpt-4o-mini
            price:
              input: 0.15
              output: 0.6
          peer:
            provider: openai-compatible
            base_url: http://127.0.0.1:8080/v1
            model: smollm2
            options:
              quirks: llama-cpp-python
        """

    func settings(_ text: String, overrides: [String] = []) throws -> Settings {
        var settings = Settings()
        try settings.merge(yaml: text, file: "switchyard.yaml")
        for override in overrides { try settings.set(override) }
        return settings
    }

    @Test func profilesWithDefaultsFromTheEnvironment() throws {
        let environment = ["OLLAMA_HOST": "10.1.2.3:11500", "OPENAI_BASE_URL": "https://proxy.example/v1/"]
        let profiles = try ModelProfile.all(from: settings(yaml), environment: environment)
        #expect(Set(profiles.keys) == ["local", "cloud", "peer"])
        let local = try #require(profiles["local"])
        #expect(local.kind == .ollama)
        #expect(local.baseURL == "http://10.1.2.3:11500")
        #expect(local.clearance == .internal)  // not loopback
        #expect(local.options["num_ctx"] == 8192)
        let cloud = try #require(profiles["cloud"])
        #expect(cloud.baseURL == "https://proxy.example/v1")
        #expect(cloud.apiKeyEnvironment == "OPENAI_API_KEY")
        #expect(cloud.clearance == .internal)
        #expect(cloud.cost(of: Usage(inputTokens: 1_000_000, outputTokens: 500_000)) == 0.45)
        let peer = try #require(profiles["peer"])
        #expect(peer.clearance == .secret)  // a loopback server may see everything
        let defaultLocal = try ModelProfile.all(from: settings(yaml), environment: [:])["local"]
        #expect(defaultLocal?.baseURL == "http://127.0.0.1:11434")
        #expect(defaultLocal?.clearance == .secret)
    }

    @Test func setOverridesAndDefinesProfiles() throws {
        let settings = try settings(
            yaml,
            overrides: [
                "profiles.local.model=llama3.2", "profiles.extra.provider=ollama", "profiles.extra.model=phi4",
                "profiles.extra.clearance=private", "profiles.local.options.num_ctx=4096",
            ])
        let profiles = try ModelProfile.all(from: settings, environment: [:])
        #expect(profiles["local"]?.model == "llama3.2")
        #expect(profiles["local"]?.options["num_ctx"] == 4096)
        #expect(profiles["extra"]?.clearance == .private)
        #expect(settings["profiles.local.model"]?.origin == "--set profiles.local.model")
    }

    @Test func unknownKeysAreErrorsThatSayWhere() throws {
        let text = """
            profiles:
              local:
                provider: ollama
                model: llama3.2
                modle: typo
            """
        let error = #expect(throws: ConfigurationError.self) {
            _ = try ModelProfile.all(from: settings(text), environment: [:])
        }
        #expect(error?.location == "switchyard.yaml:5")
        #expect(error?.message.contains("unknown setting profiles.local.modle") == true)
    }

    @Test func badValuesAreErrors() throws {
        let cases: [(String, String)] = [
            ("profiles.x.provider=anthropic", "unknown provider 'anthropic'"),
            ("profiles.x.clearance=top", "unknown clearance 'top'"),
            ("profiles.x.options.turbo=true", "unknown option turbo"),
            ("profiles.x.options.max_output_tokens=lots", "must be a number"),
        ]
        for (override, message) in cases {
            let settings = try settings(
                "profiles:\n  x:\n    provider: openai\n    model: m\n", overrides: [override])
            let error = #expect(throws: ConfigurationError.self) {
                _ = try ModelProfile.all(from: settings, environment: [:])
            }
            #expect(error?.message.contains(message) == true, "\(override): \(String(describing: error))")
        }
        let missing = #expect(throws: ConfigurationError.self) {
            _ = try ModelProfile.all(from: settings("profiles:\n  y:\n    provider: ollama\n"), environment: [:])
        }
        #expect(missing?.message.contains("model is missing") == true)
        #expect(throws: ConfigurationError.self) { try settings("profiles: [1, 2") }
    }

    @Test func forcedToolCallsFollowTheQuirksUnlessTheProfileSays() throws {
        func quirks(_ overrides: [String]) throws -> CompatibilityQuirks? {
            let settings = try settings(
                "profiles:\n  x:\n    provider: openai-compatible\n    base_url: http://127.0.0.1:1/v1\n    model: m\n",
                overrides: ["profiles.x.options.quirks=llama.cpp"] + overrides)
            let profile = try ModelProfile.named("x", in: settings, environment: [:])
            return (try profile.chatProvider(environment: [:]) as? OpenAIChatProvider)?.quirks
        }
        #expect(try quirks([])?.forcesToolsThroughSchema == true)
        #expect(try quirks(["profiles.x.options.forced_tool_calls=tool_choice"])?.forcesToolsThroughSchema == false)
        let error = #expect(throws: ConfigurationError.self) {
            _ = try quirks(["profiles.x.options.forced_tool_calls=always"])
        }
        #expect(error?.message.contains("expected tool_choice or schema") == true, "\(String(describing: error))")
    }

    @Test func missingKeyAndUnknownProfileAreClear() throws {
        let settings = try settings(yaml)
        let cloud = try ModelProfile.named("cloud", in: settings, environment: [:])
        let error = #expect(throws: ConfigurationError.self) { _ = try cloud.chatProvider(environment: [:]) }
        #expect(error?.message.contains("OPENAI_API_KEY is not set") == true)
        _ = try cloud.chatProvider(environment: ["OPENAI_API_KEY": "sk-x"])
        let unknown = #expect(throws: ConfigurationError.self) {
            _ = try ModelProfile.named("nope", in: settings, environment: [:])
        }
        #expect(unknown?.message.contains("known profiles: cloud, local, peer") == true)
    }

    @Test func filesAreReadHomeFirstThenWorkspace() throws {
        let root = NSTemporaryDirectory() + "switchyard-config-\(UUID().uuidString)"
        let home = root + "/home"
        let workspace = root + "/work"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "profiles:\n  local:\n    provider: ollama\n    model: from-home\n    clearance: private\n"
            .write(toFile: home + "/config.yaml", atomically: true, encoding: .utf8)
        try "profiles:\n  local:\n    model: from-workspace\n"
            .write(toFile: workspace + "/switchyard.yaml", atomically: true, encoding: .utf8)
        let settings = try Settings.load(
            workspace: workspace, environment: ["SWITCHYARD_HOME": home], overrides: ["profiles.local.clearance=secret"]
        )
        let local = try ModelProfile.named("local", in: settings, environment: [:])
        #expect(local.model == "from-workspace")
        #expect(local.clearance == .secret)
        #expect(try Settings.home(["HOME": "/h"]) == "/h/.switchyard")
    }

    /// An empty or relative HOME does not put the stores at `/.switchyard` or under the
    /// current directory: the user database's home is taken instead.
    @Test func anEmptyOrRelativeHomeIsNotTaken() throws {
        let fromDatabase = String(cString: getpwuid(getuid())!.pointee.pw_dir) + "/.switchyard"
        #expect(try Settings.home(["HOME": ""]) == fromDatabase)
        #expect(try Settings.home(["HOME": "relative/dir"]) == fromDatabase)
        #expect(try Settings.home([:]) == fromDatabase)
        #expect(try Settings.home(["HOME": "", "SWITCHYARD_HOME": "/s"]) == "/s")
    }

    /// A profile that names its key's variable needs it set, whatever its provider: without it
    /// the request would go out unauthenticated, or fail at the server for a reason nobody sees.
    @Test func anUnsetKeyVariableIsAnErrorForEveryProvider() throws {
        for provider in ["openai", "openai-compatible", "ollama"] {
            var settings = Settings()
            for assignment in [
                "profiles.p.provider=\(provider)", "profiles.p.model=m", "profiles.p.base_url=http://10.1.2.3/v1",
                "profiles.p.api_key_env=SWITCHYARD_TEST_UNSET_KEY",
            ] { try settings.set(assignment) }
            let profile = try ModelProfile.named("p", in: settings, environment: [:])
            let error = #expect(throws: ConfigurationError.self) { try profile.chatProvider(environment: [:]) }
            #expect(
                error?.description
                    == "profiles.p.api_key_env: SWITCHYARD_TEST_UNSET_KEY is not set; export it to use http://10.1.2.3/v1"
            )
            #expect(try profile.apiKey(["SWITCHYARD_TEST_UNSET_KEY": "k"]) == "k")
        }
    }

    /// A profile is local — cleared for secrets by default — because of its address, not its
    /// spelling: a name that starts with `127.` or `localhost` is a name.
    @Test func localityIsByAddress() throws {
        let cases: [(String, Confidentiality)] = [
            ("http://127.0.0.1:11434", .secret), ("http://127.8.9.10/v1", .secret),
            ("http://localhost:8080/v1", .secret),
            ("http://LOCALHOST./v1", .secret), ("http://[::1]:8080/v1", .secret),
            ("http://[::ffff:127.0.0.1]/v1", .secret),
            ("http://127.0.0.1.evil.example/v1", .internal), ("http://localhost.evil.example/v1", .internal),
            ("http://127.0.0.1@evil.example/v1", .internal), ("http://[::2]/v1", .internal),
            ("http://10.0.0.7:11434", .internal), ("http://[fe80::1]/v1", .internal), ("not a url", .internal),
        ]
        for (url, clearance) in cases {
            var settings = Settings()
            try settings.set("profiles.p.provider=openai-compatible")
            try settings.set("profiles.p.model=m")
            try settings.set("profiles.p.base_url=\(url)")
            #expect(try ModelProfile.named("p", in: settings, environment: [:]).clearance == clearance, "\(url)")
        }
    }

    /// `options.max_output_tokens` caps every answer a request does not cap itself: on the
    /// wire, `max_tokens` (or `max_completion_tokens` for OpenAI's reasoning models).
    @Test func maxOutputTokensCapsAnswersOnTheWire() async throws {
        let server = try ScriptedModelServer()
        let settings = try settings(
            yaml,
            overrides: ["profiles.peer.base_url=\(server.baseURL)/v1", "profiles.peer.options.max_output_tokens=64"])
        let provider = try #require(try ModelProfile.all(from: settings, environment: [:])["peer"])
            .chatProvider(environment: [:])
        server.enqueue("/v1/chat/completions", .openAIText("hi"))
        _ = try await provider.complete(ModelRequest(messages: [.user("Hello")]))
        #expect(try server.lastBody()["max_tokens"] as? Int == 64)
        server.enqueue("/v1/chat/completions", .openAIText("hi"))
        _ = try await provider.complete(ModelRequest(messages: [.user("Hello")], maxOutputTokens: 8))
        #expect(try server.lastBody()["max_tokens"] as? Int == 8)
    }
}
