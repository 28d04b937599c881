internal import CSQLite

/// A prepared statement. Reuse it for repeated work: `execute` and `rows` reset it first.
public final class Statement {
    let handle: OpaquePointer
    public let database: Database
    public let sql: String

    init(database: Database, sql: String) throws {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw SQLiteError(connection: database.handle, code: code, sql: sql)
        }
        self.handle = statement
        self.database = database
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    public var columnNames: [String] {
        (0..<sqlite3_column_count(handle)).map { String(cString: sqlite3_column_name(handle, $0)) }
    }

    /// Resets the statement and binds `arguments` to its parameters, in order.
    public func bind(_ arguments: [any SQLiteBindable]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard arguments.count == expected else {
            throw SQLiteError(
                code: SQLITE_RANGE, message: "expected \(expected) arguments, got \(arguments.count)", sql: sql)
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch argument.sqliteValue {
            case .null: code = sqlite3_bind_null(handle, index)
            case .integer(let value): code = sqlite3_bind_int64(handle, index, value)
            case .real(let value): code = sqlite3_bind_double(handle, index, value)
            case .text(let value):
                var text = value
                code = text.withUTF8 { utf8 in
                    utf8.withMemoryRebound(to: CChar.self) { chars in
                        guard let base = chars.baseAddress, !chars.isEmpty else {
                            return sqlite3_bind_text(handle, index, "", 0, sy_sqlite_transient())
                        }
                        return sqlite3_bind_text64(
                            handle, index, base, UInt64(chars.count), sy_sqlite_transient(), UInt8(SQLITE_UTF8))
                    }
                }
            case .blob(let value):
                code = value.withUnsafeBytes {
                    sqlite3_bind_blob64(handle, index, $0.baseAddress, UInt64($0.count), sy_sqlite_transient())
                }
            }
            guard code == SQLITE_OK else { throw SQLiteError(connection: database.handle, code: code, sql: sql) }
        }
    }

    /// Advances to the next row: `true` when a row is available, `false` when done.
    public func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code:
            let error = SQLiteError(connection: database.handle, code: code, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Binds `arguments` and steps the statement to completion.
    public func execute(_ arguments: [any SQLiteBindable] = []) throws {
        try bind(arguments)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Binds `arguments` and copies out every row.
    public func rows(_ arguments: [any SQLiteBindable] = []) throws -> [Row] {
        try bind(arguments)
        var rows: [Row] = []
        while try step() { rows.append(currentRow()) }
        sqlite3_reset(handle)
        return rows
    }

    /// Calls `body` with a column of the current row as bytes, without copying them out;
    /// the bytes are valid only during the call.
    public func withBlob<Result>(at column: Int, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows
        -> Result
    {
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        return try body(UnsafeRawBufferPointer(start: sqlite3_column_blob(handle, Int32(column)), count: count))
    }

    /// A column of the current row as text (`nil` for NULL).
    public func string(at column: Int) -> String? {
        if case .text(let text) = value(at: Int32(column)) { return text }
        return nil
    }

    /// A column of the current row as an integer (`nil` for NULL).
    public func int64(at column: Int) -> Int64? {
        sqlite3_column_type(handle, Int32(column)) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, Int32(column))
    }

    /// Clears the bindings' effect: the statement can be stepped again from the start.
    public func reset() {
        sqlite3_reset(handle)
    }

    /// The row the statement is positioned on, copied out.
    public func currentRow() -> Row {
        let count = sqlite3_column_count(handle)
        var values: [SQLiteValue] = []
        values.reserveCapacity(Int(count))
        for column in 0..<count { values.append(value(at: column)) }
        return Row(values: values)
    }

    private func value(at column: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, column))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard count > 0, let text = sqlite3_column_text(handle, column) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }
}

/// One result row, copied out of SQLite.
public struct Row: Sendable, Hashable {
    public var values: [SQLiteValue]

    public init(values: [SQLiteValue]) { self.values = values }

    public subscript(column: Int) -> SQLiteValue { values[column] }

    public func int64(_ column: Int) -> Int64? {
        if case .integer(let value) = values[column] { return value }
        return nil
    }

    public func int(_ column: Int) -> Int? { int64(column).map { Int($0) } }

    public func double(_ column: Int) -> Double? {
        switch values[column] {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }

    public func string(_ column: Int) -> String? {
        if case .text(let value) = values[column] { return value }
        return nil
    }

    public func blob(_ column: Int) -> [UInt8]? {
        if case .blob(let value) = values[column] { return value }
        return nil
    }
}
