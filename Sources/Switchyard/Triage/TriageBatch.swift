import Foundation
import SwiftCSV

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A batch of tickets decided by a triage agent: each ticket in a run of its own, linked to
/// the batch's run, its decision appended to the decisions file the moment it is made — so a
/// batch run again skips what it decided, and a killed one resumes where it stopped.
public struct TriageBatch: Sendable {
    public var spec: AgentSpec
    public var setup: AgentSetup
    public var store: TraceStore
    /// The tickets file, as the batch's header names it.
    public var file: String
    public var workspace: String
    /// The `--set` assignments the batch was made with.
    public var overrides: [String]
    /// Tickets decided at once, in file order.
    public var concurrency: Int
    public var clock: @Sendable () -> Int64

    /// What a batch reports as it goes.
    public enum Event: Sendable {
        /// The batch's run has started: `pending` of `tickets` are left to decide.
        case started(batch: RunID, tickets: Int, pending: Int)
        case decided(ticket: String, decision: TriageDecision)
        /// The ticket stays undecided, for the next run of the batch.
        case failed(ticket: String, error: String)
    }

    /// A batch of `spec` (which must have a triage section) with `setup`'s tools and profiles.
    public init(
        spec: AgentSpec, setup: AgentSetup, store: TraceStore, file: String, workspace: String,
        overrides: [String] = [], concurrency: Int = 1, clock: @escaping @Sendable () -> Int64 = TraceStore.wallClock
    ) throws(ConfigurationError) {
        guard spec.triage != nil else {
            throw ConfigurationError(
                file: spec.file, message: "\(spec.name) has no triage section, so it cannot triage tickets")
        }
        guard concurrency >= 1 else {
            throw ConfigurationError(at: "--concurrency", message: "must be at least 1")
        }
        self.spec = spec
        self.setup = setup
        self.store = store
        self.file = file
        self.workspace = workspace
        self.overrides = overrides
        self.concurrency = concurrency
        self.clock = clock
    }

    /// Decides every ticket `decisions` does not hold yet; a ticket that fails is reported
    /// and left undecided, and the batch goes on.
    public func run(
        _ tickets: [Ticket], into decisions: DecisionsFile,
        events: @escaping @Sendable (Event) async -> Void = { _ in }
    ) async throws -> TriageSummary {
        let started = Date()
        let decided = await decisions.decidedTickets
        let pending = tickets.filter { !decided.contains($0.id) }
        var header = setup.header(spec: spec, overrides: overrides)
        header.workspace = RunHeader.Workspace(path: workspace)
        var batchHeader = header
        batchHeader.command = RunHeader.batchCommand
        (batchHeader.file, batchHeader.out) = (file, decisions.path)
        (batchHeader.tickets, batchHeader.pending) = (tickets.count, pending.count)
        let usage = UsageTally()
        let (batch, failed) = try await store.withRun(
            agent: spec.name, task: "triage \(file)", header: batchHeader.json, clock: clock
        ) { batch in
            await events(.started(batch: batch, tickets: tickets.count, pending: pending.count))
            header.command = RunHeader.ticketCommand
            header.batch = batch
            let ticketHeader = header
            let batchEffects = LiveEffects(store: store, run: batch, clock: clock)
            // A sliding window of `concurrency` tickets, in file order; each says whether it failed.
            let failed = await withTaskGroup(of: Bool.self) { group in
                var next = pending.makeIterator()
                func startNext() {
                    guard let ticket = next.next() else { return }
                    group.addTask {
                        let outcome = await decide(
                            ticket, header: ticketHeader, batch: batch, batchEffects: batchEffects,
                            decisions: decisions, usage: usage)
                        await events(outcome)
                        if case .failed = outcome { return true }
                        return false
                    }
                }
                for _ in 0..<concurrency { startNext() }
                var failed = 0
                while let ticketFailed = await group.next() {
                    if ticketFailed { failed += 1 }
                    startNext()
                }
                return failed
            }
            return ((batch, failed), failed == 0 ? .finished : .failed)
        }
        return TriageSummary(
            batch: batch, decisions: await decisions.all(), decidedNow: pending.count - failed, failed: failed,
            skipped: tickets.count - pending.count, usage: await usage.byProfile,
            seconds: Date().timeIntervalSince(started))
    }

    /// Decides one ticket in a run of its own; a failure is recorded on the batch and
    /// reported, and the ticket stays undecided.
    private func decide(
        _ ticket: Ticket, header: RunHeader, batch: RunID, batchEffects: LiveEffects,
        decisions: DecisionsFile, usage: UsageTally
    ) async -> Event {
        var run: RunID?
        do {
            var ticketHeader = header
            ticketHeader.ticket = ticket.record
            let decision = try await store.withRun(
                agent: spec.name, task: "ticket \(ticket.id)", header: ticketHeader.json, parent: batch,
                clock: clock
            ) { id in
                run = id
                let triager = try Triager(
                    spec: spec, profiles: setup.bindings, tools: setup.tools,
                    effects: LiveEffects(store: store, run: id, clock: clock))
                var decision = try await triager.decide(ticket)
                await usage.add(triager.models.usageByProfile)
                decision.run = id
                try await decisions.append(decision)
                return (decision, .finished)
            }
            try await batchEffects.record(
                .batchTicket, step: ticket.id,
                payload: ["ticket": .string(ticket.id), "run": run.map { .string($0.rawValue) } ?? .null])
            return .decided(ticket: ticket.id, decision: decision)
        } catch {
            try? await batchEffects.record(
                .batchFailed, step: ticket.id,
                payload: [
                    "ticket": .string(ticket.id), "run": run.map { .string($0.rawValue) } ?? .null,
                    "error": .string("\(error)"),
                ])
            return .failed(ticket: ticket.id, error: "\(error)")
        }
    }
}

/// Reads tickets from JSON Lines or CSV; every problem names the file and line.
public enum TicketFile {
    public static func read(_ path: String) throws -> [Ticket] {
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
public actor DecisionsFile {
    public let path: String
    private let descriptor: Int32
    /// The size of the whole lines written so far.
    private var size: off_t
    private var decided: [String: TriageDecision] = [:]
    private var order: [String] = []

    /// Opens (or makes) the decisions file at `path`; `notice` hears of a torn last line cut off.
    public init(path: String, notice: @Sendable (String) -> Void = { _ in }) throws {
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
            notice("\(path) ends in a partial line (an interrupted run); it is dropped")
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
            let decision: TriageDecision
            do {
                decision = try JSONValue(parsing: text).decoded()
            } catch {
                throw ConfigurationError(
                    file: path, line: lineNumber, message: "not a decision (\(Self.problem(error))); fix or remove it")
            }
            if decided.updateValue(decision, forKey: decision.ticket) == nil { order.append(decision.ticket) }
        }
    }

    deinit {
        unlink(path + ".lock")
        close(descriptor)
    }

    public var decidedTickets: Set<String> { Set(decided.keys) }

    public func all() -> [TriageDecision] { order.compactMap { decided[$0] } }

    /// Appends one decision as a whole line, flushed to disk, or nothing at all.
    public func append(_ decision: TriageDecision) throws {
        let ticket = decision.ticket
        let line = decision.json.canonicalBytes + [UInt8(ascii: "\n")]
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

    /// What is wrong with a line, in a few words: the key that is missing or of the wrong type.
    private static func problem(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "no \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")) is of the wrong type"
        case DecodingError.dataCorrupted: "not a JSON object"
        default: "\(error)".oneLine
        }
    }
}

/// Tokens and cost by profile across a batch.
public actor UsageTally {
    public private(set) var byProfile: [String: ProfileUsage] = [:]

    public init() {}

    public func add(_ usage: [String: ProfileUsage]) {
        for (profile, entry) in usage {
            byProfile[profile, default: ProfileUsage()].add(entry)
        }
    }
}

/// What a batch did: counts per component and priority over every decision in the file,
/// duplicates, escalations, failures, and tokens and cost per provider.
public struct TriageSummary: Sendable {
    public var batch: RunID
    public var decisions: [TriageDecision]
    public var decidedNow: Int
    public var failed: Int
    public var skipped: Int
    public var usage: [String: ProfileUsage]
    public var seconds: Double

    public func count(_ predicate: (TriageDecision) -> Bool) -> Int { decisions.filter(predicate).count }

    public var json: JSONValue {
        var components: [String: JSONValue] = [:]
        var priorities: [String: JSONValue] = [:]
        for decision in decisions {
            let (component, priority) = (decision.component, decision.priority)
            components[component] = .number((components[component]?.doubleValue ?? 0) + 1)
            priorities[priority] = .number((priorities[priority]?.doubleValue ?? 0) + 1)
        }
        return [
            "batch": .string(batch.rawValue), "decided": .number(Double(decisions.count)),
            "decided_now": .number(Double(decidedNow)), "skipped": .number(Double(skipped)),
            "failed": .number(Double(failed)), "seconds": .number(seconds),
            "components": .object(components), "priorities": .object(priorities),
            "duplicates": .number(Double(count { $0.duplicateOf != nil })),
            "escalated": .number(Double(count(\.escalated))), "needs_review": .number(Double(count(\.needsReview))),
            "usage": .object(
                usage.mapValues {
                    [
                        "calls": .number(Double($0.calls)), "input_tokens": .number(Double($0.inputTokens)),
                        "output_tokens": .number(Double($0.outputTokens)), "cost_usd": .number($0.costUSD),
                    ]
                }),
        ]
    }
}
