public import Curl
import Foundation
import Git
import MCPClient
import SQLite
import Subprocess
public import Switchyard
import SystemPackage

/// One line of `switchyard doctor`.
public struct DoctorCheck: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case ok
        /// Present, but something about it deserves attention.
        case warning
        /// Absent or unreachable.
        case failed
    }

    public var name: String
    public var status: Status
    /// Whether Switchyard cannot work without it; only these make `doctor` fail.
    public var required: Bool
    public var detail: String
    /// What to do about a warning or a failure.
    public var fix: String?

    public init(name: String, status: Status, required: Bool, detail: String, fix: String? = nil) {
        self.name = name
        self.status = status
        self.required = required
        self.detail = detail
        self.fix = fix
    }
}

/// Checks what Switchyard needs on this machine: the C libraries, the tools' helper
/// programs, the model servers named by the environment, and an agent's MCP servers.
public struct Doctor: Sendable {
    public var environment: [String: String]
    /// The configured model profiles: each gets a line.
    public var profiles: [ModelProfile]
    /// MCP servers to start and ask for their tools (in `workspace`): each gets a line.
    public var servers: [MCPServerSpec]
    public var workspace: String
    public var client: HTTPClient
    /// How long a server may take to answer before it counts as unreachable.
    public var timeout: Duration

    public init(
        environment: [String: String], profiles: [ModelProfile] = [], servers: [MCPServerSpec] = [],
        workspace: String = ".", client: HTTPClient = .shared,
        timeout: Duration = .seconds(5)
    ) {
        self.environment = environment
        self.profiles = profiles
        self.servers = servers
        self.workspace = workspace
        self.client = client
        self.timeout = timeout
    }

    /// Every check, in a stable order; the network checks run concurrently.
    public func run() async -> [DoctorCheck] {
        async let ollama = checkOllama()
        async let openAI = checkOpenAI()
        async let configured = checkProfiles()
        async let mcp = checkServers()
        let local = [libcurl(), libgit2(), sqlite(), await ripgrep(), await bubblewrap()]
        return local + (await ollama) + (await openAI) + (await configured) + (await mcp)
    }

    /// Whether every required piece is present.
    public static func passed(_ checks: [DoctorCheck]) -> Bool {
        !checks.contains { $0.required && $0.status == .failed }
    }

    // MARK: Libraries

    func libcurl() -> DoctorCheck {
        DoctorCheck(name: "libcurl", status: .ok, required: true, detail: CurlLibrary.versionLine)
    }

    func libgit2() -> DoctorCheck {
        DoctorCheck(name: "libgit2", status: .ok, required: true, detail: Repository.libraryVersion)
    }

    func sqlite() -> DoctorCheck {
        do {
            let database = try Database(path: ":memory:")
            _ = try database.scalar("SELECT 1")
            return DoctorCheck(name: "SQLite", status: .ok, required: true, detail: Database.libraryVersion)
        } catch {
            return DoctorCheck(
                name: "SQLite", status: .failed, required: true, detail: "\(error)",
                fix: "install libsqlite3 (apt-get install libsqlite3-dev)")
        }
    }

    // MARK: Programs

    func ripgrep() async -> DoctorCheck {
        guard let path = executable("rg") else {
            return DoctorCheck(
                name: "ripgrep", status: .failed, required: true, detail: "rg is not on PATH; the search tool needs it",
                fix: "apt-get install ripgrep (or brew install ripgrep)")
        }
        let version =
            await run(path, ["--version"]).output.split(separator: "\n").first.map(String.init) ?? "unknown version"
        return DoctorCheck(name: "ripgrep", status: .ok, required: true, detail: "\(version) at \(path)")
    }

    func bubblewrap() async -> DoctorCheck {
        guard let path = executable("bwrap") else {
            return DoctorCheck(
                name: "bubblewrap", status: .failed, required: true,
                detail: "bwrap is not on PATH; the shell tool runs commands inside it",
                fix: "apt-get install bubblewrap")
        }
        let version = await run(path, ["--version"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let probe = await run(path, ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "true"])
        guard probe.status == 0 else {
            return DoctorCheck(
                name: "bubblewrap", status: .failed, required: true,
                detail:
                    "\(version) at \(path) cannot create a sandbox: \(probe.output.trimmingCharacters(in: .whitespacesAndNewlines))",
                fix:
                    "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run where bwrap works"
            )
        }
        return DoctorCheck(
            name: "bubblewrap", status: .ok, required: true, detail: "\(version) at \(path), sandbox works")
    }

    private func executable(_ name: String) -> String? {
        findExecutable(name, path: environment["PATH"])
    }

    private func run(_ path: String, _ arguments: [String]) async -> (status: Int32, output: String) {
        do {
            let result = try await Subprocess.run(
                .path(FilePath(path)), arguments: Arguments(arguments), output: .string(limit: 1 << 20),
                error: .combinedWithOutput)
            let status: Int32
            switch result.terminationStatus {
            case .exited(let code): status = code
            case .signaled(let signal): status = 128 + signal
            }
            return (status, result.standardOutput)
        } catch {
            return (-1, "\(error)")
        }
    }

    // MARK: Model servers

    /// Whether Ollama answers, its version and models.
    public func checkOllama() async -> [DoctorCheck] {
        let base = Endpoints.ollama(environment)
        let source = environment["OLLAMA_HOST"].map { "OLLAMA_HOST=\($0)" } ?? "the default address"
        let fix =
            "start Ollama (`ollama serve`) or set OLLAMA_HOST to where it listens; private steps need a local model"
        do {
            let response = try await client.send(request(base + "/api/tags"), maxBodyBytes: 4 << 20)
            guard response.status == 200,
                let tags = try? JSONDecoder().decode(OllamaTags.self, from: Data(response.body))
            else {
                return [
                    DoctorCheck(
                        name: "Ollama", status: .failed, required: false,
                        detail:
                            "\(base) (\(source)) answered GET /api/tags with status \(response.status), not Ollama's model list",
                        fix: fix)
                ]
            }
            let version = try? await client.send(request(base + "/api/version"), maxBodyBytes: 1 << 16)
            let number = version.flatMap { try? JSONDecoder().decode(OllamaVersion.self, from: Data($0.body)) }?.version
            let names = tags.models.map(\.name)
            let models = names.isEmpty ? "no models pulled" : "\(names.count) models: \(names.joined(separator: ", "))"
            return [
                DoctorCheck(
                    name: "Ollama", status: names.isEmpty ? .warning : .ok, required: false,
                    detail: "Ollama \(number ?? "(version unknown)") at \(base); \(models)",
                    fix: names.isEmpty ? "pull a model, e.g. `ollama pull qwen2.5-coder`" : nil)
            ]
        } catch {
            return [
                DoctorCheck(
                    name: "Ollama", status: .failed, required: false,
                    detail: "no answer at \(base) (\(source)): \(Self.describe(error))", fix: fix)
            ]
        }
    }

    /// The OpenAI key and whether the API answers.
    public func checkOpenAI() async -> [DoctorCheck] {
        let base = Endpoints.openAI(environment)
        let key = environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let keyCheck =
            key == nil
            ? DoctorCheck(
                name: "OpenAI key", status: .failed, required: false, detail: "OPENAI_API_KEY is not set",
                fix: "export OPENAI_API_KEY=… to use cloud models; without it cloud steps are refused")
            : DoctorCheck(name: "OpenAI key", status: .ok, required: false, detail: "OPENAI_API_KEY is set")

        var request = request(base + "/models")
        if let key { request.headers.set("Authorization", "Bearer \(key)") }
        let reach: DoctorCheck
        do {
            let response = try await client.send(request, maxBodyBytes: 8 << 20)
            let requestID = response.headers["x-request-id"].map { ", request id \($0)" } ?? ""
            switch response.status {
            case 200:
                let count = (try? JSONDecoder().decode(OpenAIModels.self, from: Data(response.body)))?.data.count
                reach = DoctorCheck(
                    name: "OpenAI API", status: .ok, required: false,
                    detail: "\(base) answers\(count.map { "; \($0) models" } ?? "")")
            case 401 where key == nil, 403 where key == nil:
                reach = DoctorCheck(
                    name: "OpenAI API", status: .ok, required: false,
                    detail: "\(base) answers (status \(response.status) without a key)")
            case 401, 403:
                reach = DoctorCheck(
                    name: "OpenAI API", status: .warning, required: false,
                    detail: "\(base) refuses the key: status \(response.status)\(requestID)",
                    fix: "check OPENAI_API_KEY (and OPENAI_BASE_URL if you use another server)")
            default:
                reach = DoctorCheck(
                    name: "OpenAI API", status: .warning, required: false,
                    detail: "\(base) answered GET /models with status \(response.status)\(requestID)",
                    fix: "check OPENAI_BASE_URL")
            }
        } catch {
            reach = DoctorCheck(
                name: "OpenAI API", status: .failed, required: false,
                detail: "cannot reach \(base): \(Self.describe(error))",
                fix: "check the network or proxy (https_proxy), or set OPENAI_BASE_URL to a server you can reach")
        }
        return [keyCheck, reach]
    }

    /// One line per configured profile: is its server there, and its model?
    public func checkProfiles() async -> [DoctorCheck] {
        await withTaskGroup(of: (Int, DoctorCheck).self) { group in
            for (index, profile) in profiles.sorted(by: { $0.name < $1.name }).enumerated() {
                group.addTask { (index, await check(profile)) }
            }
            var checks: [(Int, DoctorCheck)] = []
            for await check in group { checks.append(check) }
            return checks.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    func check(_ profile: ModelProfile) async -> DoctorCheck {
        let name = "profile \(profile.name)"
        let what = "\(profile.kind.rawValue) \(profile.model) at \(profile.baseURL), clearance \(profile.clearance)"
        let key: String?
        do {
            key = try profile.apiKey(environment)
        } catch {
            return DoctorCheck(
                name: name, status: .failed, required: false, detail: "\(what): \(error.message)",
                fix: "export \(profile.apiKeyEnvironment ?? "the API key variable")")
        }
        var request = request(profile.baseURL + (profile.kind == .ollama ? "/api/tags" : "/models"))
        if let key { request.headers.set("Authorization", "Bearer \(key)") }
        do {
            let response = try await client.send(request, maxBodyBytes: 8 << 20)
            guard response.isSuccess else {
                return DoctorCheck(
                    name: name, status: .warning, required: false,
                    detail: "\(what): the server answered status \(response.status)",
                    fix: response.status == 401 || response.status == 403
                        ? "check \(profile.apiKeyEnvironment ?? "the API key")"
                        : "check profiles.\(profile.name).base_url")
            }
            if profile.kind == .ollama {
                let names =
                    (try? JSONDecoder().decode(OllamaTags.self, from: Data(response.body)))?.models.map(\.name) ?? []
                let wanted = profile.model.contains(":") ? profile.model : profile.model + ":latest"
                guard names.contains(wanted) || names.contains(profile.model) else {
                    return DoctorCheck(
                        name: name, status: .warning, required: false, detail: "\(what): the model is not pulled",
                        fix: "ollama pull \(profile.model)")
                }
            }
            return DoctorCheck(name: name, status: .ok, required: false, detail: "\(what): answers")
        } catch {
            return DoctorCheck(
                name: name, status: .failed, required: false, detail: "\(what): \(Self.describe(error))",
                fix: profile.kind == .ollama
                    ? "start Ollama there, or change profiles.\(profile.name).base_url"
                    : "start the server, or change profiles.\(profile.name).base_url")
        }
    }

    /// One line per MCP server: does it start, answer the handshake and list the tools its
    /// allowlist names? (Each is started, asked, and stopped.)
    public func checkServers() async -> [DoctorCheck] {
        await withTaskGroup(of: (Int, DoctorCheck).self) { group in
            for (index, server) in servers.enumerated() {
                group.addTask { (index, await check(server)) }
            }
            var checks: [(Int, DoctorCheck)] = []
            for await check in group { checks.append(check) }
            return checks.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    func check(_ server: MCPServerSpec) async -> DoctorCheck {
        let name = "mcp \(server.name)"
        let connection = StdioConnection(server: server, workspace: workspace, environment: environment)
        defer { Task { await connection.close() } }
        do {
            let catalogue = try await connection.catalogue()
            let listed = catalogue.tools.map(\.name)
            let offered = server.allow ?? listed
            if let missing = server.allow?.filter({ !listed.contains($0) }), !missing.isEmpty {
                return DoctorCheck(
                    name: name, status: .warning, required: false,
                    detail:
                        "\(catalogue.server) does not list \(missing.joined(separator: ", ")) (it lists \(listed.joined(separator: ", ")))",
                    fix: "correct mcp.\(server.name).tools in \(server.origin)")
            }
            return DoctorCheck(
                name: name, status: .ok, required: false,
                detail:
                    "\(catalogue.server): \(offered.count) tool\(offered.count == 1 ? "" : "s") (\(offered.joined(separator: ", "))), clearance \(server.clearance)"
            )
        } catch {
            return DoctorCheck(
                name: name, status: .failed, required: false, detail: "\(error)".oneLine,
                fix: "check mcp.\(server.name).command in \(server.origin), and run it by hand")
        }
    }

    private func request(_ url: String) -> HTTPRequest {
        var request = HTTPRequest(url: url, timeouts: HTTPTimeouts(connect: timeout, idle: timeout, total: timeout * 2))
        request.bypassProxy = ModelProfile.isLocal(url)
        return request
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? HTTPError else { return "\(error)" }
        switch error.code {
        case .couldNotConnect: return "nothing is listening (\(error.message))"
        case .couldNotResolve: return "the host name does not resolve (\(error.message))"
        case .connectTimeout, .idleTimeout, .totalTimeout: return "timed out (\(error.message))"
        default: return error.message
        }
    }
}

private struct OllamaTags: Decodable {
    struct Model: Decodable { var name: String }
    var models: [Model]
}

private struct OllamaVersion: Decodable { var version: String }

private struct OpenAIModels: Decodable {
    struct Model: Decodable { var id: String }
    var data: [Model]
}
