internal import CSQLite

/// An error reported by SQLite, with its result code and message.
public struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, …).
    public var code: Int32
    /// The extended result code, when SQLite gave one.
    public var extendedCode: Int32
    public var message: String
    /// The SQL being run, when the error came from a statement.
    public var sql: String?

    public init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    public static let busy: Int32 = SQLITE_BUSY
    public static let constraint: Int32 = SQLITE_CONSTRAINT
    public static let misuse: Int32 = SQLITE_MISUSE
    public static let error: Int32 = SQLITE_ERROR
    public static let cantOpen: Int32 = SQLITE_CANTOPEN
    public static let notADatabase: Int32 = SQLITE_NOTADB

    /// The name SQLite gives the result code, such as `"database is locked"`.
    public var codeDescription: String { String(cString: sqlite3_errstr(extendedCode)) }

    /// One line: the code and SQLite's message. The statement stays in `sql`, for a debugger:
    /// it spans lines and says nothing a user can act on.
    public var description: String { "SQLite error \(extendedCode) (\(codeDescription)): \(message)" }

    init(connection: OpaquePointer?, code: Int32, sql: String? = nil) {
        let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? code
        self.init(code: code & 0xff, extendedCode: extended, message: message, sql: sql)
    }
}
