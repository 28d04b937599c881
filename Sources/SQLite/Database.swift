internal import CSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A connection to one SQLite database file.
///
/// A connection is not `Sendable`: confine it to one actor or thread. Statements keep
/// their connection alive; the connection closes when the last of them is gone.
public final class Database {
    public enum JournalMode: String, Sendable {
        case wal = "WAL"
        case delete = "DELETE"
    }

    /// `PRAGMA synchronous`. With WAL, `normal` never corrupts the database; a power
    /// loss may drop the last transactions. `full` makes every commit durable.
    public enum Synchronous: String, Sendable {
        case off = "OFF"
        case normal = "NORMAL"
        case full = "FULL"
    }

    public struct Options: Sendable {
        public var readOnly = false
        public var create = true
        public var journalMode: JournalMode = .wal
        public var synchronous: Synchronous = .normal
        /// How long a statement waits for another connection's lock before `SQLITE_BUSY`.
        public var busyTimeout: Duration = .seconds(5)
        public var foreignKeys = true

        public init() {}
    }

    public enum TransactionKind: String, Sendable {
        case deferred = "DEFERRED"
        /// Takes the write lock at `BEGIN`: a writer never fails half-way on a lock upgrade.
        case immediate = "IMMEDIATE"
        case exclusive = "EXCLUSIVE"
    }

    let handle: OpaquePointer
    public let path: String

    public init(path: String, options: Options = Options()) throws {
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        if options.readOnly {
            flags |= SQLITE_OPEN_READONLY
        } else {
            flags |= SQLITE_OPEN_READWRITE
            if options.create { flags |= SQLITE_OPEN_CREATE }
        }
        var connection: OpaquePointer?
        let code = sqlite3_open_v2(path, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            let error = SQLiteError(connection: connection, code: code)
            sqlite3_close_v2(connection)
            throw SQLiteError(
                code: error.code, extendedCode: error.extendedCode, message: "cannot open \(path): \(error.message)")
        }
        self.handle = connection
        self.path = path
        sqlite3_extended_result_codes(connection, 1)
        let milliseconds =
            options.busyTimeout.components.seconds * 1000
            + options.busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(connection, Int32(clamping: milliseconds))
        if !options.readOnly {
            // Switching a fresh file to WAL takes an exclusive lock, and SQLite does not wait
            // for it through the busy handler: two processes opening the same new store at
            // once must retry, within the busy timeout.
            let deadline = ContinuousClock.now + options.busyTimeout
            var mode: String?
            while true {
                do {
                    mode = try scalarText("PRAGMA journal_mode=\(options.journalMode.rawValue)")
                    break
                } catch let error as SQLiteError where error.code == SQLITE_BUSY && ContinuousClock.now < deadline {
                    usleep(5_000)
                }
            }
            if mode?.uppercased() != options.journalMode.rawValue, path != ":memory:" {
                throw SQLiteError(
                    code: SQLITE_ERROR, message: "cannot set journal_mode \(options.journalMode.rawValue) on \(path)")
            }
        }
        try execute("PRAGMA synchronous=\(options.synchronous.rawValue)")
        try execute("PRAGMA foreign_keys=\(options.foreignKeys ? "ON" : "OFF")")
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that take no parameters and return no rows of interest.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        if code != SQLITE_OK {
            let text = message.map { String(cString: $0) }
            sqlite3_free(message)
            var error = SQLiteError(connection: handle, code: code, sql: sql)
            if let text { error.message = text }
            throw error
        }
    }

    /// Runs one statement with parameters, stepping it to completion.
    public func execute(_ sql: String, _ arguments: any SQLiteBindable...) throws {
        try prepare(sql).execute(arguments)
    }

    public func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// All rows of a query, copied out as values.
    public func rows(_ sql: String, _ arguments: any SQLiteBindable...) throws -> [Row] {
        try prepare(sql).rows(arguments)
    }

    /// The first column of the first row, or `nil` when there is no row.
    public func scalar(_ sql: String, _ arguments: any SQLiteBindable...) throws -> SQLiteValue? {
        try prepare(sql).rows(arguments).first?[0]
    }

    private func scalarText(_ sql: String) throws -> String? {
        if case .text(let text) = try scalar(sql) { return text }
        return nil
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// `PRAGMA user_version`: the schema version that migrations maintain.
    public func userVersion() throws -> Int {
        if case .integer(let version) = try scalar("PRAGMA user_version") { return Int(version) }
        return 0
    }

    public func setUserVersion(_ version: Int) throws {
        try execute("PRAGMA user_version=\(version)")
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes64(handle)) }

    /// The linked SQLite library's version, such as `3.40.1`.
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}
