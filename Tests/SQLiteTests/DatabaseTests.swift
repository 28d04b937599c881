import Foundation
import SQLite
import SwitchyardTesting
import Testing

/// A fresh directory for one test, removed when the value goes away.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "switchyard-sqlite-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

@Suite struct DatabaseTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    @Test func opensInWALModeOnDisk() throws {
        let path = directory.file("wal.db")
        let database = try Database(path: path)
        #expect(try database.scalar("PRAGMA journal_mode") == .text("wal"))
        #expect(try database.scalar("PRAGMA synchronous") == .integer(1))  // NORMAL
        try database.execute("CREATE TABLE t(x)")
        try database.execute("INSERT INTO t VALUES (?)", 1)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func typedBindingsRoundTrip() throws {
        let database = try Database(path: directory.file("types.db"))
        try database.execute("CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, n)")
        let blob: [UInt8] = [0, 1, 2, 255, 0]
        let text = "héllo, 世界 — \u{0}after-nul"
        try database.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", Int64.max, 2.5, text, blob, String?.none)
        let row = try #require(try database.rows("SELECT i, r, s, b, n FROM t").first)
        #expect(row.int64(0) == Int64.max)
        #expect(row.double(1) == 2.5)
        #expect(row.string(2) == text)
        #expect(row.blob(3) == blob)
        #expect(row[4] == .null)
    }

    @Test func preparedStatementsAreReusable() throws {
        let database = try Database(path: directory.file("reuse.db"))
        try database.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)")
        let insert = try database.prepare("INSERT INTO t(k, v) VALUES (?, ?)")
        try database.transaction {
            for k in 0..<1000 { try insert.execute([k, "value \(k)"]) }
        }
        #expect(try database.scalar("SELECT count(*) FROM t") == .integer(1000))
        let lookup = try database.prepare("SELECT v FROM t WHERE k = ?")
        #expect(try lookup.rows([7]).first?.string(0) == "value 7")
        #expect(try lookup.rows([999]).first?.string(0) == "value 999")
        #expect(try lookup.rows([1000]).isEmpty)
    }

    @Test func wrongArgumentCountIsAnError() throws {
        let database = try Database(path: directory.file("args.db"))
        try database.execute("CREATE TABLE t(a, b)")
        let error = #expect(throws: SQLiteError.self) {
            try database.execute("INSERT INTO t VALUES (?, ?)", 1)
        }
        #expect(error?.message.contains("expected 2 arguments") == true)
    }

    @Test func errorsCarryCodeMessageAndSQL() throws {
        let database = try Database(path: directory.file("errors.db"))
        let syntax = #expect(throws: SQLiteError.self) { try database.execute("SELEC 1") }
        #expect(syntax?.code == SQLiteError.error)
        #expect(syntax?.message.contains("syntax error") == true)
        #expect(syntax?.sql == "SELEC 1")

        try database.execute("CREATE TABLE u(x UNIQUE)")
        try database.execute("INSERT INTO u VALUES (1)")
        let constraint = #expect(throws: SQLiteError.self) { try database.execute("INSERT INTO u VALUES (?)", 1) }
        #expect(constraint?.code == SQLiteError.constraint)
        #expect(constraint?.extendedCode == 2067)  // SQLITE_CONSTRAINT_UNIQUE
        // What a user reads is one line without the statement, however long it was.
        let multiline = #expect(throws: SQLiteError.self) {
            try database.execute("INSERT INTO u\n  VALUES (?)\n  -- a second line", 1)
        }
        #expect(
            multiline.map(String.init(describing:))
                == "SQLite error 2067 (constraint failed): UNIQUE constraint failed: u.x")
        #expect(multiline?.sql?.contains("\n") == true)
    }

    @Test func transactionRollsBackWhenBodyThrows() throws {
        struct Abort: Error {}
        let database = try Database(path: directory.file("rollback.db"))
        try database.execute("CREATE TABLE t(x)")
        #expect(throws: Abort.self) {
            try database.transaction {
                try database.execute("INSERT INTO t VALUES (1)")
                throw Abort()
            }
        }
        #expect(!database.isInTransaction)
        #expect(try database.scalar("SELECT count(*) FROM t") == .integer(0))
    }

    @Test func immediateTransactionsExcludeOtherWriters() throws {
        let path = directory.file("locks.db")
        let first = try Database(path: path)
        try first.execute("CREATE TABLE t(x)")
        var options = Database.Options()
        options.busyTimeout = .milliseconds(50)
        let second = try Database(path: path, options: options)
        try first.execute("BEGIN IMMEDIATE")
        let busy = #expect(throws: SQLiteError.self) {
            try second.transaction(.immediate) { try second.execute("INSERT INTO t VALUES (2)") }
        }
        #expect(busy?.code == SQLiteError.busy)
        // Readers are not blocked by the writer in WAL mode.
        #expect(try second.scalar("SELECT count(*) FROM t") == .integer(0))
        try first.execute("COMMIT")
        try second.transaction(.immediate) { try second.execute("INSERT INTO t VALUES (2)") }
        #expect(try first.scalar("SELECT count(*) FROM t") == .integer(1))
    }

    @Test func busyTimeoutWaitsForTheOtherWriter() async throws {
        let path = directory.file("wait.db")
        let setup = try Database(path: path)
        try setup.execute("CREATE TABLE t(x)")
        let holder = Thread {
            let database = try! Database(path: path)
            try! database.execute("BEGIN IMMEDIATE")
            try! database.execute("INSERT INTO t VALUES (1)")
            Thread.sleep(forTimeInterval: 0.3)
            try! database.execute("COMMIT")
        }
        holder.start()
        try await Task.sleep(for: .milliseconds(100))
        let waiter = try Database(path: path)  // default busy timeout: 5 s
        try waiter.transaction { try waiter.execute("INSERT INTO t VALUES (2)") }
        #expect(try waiter.scalar("SELECT count(*) FROM t") == .integer(2))
    }

    @Test func migrationsRunOnceInOrder() throws {
        let path = directory.file("migrate.db")
        let migrations = [
            Migration(version: 2, sql: "ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'running'"),
            Migration(version: 1, sql: "CREATE TABLE runs(id TEXT PRIMARY KEY)"),
        ]
        do {
            let database = try Database(path: path)
            try database.migrate(migrations)
            #expect(try database.userVersion() == 2)
            try database.execute("INSERT INTO runs(id) VALUES ('a')")
        }
        let reopened = try Database(path: path)
        try reopened.migrate(migrations)  // nothing to do: must not fail on the existing table
        #expect(try reopened.rows("SELECT status FROM runs").first?.string(0) == "running")
    }

    @Test func failedMigrationLeavesTheSchemaAsItWas() throws {
        let database = try Database(path: directory.file("failed.db"))
        try database.migrate([Migration(version: 1, sql: "CREATE TABLE a(x)")])
        let broken = [
            Migration(version: 1, sql: "CREATE TABLE a(x)"),
            Migration(version: 2, sql: "CREATE TABLE b(x); CREATE TABLE a(y)"),
        ]
        #expect(throws: SQLiteError.self) { try database.migrate(broken) }
        #expect(try database.userVersion() == 1)
        #expect(try database.rows("SELECT name FROM sqlite_master WHERE name = 'b'").isEmpty)
    }

    @Test func newerSchemaIsRefused() throws {
        let database = try Database(path: directory.file("newer.db"))
        try database.setUserVersion(7)
        let error = #expect(throws: SQLiteError.self) {
            try database.migrate([Migration(version: 1, sql: "CREATE TABLE a(x)")])
        }
        #expect(error?.message.contains("newer than this program knows") == true)
    }

    @Test func notADatabaseIsAClearError() throws {
        let path = directory.file("garbage.db")
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SQLiteError.self) {
            let database = try Database(path: path)
            _ = try database.scalar("SELECT count(*) FROM sqlite_master")
        }
        #expect(error?.code == SQLiteError.notADatabase)
    }

    @Test(.usesMuchMemory) func largeBlobsRoundTrip() throws {
        let database = try Database(path: directory.file("blob.db"))
        try database.execute("CREATE TABLE blobs(b BLOB)")
        let blob = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try database.execute("INSERT INTO blobs VALUES (?)", blob)
        #expect(try database.rows("SELECT b FROM blobs").first?.blob(0) == blob)
    }

    @Test func libraryVersionIsReported() {
        #expect(Database.libraryVersion.split(separator: ".").count == 3)
        #expect(Database.libraryVersion.hasPrefix("3."))
    }
}
