import ArgumentParser
import Composition
import Foundation
import Switchyard

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the libraries, helper programs and model servers Switchyard uses.",
        discussion: """
            Reports libcurl, libgit2 and SQLite versions; whether ripgrep (rg) and bubblewrap (bwrap) \
            are installed and work; whether Ollama answers at $OLLAMA_HOST and which models it has; \
            whether OPENAI_API_KEY is set and $OPENAI_BASE_URL is reachable. Every failing line says \
            how to fix it. With --agent, also the agent's model profiles and each MCP server its spec \
            declares (started, asked for its tools, stopped). Exits non-zero only when a required \
            piece is missing: the model and MCP servers are optional.
            """
    )

    @Flag(help: "Print the checks as JSON.")
    var json = false

    @Option(help: "Seconds to wait for each server.")
    var timeout: Int = 5

    @Option(
        help: ArgumentHelp(
            "An agent (a name under agents/ or a spec file) whose profiles and MCP servers to check too.",
            valueName: "SPEC"))
    var agent: String?

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var profiles: [ModelProfile] = []
        var servers: [MCPServerSpec] = []
        var configuration: DoctorCheck?
        do {
            var loaded = try settings.load()
            if let agent {
                let spec = try AgentSpec.load(
                    path: try AgentSpec.locate(agent, workspace: settings.workspace, environment: environment),
                    overrides: settings.overrides)
                loaded = try spec.settings.overlaid(by: loaded)
                servers = spec.mcp
            }
            profiles = Array(try ModelProfile.all(from: loaded, environment: environment).values)
        } catch {
            configuration = DoctorCheck(
                name: "configuration", status: .failed, required: true, detail: "\(error)",
                fix: "correct the setting; `switchyard doctor --help` lists where settings come from")
        }
        let doctor = Doctor(
            environment: environment, profiles: profiles, servers: servers, workspace: settings.workspace,
            timeout: .seconds(max(1, timeout)))
        var checks = await doctor.run()
        if let configuration { checks.append(configuration) }
        let passed = Doctor.passed(checks)
        if json {
            struct Report: Encodable {
                var version: String
                var passed: Bool
                var checks: [DoctorCheck]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(Report(version: Switchyard.version, passed: passed, checks: checks))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(render(checks, passed: passed, style: TerminalStyle()))
        }
        if !passed { throw ExitStatus.failed }
    }

    func render(_ checks: [DoctorCheck], passed: Bool, style: TerminalStyle) -> String {
        let width = checks.map(\.name.count).max() ?? 0
        var lines: [String] = []
        for check in checks {
            let mark: String
            switch check.status {
            case .ok: mark = style.green("ok  ")
            case .warning: mark = style.yellow("warn")
            case .failed: mark = check.required ? style.red("FAIL") : style.yellow("miss")
            }
            let name = check.name.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("\(mark)  \(style.bold(name))  \(check.detail)")
            if let fix = check.fix, check.status != .ok {
                lines.append(String(repeating: " ", count: width + 8) + style.dim("fix: \(fix)"))
            }
        }
        let missing = checks.filter { $0.required && $0.status == .failed }.map(\.name)
        lines.append("")
        lines.append(
            passed
                ? "Everything Switchyard requires is here; lines marked miss are optional."
                : style.red("Missing required pieces: \(missing.joined(separator: ", ")).")
        )
        return lines.joined(separator: "\n")
    }
}

/// ANSI styling when standard output is a terminal and NO_COLOR is unset.
struct TerminalStyle {
    var enabled: Bool

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        enabled = !noColor && isatty(STDOUT_FILENO) == 1 && environment["TERM"] != "dumb"
    }

    private func wrap(_ code: String, _ text: String) -> String { enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
    func bold(_ text: String) -> String { wrap("1", text) }
    func dim(_ text: String) -> String { wrap("2", text) }
    func red(_ text: String) -> String { wrap("31", text) }
    func green(_ text: String) -> String { wrap("32", text) }
    func yellow(_ text: String) -> String { wrap("33", text) }
}
