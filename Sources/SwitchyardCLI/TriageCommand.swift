import ArgumentParser
import Composition
import Foundation
import Switchyard

struct TriageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage",
        abstract: "Triage a batch of tickets with a triage agent; one decision per ticket.",
        discussion: """
            FILE holds tickets: JSON Lines (one object a line) or CSV with a header row; each has an \
            id and a title and/or body (other fields are kept). Every ticket is private: the agent's \
            local model decides it (component, labels, priority, a one-line summary, duplicate_of — \
            an earlier ticket found through the vector store — and confidence), and the decision must \
            fit the schema the spec's triage section defines. A low-confidence ticket goes to the \
            spec's escalate_to profile only as a redacted summary, and only if privacy.declassify \
            allows it; otherwise it is marked needs_review.
            Decisions are appended to --out as JSON Lines as they are made. A re-run skips tickets \
            already decided, so a killed batch resumes where it stopped. Each ticket is recorded as \
            a run linked to the batch's run: `switchyard trace show`, `audit` and `replay` work on \
            it. Exit status 0 when every ticket is decided, 1 when some failed (re-run to retry \
            them), 2 for a problem with the file or the spec.
            """
    )

    @Argument(help: "The tickets: a .jsonl or .csv file.") var file: String
    @Option(help: "The triage agent: a name or a spec file.") var agent = "ticket-triage"
    @Option(help: ArgumentHelp("Where decisions go (default: FILE's name + .decisions.jsonl).", valueName: "FILE"))
    var out: String?
    @Option(help: "Tickets decided at once (local servers often serve one request at a time).")
    var concurrency = 1
    @Flag(help: "Print the summary as JSON.") var json = false
    @OptionGroup var settings: SettingsOptions
    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }

    var outPath: String {
        out ?? (file as NSString).deletingPathExtension + ".decisions.jsonl"
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let summary: TriageSummary
        do {
            let tickets = try TicketFile.read(file)
            let decisions = try DecisionsFile(path: outPath) { warn("triage: \($0)") }
            let agent = try await ReadyAgent(
                self.agent, workspace: settings.workspace, environment: environment, overrides: settings.overrides,
                labels: Ticket.labels, notice: warn)
            let batch = try TriageBatch(
                spec: agent.spec, setup: agent.setup, store: try TraceStore(path: storeOptions.path), file: file,
                workspace: settings.workspace, overrides: settings.overrides, concurrency: concurrency, clock: now)
            let progress = TriageProgress(quiet: json)
            let (file, outPath, quiet) = (file, outPath, json)
            summary = try await batch.run(tickets, into: decisions) { event in
                switch event {
                case .started(let batch, let total, let pending):
                    if !quiet {
                        let skipped = total - pending
                        FileHandle.standardError.write(
                            Data(
                                "triage: \(total) tickets in \(file)\(skipped > 0 ? ", \(skipped) already decided in \(outPath)" : ""); batch run \(batch)\n"
                                    .utf8))
                    }
                    await progress.start(total: pending)
                case .decided(let ticket, let decision): await progress.decided(ticket, decision: decision)
                case .failed(let ticket, let error): await progress.failed(ticket, error: error)
                }
            }
            progress.end()
        } catch {
            throw fail(error)
        }
        if json { printJSON(summary.json) } else { print(summary.table, terminator: "") }
        if summary.failed > 0 { throw ExitStatus.failed }
    }
}

/// A progress bar with rate and ETA on a terminal; one line per ticket otherwise.
actor TriageProgress {
    private var total = 0
    let quiet: Bool
    let terminal = isatty(STDERR_FILENO) == 1
    let started = Date()
    private var done = 0

    init(quiet: Bool) { self.quiet = quiet }

    func start(total: Int) { self.total = total }

    func decided(_ ticket: String, decision: TriageDecision) {
        done += 1
        show("\(ticket): \(decision.outline)")
    }

    func failed(_ ticket: String, error: String) {
        done += 1
        show("\(ticket): FAILED — \(error)", always: true)
    }

    private func show(_ line: String, always: Bool = false) {
        guard !quiet || always else { return }
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(done) / max(elapsed, 0.001)
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let counter = "\(done)/\(total)  \(String(format: "%.2f", rate)) tickets/s  ETA \(Self.duration(remaining))"
        if terminal {
            let width = 24
            let filled = total == 0 ? width : width * done / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line.prefix(70))\n\(bar) \(counter)".utf8))
        } else {
            FileHandle.standardError.write(Data("[\(counter)] \(line)\n".utf8))
        }
    }

    nonisolated func end() {
        if terminal, !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 60 ? "\(whole / 60)m\(String(format: "%02d", whole % 60))s" : "\(whole)s"
    }
}

extension TriageSummary {
    /// The summary as a table, for a terminal.
    var table: String {
        let priorities = Array(Set(decisions.map(\.priority))).sorted()
        let components = Array(Set(decisions.map(\.component))).sorted()
        let width = max(12, (components.map(\.count).max() ?? 0) + 2)
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        func right(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        var out = "\nDecided \(decidedNow) tickets in \(TriageProgress.duration(seconds))"
        out += skipped > 0 ? " (\(skipped) decided before)" : ""
        out += failed > 0 ? "; \(failed) FAILED (re-run to retry them)" : ""
        out += ". \(decisions.count) decisions in all:\n\n"
        out += pad("component", width) + priorities.map { right($0, 5) }.joined() + right("total", 7) + "\n"
        for component in components {
            let mine = decisions.filter { $0.component == component }
            out += pad(component, width)
            out += priorities.map { priority in
                right("\(mine.filter { $0.priority == priority }.count)", 5)
            }.joined()
            out += right("\(mine.count)", 7) + "\n"
        }
        out += "\nDuplicates found: \(count { $0.duplicateOf != nil })"
        out += " · escalated (redacted summary): \(count(\.escalated))"
        out += " · needs review: \(count(\.needsReview))\n\n"
        if !usage.isEmpty {
            out +=
                pad("profile", width) + right("calls", 7) + right("input", 10) + right("output", 10)
                + right(
                    "cost", 10) + "\n"
            for (profile, entry) in usage.sorted(by: { $0.key < $1.key }) {
                out += pad(profile, width) + right("\(entry.calls)", 7) + right("\(entry.inputTokens)", 10)
                out += right("\(entry.outputTokens)", 10) + right(String(format: "$%.4f", entry.costUSD), 10) + "\n"
            }
        }
        out += "\nBatch run \(batch): `switchyard trace ls` lists its tickets' runs.\n"
        return out
    }
}
