import ArgumentParser
import Composition
import Foundation
import SwiftCSV
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
        let started = Date()
        let summary: TriageSummary
        do {
            let tickets = try TicketFile.read(file)
            let decisions = try DecisionsFile(path: outPath)
            let spec = try AgentSpec.load(
                path: try RunCommand.locate(agent, workspace: settings.workspace, environment: environment),
                overrides: settings.overrides)
            guard spec.triage != nil else {
                throw ConfigurationError(
                    file: spec.file, message: "\(spec.name) has no triage section, so it cannot triage tickets")
            }
            let (tools, made) = try AgentSetup.make(
                spec: spec, settings: try settings.load(), workspace: settings.workspace, environment: environment,
                labels: Ticket.labels
            ) { profile in try profile.chatProvider(environment: environment) }
            let bindings = await ProfileBinding.askingWindows(made)
            let decided = await decisions.decidedTickets
            let pending = tickets.filter { !decided.contains($0.id) }
            let store = try TraceStore(path: storeOptions.path)
            var header = AgentSetup.header(spec: spec, tools: tools, bindings: bindings, overrides: settings.overrides)
            let batch = try await store.startRun(
                agent: spec.name, task: "triage \(file)",
                header: .object(
                    header.merging([
                        "command": "triage", "file": .string(file), "out": .string(outPath),
                        "workspace": ["path": .string(settings.workspace)],
                        "tickets": .number(Double(tickets.count)), "pending": .number(Double(pending.count)),
                    ]) { $1 }), at: now())
            header["workspace"] = ["path": .string(settings.workspace)]
            header["command"] = "triage-ticket"
            header["batch"] = .string(batch.rawValue)
            let ticketHeader = header
            let batchEffects = LiveEffects(store: store, run: batch, clock: now)
            if !json {
                let skipped = tickets.count - pending.count
                FileHandle.standardError.write(
                    Data(
                        "triage: \(tickets.count) tickets in \(file)\(skipped > 0 ? ", \(skipped) already decided in \(outPath)" : ""); batch run \(batch)\n"
                            .utf8))
            }
            let progress = TriageProgress(total: pending.count, quiet: json)
            let usage = UsageTally()
            // A sliding window of `concurrency` tickets, in file order.
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = pending.makeIterator()
                func startNext() {
                    guard let ticket = next.next() else { return }
                    group.addTask {
                        await decide(
                            ticket, spec: spec, tools: tools, bindings: bindings, header: ticketHeader, batch: batch,
                            store: store, batchEffects: batchEffects, decisions: decisions, usage: usage,
                            progress: progress)
                    }
                }
                for _ in 0..<concurrency { startNext() }
                while try await group.next() != nil { startNext() }
            }
            progress.end()
            let failed = await progress.failed
            try await store.finish(batch, status: failed == 0 ? .finished : .failed, at: now())
            summary = TriageSummary(
                batch: batch, decisions: await decisions.all(), decidedNow: pending.count - failed, failed: failed,
                skipped: tickets.count - pending.count, usage: await usage.byProfile,
                seconds: Date().timeIntervalSince(started))
        } catch {
            throw fail(error)
        }
        if json { printJSON(summary.json) } else { print(summary.table, terminator: "") }
        if summary.failed > 0 { throw ExitCode(1) }
    }

    /// Decides one ticket in a run of its own; a failure is reported and counted, and the
    /// ticket stays undecided for the next run.
    private func decide(
        _ ticket: Ticket, spec: AgentSpec, tools: [any Tool], bindings: [ProfileBinding], header: [String: JSONValue],
        batch: RunID, store: TraceStore, batchEffects: LiveEffects, decisions: DecisionsFile, usage: UsageTally,
        progress: TriageProgress
    ) async {
        var run: RunID?
        do {
            var ticketHeader = header
            ticketHeader["ticket"] = .object(ticket.record)
            let id = try await store.startRun(
                agent: spec.name, task: "ticket \(ticket.id)", header: .object(ticketHeader), parent: batch, at: now())
            run = id
            let triager = try Triager(
                spec: spec, profiles: bindings, tools: tools, effects: LiveEffects(store: store, run: id, clock: now))
            var decision = try await triager.decide(ticket).objectValue ?? [:]
            await usage.add(triager.models.usageByProfile)
            decision["run"] = .string(id.rawValue)
            try await decisions.append(.object(decision))
            try await store.finish(id, status: .finished, at: now())
            try await batchEffects.record(
                "batch.ticket", step: ticket.id, payload: ["ticket": .string(ticket.id), "run": .string(id.rawValue)])
            await progress.decided(ticket.id, decision: .object(decision))
        } catch {
            if let run { try? await store.finish(run, status: .failed, at: now()) }
            try? await batchEffects.record(
                "batch.failed", step: ticket.id,
                payload: [
                    "ticket": .string(ticket.id), "run": run.map { .string($0.rawValue) } ?? .null,
                    "error": .string("\(error)"),
                ])
            await progress.failed(ticket.id, error: error)
        }
    }
}

/// Reads tickets from JSON Lines or CSV; every problem names the file and line.
enum TicketFile {
    static func read(_ path: String) throws -> [Ticket] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, message: "cannot read the tickets file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, message: "the tickets file is not UTF-8 text")
        }
        // Each ticket with the line it starts on, to name in errors.
        var tickets: [(ticket: Ticket, line: Int)] = []
        if path.lowercased().hasSuffix(".csv") {
            // Rows as they are: the library's own row view pads short rows to the longest.
            var csv: (header: [String], rows: [[String]]) = ([], [])
            do {
                let parsed = try EnumeratedCSV(string: text, delimiter: .comma, loadColumns: false)
                csv.header = parsed.header
                try parsed.enumerateAsArray(startAt: 1, rowLimit: nil) { csv.rows.append($0) }
            } catch {
                throw ConfigurationError(file: path, message: "not valid CSV: \(error)".oneLine)
            }
            guard csv.header.contains("id") else {
                throw ConfigurationError(file: path, line: 1, message: "the CSV header has no 'id' column")
            }
            // A row starts on the line after the previous one ends; a quoted field may span lines.
            func lines(_ fields: [String]) -> Int { fields.reduce(1) { $0 + $1.count(where: \.isNewline) } }
            var line = 1 + lines(csv.header)
            for row in csv.rows {
                defer { line += lines(row) }
                if row == [""] { continue }  // a blank line
                guard row.count == csv.header.count else {
                    throw ConfigurationError(
                        file: path, line: line,
                        message: "the row has \(row.count) fields, the header \(csv.header.count)")
                }
                let record = Dictionary(
                    zip(csv.header, row.map(JSONValue.string)), uniquingKeysWith: { first, _ in first })
                tickets.append((try Ticket(record: record, origin: "\(path):\(line)"), line))
            }
        } else {
            // `\r\n` is one Character, and a newline: a file saved with CRLF reads as any other.
            for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated()
            {
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                guard case .object(let record) = try? JSONValue(parsing: String(line)) else {
                    throw ConfigurationError(file: path, line: index + 1, message: "expected one JSON object a line")
                }
                tickets.append((try Ticket(record: record, origin: "\(path):\(index + 1)"), index + 1))
            }
        }
        var seen: [String: Int] = [:]
        for (ticket, line) in tickets {
            if let first = seen[ticket.id] {
                throw ConfigurationError(
                    file: path, line: line, message: "ticket id \(ticket.id) is already the id of line \(first)")
            }
            seen[ticket.id] = line
        }
        return tickets.map(\.ticket)
    }
}

/// The decisions file of a batch: JSON Lines, appended one whole line at a time and synced, so
/// a killed batch leaves every decision it reported and at most one torn line, which the next
/// run cuts off.
///
/// It is opened (and made) before the first ticket is sent to a model, so a path that cannot
/// be one (a directory, a device) fails at once; it is locked for the batch (`flock`), so a
/// second batch on it refuses at once, naming the process that holds it; and a write that
/// fails or comes up short is cut back to the last whole line, with the system's own reason.
actor DecisionsFile {
    let path: String
    private let descriptor: Int32
    /// The size of the whole lines written so far.
    private var size: off_t
    private var decided: [String: JSONValue] = [:]
    private var order: [String] = []

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0o644)
        guard descriptor >= 0 else {
            throw ConfigurationError(file: path, message: "cannot open the decisions file: \(Self.reason(errno))")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw ConfigurationError(file: path, message: "the decisions file must be a regular file")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path + ".lock", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw ConfigurationError(
                file: path,
                message:
                    "another batch is writing these decisions (\(holder.map { "process \($0)" } ?? "a process that holds the lock")); wait for it or give another --out"
            )
        }
        // Who holds it, for the message another batch gets; the lock itself is the flock.
        try? "\(getpid())\n".write(toFile: path + ".lock", atomically: true, encoding: .utf8)
        self.descriptor = descriptor
        var bytes = [UInt8]((try? FileHandle(fileDescriptor: descriptor, closeOnDealloc: false).readToEnd()) ?? Data())
        if let last = bytes.last, last != UInt8(ascii: "\n") {
            // A line cut off by a kill: never acknowledged, so it is decided again.
            let keep = (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
            FileHandle.standardError.write(
                Data("triage: \(path) ends in a partial line (an interrupted run); it is dropped\n".utf8))
            bytes.removeSubrange(keep...)
            guard ftruncate(descriptor, off_t(keep)) == 0 else {
                throw ConfigurationError(
                    file: path, message: "cannot cut off its partial last line: \(Self.reason(errno))")
            }
        }
        size = off_t(bytes.count)
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            lineNumber += 1
            var text = String(decoding: line, as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            guard let decision = try? JSONValue(parsing: text), let ticket = decision["ticket"]?.stringValue else {
                throw ConfigurationError(
                    file: path, line: lineNumber,
                    message: "not a decision (a JSON object with a ticket); fix or remove it")
            }
            if decided.updateValue(decision, forKey: ticket) == nil { order.append(ticket) }
        }
    }

    deinit {
        unlink(path + ".lock")
        close(descriptor)
    }

    var decidedTickets: Set<String> { Set(decided.keys) }

    func all() -> [JSONValue] { order.compactMap { decided[$0] } }

    /// Appends one decision as a whole line, flushed to disk, or nothing at all.
    func append(_ decision: JSONValue) throws {
        guard let ticket = decision["ticket"]?.stringValue else { return }
        let line = decision.canonicalBytes + [UInt8(ascii: "\n")]
        var offset = 0
        var failure: Int32?
        while offset < line.count {
            let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            if written == 0 {
                failure = ENOSPC
                break
            }
            offset += written
        }
        if failure == nil, fsync(descriptor) != 0 { failure = errno }
        if let failure {
            // Back to the last whole line, so that the file stays readable and nothing after
            // this is appended to a fragment.
            _ = ftruncate(descriptor, size)
            throw TraceError("cannot write the decision on \(ticket) to \(path): \(Self.reason(failure))")
        }
        size += off_t(line.count)
        if decided.updateValue(decision, forKey: ticket) == nil { order.append(ticket) }
    }

    private static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Tokens and cost by profile across a batch.
actor UsageTally {
    private(set) var byProfile: [String: ModelGateway.Usage] = [:]

    func add(_ usage: [String: ModelGateway.Usage]) {
        for (profile, entry) in usage {
            byProfile[profile, default: ModelGateway.Usage()].add(entry)
        }
    }
}

/// A progress bar with rate and ETA on a terminal; one line per ticket otherwise.
actor TriageProgress {
    let total: Int
    let quiet: Bool
    let terminal = isatty(STDERR_FILENO) == 1
    let started = Date()
    private var done = 0
    private(set) var failed = 0

    init(total: Int, quiet: Bool) {
        self.total = total
        self.quiet = quiet
    }

    func decided(_ ticket: String, decision: JSONValue) {
        done += 1
        let what = [
            decision["component"]?.stringValue, decision["priority"]?.stringValue,
            decision["duplicate_of"]?.stringValue.map { "duplicate of \($0)" },
            decision["escalated"] == true ? "escalated" : nil, decision["needs_review"] == true ? "needs review" : nil,
        ].compactMap { $0 }.joined(separator: ", ")
        show("\(ticket): \(what)")
    }

    func failed(_ ticket: String, error: any Error) {
        done += 1
        failed += 1
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

/// What a batch did: counts per component and priority over every decision in the file,
/// duplicates, escalations, failures, and tokens and cost per provider.
struct TriageSummary {
    var batch: RunID
    var decisions: [JSONValue]
    var decidedNow: Int
    var failed: Int
    var skipped: Int
    var usage: [String: ModelGateway.Usage]
    var seconds: Double

    func count(_ predicate: (JSONValue) -> Bool) -> Int { decisions.filter(predicate).count }

    var json: JSONValue {
        var components: [String: JSONValue] = [:]
        var priorities: [String: JSONValue] = [:]
        for decision in decisions {
            let component = decision["component"]?.stringValue ?? "?"
            let priority = decision["priority"]?.stringValue ?? "?"
            components[component] = .number((components[component]?.doubleValue ?? 0) + 1)
            priorities[priority] = .number((priorities[priority]?.doubleValue ?? 0) + 1)
        }
        return [
            "batch": .string(batch.rawValue), "decided": .number(Double(decisions.count)),
            "decided_now": .number(Double(decidedNow)), "skipped": .number(Double(skipped)),
            "failed": .number(Double(failed)), "seconds": .number(seconds),
            "components": .object(components), "priorities": .object(priorities),
            "duplicates": .number(Double(count { $0["duplicate_of"]?.stringValue != nil })),
            "escalated": .number(Double(count { $0["escalated"] == true })),
            "needs_review": .number(Double(count { $0["needs_review"] == true })),
            "usage": .object(
                usage.mapValues {
                    [
                        "calls": .number(Double($0.calls)), "input_tokens": .number(Double($0.inputTokens)),
                        "output_tokens": .number(Double($0.outputTokens)), "cost_usd": .number($0.costUSD),
                    ]
                }),
        ]
    }

    var table: String {
        let priorities = Array(Set(decisions.compactMap { $0["priority"]?.stringValue })).sorted()
        let components = Array(Set(decisions.compactMap { $0["component"]?.stringValue })).sorted()
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
            let mine = decisions.filter { $0["component"]?.stringValue == component }
            out += pad(component, width)
            out += priorities.map { priority in
                right("\(mine.filter { $0["priority"]?.stringValue == priority }.count)", 5)
            }.joined()
            out += right("\(mine.count)", 7) + "\n"
        }
        out += "\nDuplicates found: \(count { $0["duplicate_of"]?.stringValue != nil })"
        out += " · escalated (redacted summary): \(count { $0["escalated"] == true })"
        out += " · needs review: \(count { $0["needs_review"] == true })\n\n"
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
