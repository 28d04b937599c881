/// One step of a schema's history, applied when `PRAGMA user_version` is below `version`.
public struct Migration: Sendable {
    public var version: Int
    public var apply: @Sendable (Database) throws -> Void

    public init(version: Int, apply: @escaping @Sendable (Database) throws -> Void) {
        self.version = version
        self.apply = apply
    }

    /// A migration that runs SQL statements.
    public init(version: Int, sql: String) {
        self.init(version: version) { try $0.execute(sql) }
    }
}

extension Database {
    /// Brings the schema up to the newest migration, each step in its own `BEGIN IMMEDIATE`
    /// transaction with its `user_version`. Refuses a database made by a newer schema.
    public func migrate(_ migrations: [Migration]) throws {
        let ordered = migrations.sorted { $0.version < $1.version }
        let newest = ordered.last?.version ?? 0
        for migration in ordered {
            try transaction(.immediate) {
                let current = try userVersion()
                guard current <= newest else {
                    throw SQLiteError(
                        code: SQLiteError.error,
                        message:
                            "\(path) has schema version \(current), newer than this program knows (\(newest)); upgrade Switchyard"
                    )
                }
                guard current < migration.version else { return }
                try migration.apply(self)
                try setUserVersion(migration.version)
            }
        }
    }
}
