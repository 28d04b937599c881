import ArgumentParser
import Composition
import Foundation
import Switchyard
import VectorStore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an agent on a task in a workspace.",
        discussion: """
            AGENT is a spec file, or a name looked up as agents/NAME.md in the workspace, then in the \
            current directory, then in $SWITCHYARD_HOME/agents. The spec's profiles and tool options \
            are defaults; switchyard.yaml, $SWITCHYARD_HOME/config.yaml and --set lie over them. \
            Progress (plans, steps, routes with their reasons, tokens) goes to standard error; the \
            answer to standard output, with the run id. The run is recorded in the trace store: \
            `switchyard trace show RUN`, `switchyard audit RUN`, `switchyard replay RUN`.
            Exit status: 0 when the agent finished, 3 when a budget stopped it, 1 on an error, 2 for a \
            configuration problem.
            """
    )

    @Argument(help: "The agent: a name or a spec file.") var agent: String
    @Argument(help: "The task.") var task: String
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Do not bring the workspace's vector index up to date first (for agents with vector_search).")
    var noIndex = false
    @Flag(
        help:
            "Let the agent change the work tree and the checked-out branch. Without it, changes can only be proposed: committed on a new branch (git_commit with a patch)."
    )
    var apply = false
    @OptionGroup var settings: SettingsOptions
    @OptionGroup var recording: RecordingOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let result: RunResult
        var recordedRun: RunID?
        do {
            let spec = try AgentSpec.load(
                path: try AgentSpec.locate(agent, workspace: settings.workspace, environment: environment),
                overrides: settings.overrides)
            let userSettings = try settings.load()
            var setup = try AgentSetup(
                spec: spec, settings: userSettings, workspace: settings.workspace, environment: environment,
                readOnly: apply ? nil : AgentSetup.readOnlyReason, assembly: StandardAssembly())
            setup.warnings.forEach(warn)
            setup.bindings = await ProfileBinding.askingWindows(setup.bindings)
            var header = setup.header(spec: spec, overrides: settings.overrides)
            header.apply = apply
            if spec.tools["vector_search"] != nil, !noIndex {
                header.index = await Self.refreshIndex(
                    settings: try spec.settings.overlaid(by: userSettings), labels: spec.privacy.workspace,
                    workspace: settings.workspace, quiet: json)
            }
            let quiet = json
            let progress: @Sendable (RunProgress) -> Void = { event in if !quiet { Self.show(event) } }
            func orchestrator(_ effects: any Effects) -> Orchestrator {
                Orchestrator(
                    spec: spec, profiles: setup.bindings, tools: setup.tools, effects: effects, progress: progress)
            }
            if let (store, header) = try recording.start(
                agent: spec.name, workspace: settings.workspace, header: header)
            {
                result = try await store.withRun(agent: spec.name, task: task, header: header, clock: now) { run in
                    recordedRun = run
                    let result = try await orchestrator(LiveEffects(store: store, run: run, clock: now)).run(task: task)
                    return (result, result.status)
                }
            } else {
                result = try await orchestrator(LiveEffects.unrecorded()).run(task: task)
            }
        } catch {
            throw fail(error)
        }
        if json {
            printJSON([
                "run": recordedRun.map { .string($0.description) } ?? .null, "answer": .string(result.answer),
                "stop_reason": .string(result.stopReason.description), "steps": .number(Double(result.steps)),
                "tokens": .number(Double(result.tokens)), "cost_usd": .number(result.costUSD),
                "refused": .array(result.guardDecisions.filter { !$0.allowed }.map(\.json)),
                "sources": .array(result.sources.map(\.json)),
            ])
        } else {
            print(result.answer)
            let sources = result.sources
            if !sources.isEmpty {
                print("\nRead: " + sources.map(\.description).joined(separator: ", "))
            }
            let run = recordedRun.map { "run \($0)" } ?? "not recorded"
            FileHandle.standardError.write(
                Data(
                    "\n\(run) — \(result.stopReason); \(result.steps) steps, \(result.tokens) tokens, $\(String(format: "%.4f", result.costUSD))\n"
                        .utf8))
        }
        if result.status != .finished { throw ExitStatus.stopped }
    }

    /// Indexes the workspace for `vector_search` on first use, and brings the index up to
    /// date (only changed files are embedded) on every run after. A workspace that cannot be
    /// indexed (no embedding profile, or none cleared for it) is reported, and the run goes
    /// on: `vector_search` then finds what was indexed before, or nothing.
    /// The workspace carries `labels`, as the run's tools do: only an embedder cleared for
    /// them is sent its files.
    static func refreshIndex(settings: Settings, labels: Labels, workspace: String, quiet: Bool) async -> JSONValue {
        do {
            let (name, summary) = try await IndexCommand.index(
                workspace, settings: settings, labels: labels, collection: try Toolbox.options(settings).collection,
                showProgress: !quiet)
            if !quiet {
                FileHandle.standardError.write(
                    Data(
                        "index   \(name): \(summary.indexed) files embedded, \(summary.unchanged) unchanged, \(summary.removed) removed (\(String(format: "%.1f", summary.elapsed.seconds)) s)\n"
                            .utf8))
            }
            return summary.header(collection: name)
        } catch {
            FileHandle.standardError.write(
                Data("switchyard: the workspace was not indexed for vector_search: \(error)\n".utf8))
            return ["error": .string("\(error)")]
        }
    }

    static func show(_ event: RunProgress) { FileHandle.standardError.write(Data("\(event)\n".utf8)) }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "What left the machine in a run: every egress, its labels, the decision and why.",
        discussion: """
            Lists every egress the run's guard decided — model requests, HTTP requests, networked \
            shell commands — and every declassification released to the planner, with its destination, \
            bytes, the labels of what it carried, the destination's clearance, the decision and the \
            reason. Then checks the bytes, not only the labels: every body and URL sent is searched \
            for text the run held above that destination's clearance (runs of 32 characters and \
            identifier-like tokens, as written, URL-escaped, base64 or hex), and each hit is listed \
            as a leak. With privacy.planner_metadata: coarse, it also says how many bits the \
            planner was shown about results it could not read.
            Exit status 0 when nothing above a destination's clearance left, 4 when something did.
            """
    )

    @Argument(help: "The run (an id or a unique prefix).") var run: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let (store, summary) = try await storeOptions.open(run)
        let audit = try await Audit(of: summary.id, in: store)
        if json {
            printJSON([
                "run": .string(summary.id.description), "egress": .array(audit.egress),
                "above_clearance": .bool(!audit.clean), "leaks": .array(audit.leaks.map(\.json)),
                "metadata_bits": .number(audit.releasedBits),
            ])
        } else {
            print("Egress of run \(summary.id) (\(summary.agent)):")
            for row in audit.egress {
                let decision = row["decision"]?.stringValue ?? "?"
                var labels =
                    row["labels"].map {
                        "\($0["confidentiality"]?.stringValue ?? "?")/\($0["integrity"]?.stringValue ?? "?")"
                    } ?? "-"
                if let mayRead = row["may_read"]?["confidentiality"]?.stringValue {
                    labels += ", may read \(mayRead) files"
                }
                print(
                    "#\(row["sequence"]?.canonicalText ?? "") \(row["step"]?.stringValue ?? "") \(row["kind"]?.stringValue ?? "") → \(row["destination"]?.stringValue ?? "") [\(labels)] \(decision): \(row["reason"]?.stringValue ?? "")"
                )
            }
            for leak in audit.leaks {
                print(
                    "LEAK #\(leak.sequence) \(leak.step) → \(leak.destination) (cleared for \(leak.clearance)): sent \(leak.held) text of event #\(leak.heldIn) (\(leak.encoding)): \"\(leak.evidence)\""
                )
            }
            if audit.releasedBits > 0 {
                print(
                    "The planner was shown \(String(format: "%.1f", audit.releasedBits)) bits about results it could not read (privacy.planner_metadata: coarse)."
                )
            }
            print(
                audit.clean
                    ? "Nothing above a destination's clearance left the machine: by the guard's decisions and by the bytes sent."
                    : "Something above a destination's clearance left the machine.")
        }
        if !audit.clean { throw ExitStatus.leaked }
    }
}
