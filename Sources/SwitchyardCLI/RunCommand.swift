import ArgumentParser
import Composition
import Foundation
import Switchyard

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
        let quiet = json
        let meter = ProgressMeter(enabled: !quiet)
        let outcome: AgentRun.Outcome
        do {
            let run = AgentRun(
                agent: agent, workspace: settings.workspace, overrides: settings.overrides, apply: apply,
                refreshesIndex: !noIndex, store: try recording.store())
            outcome = try await run.run(
                task,
                events: { event in
                    switch event {
                    case .indexing(let progress): meter.show(progress)
                    case .notice(let message):
                        meter.finish()
                        warn(message)
                    case .indexed, .progress:
                        meter.finish()
                        if !quiet { Self.show(event) }
                    }
                })
        } catch {
            throw fail(error)
        }
        let result = outcome.result
        if json {
            printJSON([
                "run": outcome.run.map { .string($0.description) } ?? .null, "answer": .string(result.answer),
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
            let run = outcome.run.map { "run \($0)" } ?? "not recorded"
            FileHandle.standardError.write(
                Data(
                    "\n\(run) — \(result.stopReason); \(result.steps) steps, \(result.tokens) tokens, $\(String(format: "%.4f", result.costUSD))\n"
                        .utf8))
        }
        if result.status != .finished { throw ExitStatus.stopped }
    }

    static func show(_ event: some CustomStringConvertible) {
        FileHandle.standardError.write(Data("\(event)\n".utf8))
    }
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
