import Foundation
import Hashing
import SQLite

/// A run's identity: 26 characters, sortable by creation time (ULID layout).
public struct RunID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// A new id: milliseconds since 1970, then 80 random bits, in Crockford base32.
    public static func make(milliseconds: Int64, random: [UInt8]) -> RunID {
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
        var characters: [UInt8] = []
        for shift in stride(from: 45, through: 0, by: -5) {
            characters.append(alphabet[Int((milliseconds >> Int64(shift)) & 31)])
        }
        var bits: UInt64 = 0
        var count = 0
        for byte in random.prefix(10) {
            bits = bits << 8 | UInt64(byte)
            count += 8
            while count >= 5 {
                count -= 5
                characters.append(alphabet[Int((bits >> UInt64(count)) & 31)])
            }
        }
        return RunID(rawValue: String(decoding: characters, as: UTF8.self))
    }
}

public enum RunStatus: String, Sendable, Hashable, Codable {
    case running, finished, failed, interrupted
}

public struct RunSummary: Sendable, Hashable {
    public var id: RunID
    public var parent: RunID?
    public var agent: String
    public var task: String
    public var status: RunStatus
    public var startedAt: Int64
    public var endedAt: Int64?
    public var eventCount: Int

    /// As `trace ls --json` and `trace export` write it.
    public var json: JSONValue {
        [
            "id": .string(id.rawValue), "parent": parent.map { .string($0.rawValue) } ?? .null,
            "agent": .string(agent), "task": .string(task), "status": .string(status.rawValue),
            "started_at": .number(Double(startedAt)), "ended_at": endedAt.map { .number(Double($0)) } ?? .null,
            "events": .number(Double(eventCount)),
        ]
    }
}

/// One recorded event.
public struct TraceEvent: Sendable, Hashable {
    public var run: RunID
    public var sequence: Int
    public var parent: Int?
    public var kind: EventKind
    public var step: String?
    /// Milliseconds since 1970.
    public var time: Int64
    /// The payload as recorded: redacted, with large values moved to blobs.
    public var payload: JSONValue
    /// The hash chaining this event to the one before it.
    public var hash: String
}

extension TraceEvent {
    /// The event as `trace show --json` and `trace export --jsonl` print it.
    public var json: JSONValue {
        [
            "run": .string(run.rawValue), "seq": .number(Double(sequence)),
            "parent": parent.map { .number(Double($0)) } ?? .null, "kind": .string(kind.rawValue),
            "step": step.map(JSONValue.string) ?? .null, "at": .number(Double(time)), "payload": payload,
            "hash": .string(hash),
        ]
    }
}

/// What went wrong in the trace store.
public struct TraceError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The append-only event log of every run, in one SQLite file.
///
/// One writer connection per store, WAL, `BEGIN IMMEDIATE`; an append returns once its
/// event is on disk, committed with whatever was posted before it (posted events cost no
/// commit of their own).
/// Every run's events form a hash chain. Payloads are redacted before they are written;
/// values larger than `inlineLimit` bytes are stored once, by SHA-256, as blobs.
public actor TraceStore {
    public let path: String
    private let database: Database
    /// Prepared once, on the first write.
    private var insertEvent: Statement?
    private let scanner: SecretScanner
    /// Keys the hash chain (derived from the store's key, which never enters the database):
    /// without it, an edited run cannot be given a chain that verifies.
    private let chainKey: [UInt8]
    private let inlineLimit: Int
    /// Posted events not yet committed, in order.
    private var pending: [PendingEvent] = []
    /// Whether a commit of posted events on their own is on its way.
    private var batchScheduled = false
    private var lastHash: [RunID: ChainHead] = [:]
    /// Each run's latest model requests, their growing arrays as stored before continuation.
    private var recentRequests: [RunID: [Conversation.Recorded]] = [:]
    /// Each run's effects in flight: intents begun (`begin`) and not yet concluded.
    private var inFlight: [RunID: Set<Int>] = [:]
    private var redactions = RecentRedactions()

    /// Where a run's chain stands: its last event (0 and the run's own hash before any), and
    /// how it is computed.
    private struct ChainHead {
        var sequence: Int
        var hash: String
        var keyed: Bool
    }

    private struct PendingEvent {
        var run: RunID
        var parent: Int?
        var kind: EventKind
        var step: String?
        var time: Int64
        var payload: JSONValue
    }

    /// Why a posted event could not be committed: the next append or post reports it.
    private var postFailure: (any Error)?

    static let migrations = [
        Migration(
            version: 1,
            sql: """
                CREATE TABLE runs(
                    id TEXT PRIMARY KEY,
                    parent_id TEXT REFERENCES runs(id),
                    agent TEXT NOT NULL,
                    task TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
                    started_at INTEGER NOT NULL,
                    ended_at INTEGER,
                    header TEXT NOT NULL,
                    owner_pid INTEGER NOT NULL
                );
                CREATE TABLE events(
                    run_id TEXT NOT NULL REFERENCES runs(id),
                    seq INTEGER NOT NULL,
                    parent_seq INTEGER,
                    kind TEXT NOT NULL,
                    step TEXT,
                    at INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    PRIMARY KEY (run_id, seq)
                ) WITHOUT ROWID;
                CREATE TABLE blobs(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
                """),
        // The keyed chain: chain 2 runs start from a hash of their own row and are sealed when
        // they finish (the last event's hash and the count, under the key). Runs recorded
        // before keep chain 1, a plain SHA-256 chain, and are reported as unkeyed.
        Migration(
            version: 2,
            sql: """
                ALTER TABLE runs ADD COLUMN chain INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE runs ADD COLUMN seal TEXT;
                """),
        // Events in a rowid table: a WITHOUT ROWID table keeps about 1 KB of a row on its
        // page and spills the rest to an overflow page of its own, so every model request of
        // 1–4 KB took a whole extra page (a 200-step run: 1.3 MB, two thirds of it padding).
        Migration(
            version: 3,
            sql: """
                CREATE TABLE events_by_row(
                    run_id TEXT NOT NULL REFERENCES runs(id),
                    seq INTEGER NOT NULL,
                    parent_seq INTEGER,
                    kind TEXT NOT NULL,
                    step TEXT,
                    at INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    UNIQUE (run_id, seq)
                );
                INSERT INTO events_by_row SELECT run_id, seq, parent_seq, kind, step, at, payload, hash FROM events;
                DROP TABLE events;
                ALTER TABLE events_by_row RENAME TO events;
                """),
    ]

    /// `$SWITCHYARD_HOME/traces.db`.
    public static func defaultPath(_ environment: [String: String]) throws(ConfigurationError) -> String {
        try Settings.home(environment) + "/traces.db"
    }

    /// Opens (or creates) the store at `path` and marks runs whose writer process is gone
    /// as `interrupted`. The redaction key lives beside it, in `path.key`, never inside.
    ///
    /// Strings longer than `inlineLimit` bytes are stored once, by hash: an agent's requests
    /// repeat its prompt and every earlier message in each round, so a long run's trace grows
    /// with what it read rather than with the square of its rounds.
    public init(path: String, inlineLimit: Int = 4 * 1024) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var options = Database.Options()
        // NORMAL with WAL: a crash never corrupts the store or loses a committed run of
        // the process; an OS crash or power loss may lose the last commits. FULL would
        // fsync every commit and cut commit throughput several times for that case only.
        options.synchronous = .normal
        options.busyTimeout = .seconds(10)
        let database = try Database(path: path, options: options)
        try database.migrate(Self.migrations)
        self.path = path
        self.database = database
        self.inlineLimit = inlineLimit
        let key = try Self.redactionKey(for: path)
        self.scanner = SecretScanner(key: key)
        self.chainKey = HMACSHA256.authenticate(Array("switchyard trace chain".utf8), key: key)
        try Self.markInterrupted(database)
    }

    private static func redactionKey(for path: String) throws -> [UInt8] {
        let keyPath = path + ".key"
        if let existing = FileManager.default.contents(atPath: keyPath), existing.count == 32 { return Array(existing) }
        let key = secureRandomBytes(32)
        guard
            FileManager.default.createFile(atPath: keyPath, contents: Data(key), attributes: [.posixPermissions: 0o600])
        else { throw TraceError("cannot write the redaction key \(keyPath)") }
        return key
    }

    private static func markInterrupted(_ database: Database) throws {
        let running = try database.rows("SELECT id, owner_pid FROM runs WHERE status = 'running'")
        let dead = running.filter { row in
            guard let pid = row.int64(1) else { return true }
            return pid != Int64(getpid()) && !isAlive(pid_t(pid))
        }
        guard !dead.isEmpty else { return }
        try database.transaction {
            for row in dead {
                try database.execute(
                    "UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'", row.string(0) ?? "")
            }
        }
    }

    /// Whether process `pid` still runs: it exists and is not a zombie waiting to be reaped.
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }

    // MARK: Writing

    /// Records a new run and its header (agent spec hash, configuration, versions, …).
    public func startRun(
        agent: String, task: String, header: JSONValue, parent: RunID? = nil, at milliseconds: Int64
    ) throws -> RunID {
        let id = RunID.make(milliseconds: milliseconds, random: secureRandomBytes(10))
        let (task, header) = (scanner.redact(task), scanner.redact(header).canonicalText)
        try database.transaction {
            try database.execute(
                "INSERT INTO runs(id, parent_id, agent, task, status, started_at, header, owner_pid, chain) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, 2)",
                id.rawValue, parent?.rawValue, agent, task, milliseconds, header, Int64(getpid()))
        }
        lastHash[id] = ChainHead(
            sequence: 0,
            hash: origin(
                id: id.rawValue, parent: parent?.rawValue, agent: agent, task: task, at: milliseconds, header: header),
            keyed: true)
        return id
    }

    /// Appends an event; returns its sequence number once it is committed. It is committed at
    /// once, in one transaction with whatever was posted before it: in the caller's turn on the
    /// store, with no task and no hand-over between threads. (A run's appends come one after
    /// another, each waited for; concurrent ones are committed one after the other.)
    @discardableResult
    public func append(
        run: RunID, kind: EventKind, step: String? = nil, parent: Int? = nil, payload: JSONValue, at milliseconds: Int64
    ) throws -> Int {
        try reportPostFailure()
        return try commit(
            adding: [
                PendingEvent(run: run, parent: parent, kind: kind, step: step, time: milliseconds, payload: payload)
            ]
        ).last!
    }

    /// Queues an event without waiting for its commit: it is committed with the next append,
    /// before the event appended (so an intent appended next is committed with it). For
    /// decisions that need not be durable before the run goes on; a failure to commit one is
    /// thrown by the next `append` or `post`.
    public func post(
        run: RunID, kind: EventKind, step: String? = nil, parent: Int? = nil, payload: JSONValue, at milliseconds: Int64
    ) throws {
        try reportPostFailure()
        pending.append(
            PendingEvent(run: run, parent: parent, kind: kind, step: step, time: milliseconds, payload: payload))
        // Posted events wait for the next append, a read or the end of the run — or until
        // there are enough of them for a batch of their own — so posting from a loop does not
        // cost a commit each.
        guard !batchScheduled, pending.count >= Self.postBatch else { return }
        batchScheduled = true
        Task {
            do { try self.commit() } catch { self.postFailure = error }
        }
    }

    /// Appends the intent of an effect — a request about to be made, a tool about to run —
    /// and returns its sequence number once it is committed: an effect is on disk before it
    /// begins. The effect is in flight until `conclude` records its outcome.
    public func begin(
        run: RunID, kind: EventKind, step: String? = nil, parent: Int? = nil, payload: JSONValue, at milliseconds: Int64
    ) throws -> Int {
        let intent = try append(run: run, kind: kind, step: step, parent: parent, payload: payload, at: milliseconds)
        inFlight[run, default: []].insert(intent)
        return intent
    }

    /// Records the outcome of the effect whose intent is event `intent` (a response, a
    /// result, an error).
    ///
    /// While other effects of the run are in flight — they may take long — it is committed
    /// before this returns. When it is the last, it is committed with the run's next append
    /// (or its end): whatever the run does next because of it is an effect, whose intent is
    /// committed with it or after it, so the outcome is on disk before anything it causes
    /// leaves the process, without a commit of its own. A crash in between loses only an
    /// outcome nothing has acted on: a resumed run asks that model again, and reports that
    /// tool call as begun without a result (it is not repeated).
    public func conclude(
        run: RunID, kind: EventKind, step: String? = nil, intent: Int, payload: JSONValue, at milliseconds: Int64
    ) throws {
        inFlight[run]?.remove(intent)
        if inFlight[run]?.isEmpty ?? true {
            inFlight[run] = nil
            try post(run: run, kind: kind, step: step, parent: intent, payload: payload, at: milliseconds)
        } else {
            try append(run: run, kind: kind, step: step, parent: intent, payload: payload, at: milliseconds)
        }
    }

    /// Commits what was posted and not yet committed now (a read does, so that it sees it).
    public func settle() throws {
        try reportPostFailure()
        try commit()
    }

    private func reportPostFailure() throws {
        if let failure = postFailure {
            postFailure = nil
            throw failure
        }
    }

    /// How many posted events wait before they are committed on their own.
    private static let postBatch = 512

    /// An event to append with `append(run:events:)`.
    public struct NewEvent: Sendable {
        public var kind: EventKind
        public var step: String?
        public var parent: Int?
        public var payload: JSONValue
        public var time: Int64

        public init(kind: EventKind, step: String? = nil, parent: Int? = nil, payload: JSONValue, at time: Int64) {
            self.kind = kind
            self.step = step
            self.parent = parent
            self.payload = payload
            self.time = time
        }
    }

    /// Appends a burst of events in one transaction; returns their sequence numbers once
    /// they are committed.
    @discardableResult
    public func append(run: RunID, events: [NewEvent]) throws -> [Int] {
        try reportPostFailure()
        let added = events.map {
            PendingEvent(run: run, parent: $0.parent, kind: $0.kind, step: $0.step, time: $0.time, payload: $0.payload)
        }
        return Array(try commit(adding: added).suffix(added.count))
    }

    /// Commits the posted events and then `added` in one transaction; returns the sequence
    /// numbers of all of them. On a failure none is committed and the chain heads are as they
    /// were; the posted events stay posted, for the next commit (`added` is the caller's to
    /// report).
    @discardableResult
    private func commit(adding added: [PendingEvent] = []) throws -> [Int] {
        let batch = pending + added
        guard !batch.isEmpty else { return [] }
        let saved = (lastHash, recentRequests)
        let sequences: [Int]
        do {
            sequences = try database.transaction(.immediate) {
                try batch.map { event in
                    try write(
                        run: event.run, kind: event.kind, step: event.step, parent: event.parent, time: event.time,
                        payload: event.payload)
                }
            }
        } catch {
            (lastHash, recentRequests) = saved
            throw error
        }
        pending.removeAll()
        batchScheduled = false
        return sequences
    }

    private func write(
        run: RunID, kind: EventKind, step: String?, parent: Int?, time: Int64, payload value: JSONValue
    ) throws -> Int {
        let previous = try lastHash[run] ?? chainHead(run)
        let sequence = previous.sequence + 1
        // A request is stored as what it adds to the one it continues, so only what is new is
        // redacted, moved to blobs and written.
        let continued =
            kind == .modelRequest
            ? Conversation.continuing(value, as: sequence, after: &recentRequests[run, default: []]) : value
        let payload = try record(continued).canonicalText
        let hash = link(
            previous: previous.hash, sequence: sequence, parent: parent, kind: kind.rawValue, step: step, time: time,
            payload: payload, keyed: previous.keyed)
        if insertEvent == nil {
            insertEvent = try database.prepare(
                "INSERT INTO events(run_id, seq, parent_seq, kind, step, at, payload, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            )
        }
        try insertEvent?.execute([run.rawValue, sequence, parent, kind.rawValue, step, time, payload, hash])
        lastHash[run] = ChainHead(sequence: sequence, hash: hash, keyed: previous.keyed)
        return sequence
    }

    private func chainHead(_ run: RunID) throws -> ChainHead {
        guard let origin = try runOrigin(run.rawValue) else { throw TraceError("no run \(run) in \(path)") }
        guard
            let row = try database.rows(
                "SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", run.rawValue
            ).first
        else { return origin }
        return ChainHead(sequence: row.int(0) ?? 0, hash: row.string(1) ?? "", keyed: origin.keyed)
    }

    /// Where run `id`'s chain starts: a keyed hash of its own row (chain 2), or the empty
    /// string (chain 1); `nil` when there is no such run.
    private func runOrigin(_ id: String) throws -> ChainHead? {
        guard
            let row = try database.rows(
                "SELECT parent_id, agent, task, started_at, header, chain FROM runs WHERE id = ?", id
            ).first
        else { return nil }
        guard row.int(5) == 2 else { return ChainHead(sequence: 0, hash: "", keyed: false) }
        let hash = origin(
            id: id, parent: row.string(0), agent: row.string(1) ?? "", task: row.string(2) ?? "",
            at: row.int64(3) ?? 0, header: row.string(4) ?? "")
        return ChainHead(sequence: 0, hash: hash, keyed: true)
    }

    /// The keyed hash of a run's own row, which its first event chains from: so that a
    /// forged task, agent or header breaks the chain.
    private func origin(id: String, parent: String?, agent: String, task: String, at time: Int64, header: String)
        -> String
    {
        HMACSHA256.authenticate(
            Self.frame(["run", id, parent ?? "-", agent, task, String(time), header]), key: chainKey
        ).hexString
    }

    /// The seal of a finished run: its last hash and its event count under the key, so that
    /// events cut off the end do not go unseen.
    private func seal(head: String, events: Int, status: String, endedAt: Int64?) -> String {
        HMACSHA256.authenticate(
            Self.frame(["seal", head, String(events), status, endedAt.map(String.init) ?? "-"]), key: chainKey
        ).hexString
    }

    /// One event's link: over the previous hash and the event's fields, keyed (chain 2) or
    /// plain SHA-256 (chain 1).
    private func link(
        previous: String, sequence: Int, parent: Int?, kind: String, step: String?, time: Int64, payload: String,
        keyed: Bool
    ) -> String {
        let fields = [
            previous, String(sequence), parent.map(String.init) ?? "-", kind, step ?? "-", String(time), payload,
        ]
        return keyed
            ? HMACSHA256.authenticate(Self.frame(fields), key: chainKey).hexString : SHA256.hex(Self.frame(fields))
    }

    /// Fields framed with their lengths, so that no two different lists frame to the same bytes:
    /// what each hash of the chain is computed over.
    public static func frame(_ fields: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(16) { $0 + $1.utf8.count + 8 })
        for field in fields {
            bytes += String(field.utf8.count).utf8
            bytes.append(UInt8(ascii: ":"))
            bytes += field.utf8
        }
        return bytes
    }

    /// The payload as stored: every string redacted, and strings longer than the inline
    /// limit moved to the blob table, `{"$blob": sha256, "size": bytes}` in their place.
    private func record(_ value: JSONValue) throws -> JSONValue {
        try referencingLongStrings(value, redacting: true) { digest, bytes in
            try database.execute(
                "INSERT OR IGNORE INTO blobs(sha256, size, data) VALUES (?, ?, ?)", digest, bytes.count, bytes)
        }
    }

    /// `value` with each string (redacted first, when `redacting`) longer than the inline
    /// limit replaced by a reference to its blob, which `keep` is given to store.
    private func referencingLongStrings(
        _ value: JSONValue, redacting: Bool, keep: (_ digest: String, _ bytes: [UInt8]) throws -> Void
    ) rethrows -> JSONValue {
        switch value {
        case .string(let text):
            let stored = redacting ? redactions.redact(text, with: scanner) : text
            guard stored.utf8.count > inlineLimit else { return .string(stored) }
            let bytes = Array(stored.utf8)
            let digest = SHA256.hex(bytes)
            try keep(digest, bytes)
            return ["$blob": .string(digest), "size": .number(Double(bytes.count))]
        case .array(let values):
            return .array(try values.map { try referencingLongStrings($0, redacting: redacting, keep: keep) })
        case .object(let object):
            var stored: [String: JSONValue] = [:]
            for (key, item) in object {
                let name = redacting ? scanner.redact(key) : key
                if stored[name] == nil {
                    stored[name] = try referencingLongStrings(item, redacting: redacting, keep: keep)
                }
            }
            return .object(stored)
        default: return value
        }
    }

    /// Takes over an interrupted or failed run so that it can be resumed by this process.
    public func reopen(_ run: RunID) throws {
        guard let summary = try self.run(run) else { throw TraceError("no run \(run) in \(path)") }
        guard summary.status == .interrupted || summary.status == .failed else {
            throw TraceError("run \(run) is \(summary.status.rawValue); only interrupted or failed runs resume")
        }
        try database.execute(
            "UPDATE runs SET status = 'running', ended_at = NULL, owner_pid = ? WHERE id = ?", Int64(getpid()),
            run.rawValue)
        lastHash[run] = nil
    }

    /// Ends a run.
    public func finish(_ run: RunID, status: RunStatus, at milliseconds: Int64) throws {
        try settle()
        let head = try lastHash[run] ?? chainHead(run)
        let sealed =
            head.keyed
            ? seal(head: head.hash, events: head.sequence, status: status.rawValue, endedAt: milliseconds) : nil
        try database.execute(
            "UPDATE runs SET status = ?, ended_at = ?, seal = ? WHERE id = ?", status.rawValue, milliseconds, sealed,
            run.rawValue)
        lastHash[run] = nil
    }

    // MARK: Reading

    private static let summaryColumns = """
        SELECT r.id, r.parent_id, r.agent, r.task, r.status, r.started_at, r.ended_at,
               (SELECT count(*) FROM events e WHERE e.run_id = r.id)
        FROM runs r
        """

    /// The newest runs first.
    public func runs(limit: Int = 100) throws -> [RunSummary] {
        try settle()
        return try database.rows(Self.summaryColumns + " ORDER BY r.id DESC LIMIT ?", limit).map(Self.summary)
    }

    public func run(_ id: RunID) throws -> RunSummary? {
        try settle()
        return try database.rows(Self.summaryColumns + " WHERE r.id = ?", id.rawValue).first.map(Self.summary)
    }

    /// The run whose id starts with `prefix`, for people who type the first characters.
    public func resolve(_ prefix: String) throws -> RunID {
        let rows = try database.rows(
            "SELECT id FROM runs WHERE id LIKE ? ORDER BY id LIMIT 2", prefix.uppercased() + "%")
        guard let first = rows.first?.string(0) else { throw TraceError("no run matches '\(prefix)' in \(path)") }
        guard rows.count == 1 else { throw TraceError("'\(prefix)' matches more than one run; give more characters") }
        return RunID(rawValue: first)
    }

    /// The header run `id` recorded, read as a ``RunHeader``.
    public func runHeader(_ id: RunID) throws -> RunHeader {
        try RunHeader(recorded: try header(id))
    }

    public func header(_ id: RunID) throws -> JSONValue {
        guard let text = try database.rows("SELECT header FROM runs WHERE id = ?", id.rawValue).first?.string(0) else {
            throw TraceError("no run \(id)")
        }
        return try JSONValue(parsing: text)
    }

    private static func summary(_ row: Row) -> RunSummary {
        RunSummary(
            id: RunID(rawValue: row.string(0) ?? ""), parent: row.string(1).map(RunID.init(rawValue:)),
            agent: row.string(2) ?? "", task: row.string(3) ?? "",
            status: RunStatus(rawValue: row.string(4) ?? "") ?? .interrupted, startedAt: row.int64(5) ?? 0,
            endedAt: row.int64(6), eventCount: row.int(7) ?? 0)
    }

    /// A run's events in order, payloads as recorded — each model request whole, though it
    /// is stored as what it adds to an earlier one — large strings as blob references,
    /// unless `resolvingBlobs` (what a person or an export should see).
    public func events(_ run: RunID, resolvingBlobs: Bool = false) throws -> [TraceEvent] {
        try settle()
        var conversation = Conversation.Reader()
        return try database.rows(
            "SELECT seq, parent_seq, kind, step, at, payload, hash FROM events WHERE run_id = ? ORDER BY seq",
            run.rawValue
        ).map { row in
            var payload = (try? JSONValue(parsing: row.string(5) ?? "null")) ?? .null
            if row.string(2) == EventKind.modelRequest.rawValue {
                payload = try conversation.whole(payload, sequence: row.int(0) ?? 0)
            }
            return TraceEvent(
                run: run, sequence: row.int(0) ?? 0, parent: row.int(1), kind: EventKind(rawValue: row.string(2) ?? ""),
                step: row.string(3), time: row.int64(4) ?? 0,
                payload: resolvingBlobs ? try self.resolvingBlobs(payload) : payload, hash: row.string(6) ?? "")
        }
    }

    /// The bytes of a blob, checked against its hash.
    public func blob(_ digest: String) throws -> [UInt8] {
        guard let bytes = try database.rows("SELECT data FROM blobs WHERE sha256 = ?", digest).first?.blob(0) else {
            throw TraceError("no blob \(digest)")
        }
        guard SHA256.hex(bytes) == digest else { throw TraceError("blob \(digest) does not match its hash") }
        return bytes
    }

    /// Recomputes a run's chain from its own row through its last event, and checks the seal
    /// it was given when it finished.
    public func verify(_ run: RunID) throws -> ChainCheck {
        try settle()
        guard let origin = try runOrigin(run.rawValue) else { throw TraceError("no run \(run) in \(path)") }
        var previous = origin.hash
        var count = 0
        for row in try database.rows(
            "SELECT seq, parent_seq, kind, step, at, payload, hash FROM events WHERE run_id = ? ORDER BY seq",
            run.rawValue)
        {
            let sequence = row.int(0) ?? 0
            guard sequence == count + 1 else {
                return .broken(at: count + 1, reason: "event \(count + 1) is missing")
            }
            let expected = link(
                previous: previous, sequence: sequence, parent: row.int(1), kind: row.string(2) ?? "",
                step: row.string(3), time: row.int64(4) ?? 0, payload: row.string(5) ?? "", keyed: origin.keyed)
            guard expected == row.string(6) else {
                return .broken(
                    at: sequence,
                    reason: sequence == 1 && origin.keyed
                        ? "event 1, or the run's own record (its task, agent or header), was edited"
                        : "event \(sequence) was edited")
            }
            previous = expected
            count = sequence
        }
        guard origin.keyed else { return .unkeyed(events: count) }
        let row = try database.rows("SELECT status, ended_at, seal FROM runs WHERE id = ?", run.rawValue).first
        let status = row?.string(0) ?? ""
        guard let recorded = row?.string(2) else {
            if status == "running" || status == "interrupted" { return .unsealed(events: count) }
            return .broken(at: count + 1, reason: "the run is \(status) but has no seal: its end was edited")
        }
        guard recorded == seal(head: previous, events: count, status: status, endedAt: row?.int64(1)) else {
            return .broken(
                at: count + 1, reason: "the seal does not match: events were cut off the end, or its status was edited")
        }
        return .verified(events: count)
    }

    /// `payload` with every blob reference replaced by the text it stands for: a recorded
    /// result as it was returned.
    public func resolvingBlobs(_ payload: JSONValue) throws -> JSONValue {
        switch payload {
        case .object(let object):
            if object.count == 2, let digest = object["$blob"]?.stringValue, object["size"] != nil {
                return .string(String(decoding: try blob(digest), as: UTF8.self))
            }
            return .object(try object.mapValues(resolvingBlobs))
        case .array(let items): return .array(try items.map(resolvingBlobs))
        default: return payload
        }
    }

    /// `payload` as the store would record it — redacted, large strings as blob
    /// references — without writing anything: what a replay compares with.
    public func recordedForm(_ payload: JSONValue) -> JSONValue {
        referencingLongStrings(payload, redacting: true) { _, _ in }
    }

    /// A recorded payload as this store would record it now: inline strings longer than the
    /// inline limit as blob references, as they are when the run was recorded with a larger
    /// limit. What a replay compares a recorded payload in.
    public func currentForm(ofRecorded payload: JSONValue) -> JSONValue {
        referencingLongStrings(payload, redacting: false) { _, _ in }
    }

    /// Redacts text the way the store does, for callers that show what would be recorded.
    public func redact(_ text: String) -> String { scanner.redact(text) }
}

/// What the long strings redacted lately became, so that each is scanned once: a tool's
/// output is recorded as its result and again in the request that carries it back to the
/// model, in its messages and in the wire body's. Two generations of at most `budget` bytes
/// of text each keep the memory bounded and what is used often.
struct RecentRedactions {
    /// Shorter strings are scanned again: looking them up would cost about as much.
    static let minimumLength = 256
    /// The text one generation keeps alive, in bytes; a longer string is not remembered.
    static let budget = 8 << 20
    private var current: [Bytes: String] = [:]
    private var currentBytes = 0
    private var previous: [Bytes: String] = [:]

    mutating func redact(_ text: String, with scanner: SecretScanner) -> String {
        let size = text.utf8.count
        guard size >= Self.minimumLength, size <= Self.budget else { return scanner.redact(text) }
        let key = Bytes(text)
        if let redacted = current[key] { return redacted }
        let redacted = previous[key] ?? scanner.redact(text)
        if currentBytes + size > Self.budget {
            previous = current
            current = [:]
            currentBytes = 0
        }
        current[key] = redacted
        currentBytes += size
        return redacted
    }

    /// A string as its UTF-8 bytes, hashed and compared as bytes (what the scanner reads),
    /// without the Unicode normalisation `String`'s own hashing and equality do.
    struct Bytes: Hashable {
        let text: String
        init(_ text: String) {
            var text = text
            text.makeContiguousUTF8()
            self.text = text
        }

        /// The bytes, which are contiguous (see `init`).
        func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
            text.utf8.withContiguousStorageIfAvailable(body)!
        }

        func hash(into hasher: inout Hasher) {
            withBytes { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }

        static func == (left: Bytes, right: Bytes) -> Bool {
            left.withBytes { left in
                right.withBytes { right in
                    left.count == right.count
                        && (left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
                }
            }
        }
    }
}

/// What checking a run's chain found.
public enum ChainCheck: Sendable, Hashable, CustomStringConvertible {
    /// Every event chains under the store's key from the run's own record, and the seal the run
    /// got when it finished names the last of them.
    case verified(events: Int)
    /// The events chain, but the run has not finished (running, or interrupted): nothing says
    /// that none were cut off its end.
    case unsealed(events: Int)
    /// Recorded before chains were keyed: the chain holds, but anyone could recompute it.
    case unkeyed(events: Int)
    /// The store was edited.
    case broken(at: Int, reason: String)

    /// Whether nothing was found edited (a verified, unsealed or unkeyed chain).
    public var holds: Bool {
        if case .broken = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .verified(let events): "verified (\(events) events, keyed and sealed)"
        case .unsealed(let events): "holds for \(events) events (not sealed: the run did not finish)"
        case .unkeyed(let events): "holds for \(events) events, but unkeyed (recorded before chains were keyed)"
        case .broken(_, let reason): "BROKEN — \(reason)"
        }
    }
}
