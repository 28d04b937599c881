import Foundation
import SQLite
public import Switchyard

/// Collections of embedded texts in SQLite, each searched from a matrix kept in memory.
///
/// The database holds the truth (id, text, metadata, labels, embedder, float32 vector);
/// a collection's matrix is loaded on first use and updated with every write made here.
/// Writes by other connections are noticed through `PRAGMA data_version` and reload it.
public actor VectorStore {
    /// What the store holds about a collection.
    public struct Collection: Sendable, Hashable {
        public var name: String
        /// Which model made the vectors, such as `ollama:nomic-embed-text`.
        public var embedder: String
        public var dimension: Int
        public var count: Int
    }

    /// One text to store.
    public struct Item: Sendable, Hashable {
        public var id: String
        public var text: String
        public var metadata: [String: JSONValue]
        public var labels: Labels
        public var vector: [Float]
        /// The file the text came from, so re-indexing a file can replace its items.
        public var source: String?

        public init(
            id: String, text: String, metadata: [String: JSONValue] = [:], labels: Labels, vector: [Float],
            source: String? = nil
        ) {
            self.id = id
            self.text = text
            self.metadata = metadata
            self.labels = labels
            self.vector = vector
            self.source = source
        }
    }

    /// One search result.
    public struct Hit: Sendable, Hashable {
        public var id: String
        public var text: String
        public var metadata: [String: JSONValue]
        public var labels: Labels
        public var score: Float
    }

    /// Collections at least this large are searched with the quantized scan by default.
    public static let quantizedThreshold = 50_000

    private let database: Database
    private var loaded: [String: Loaded] = [:]
    private var dataVersion: Int64 = 0

    private struct Loaded {
        var matrix: VectorMatrix
        var ids: [String]
        var rows: [String: Int]
        var metadata: [[String: JSONValue]]
        var labels: [Labels]

        mutating func put(_ item: Item) {
            if let row = rows[item.id] {
                matrix.replace(row: row, with: item.vector)
                metadata[row] = item.metadata
                labels[row] = item.labels
            } else {
                rows[item.id] = matrix.append(item.vector)
                ids.append(item.id)
                metadata.append(item.metadata)
                labels.append(item.labels)
            }
        }

        mutating func remove(_ id: String) {
            guard let row = rows.removeValue(forKey: id) else { return }
            if let moved = matrix.remove(row: row) {
                ids[row] = ids[moved]
                metadata[row] = metadata[moved]
                labels[row] = labels[moved]
                rows[ids[row]] = row
            }
            ids.removeLast()
            metadata.removeLast()
            labels.removeLast()
        }
    }

    /// Opens (or creates) the store at `path`.
    public init(path: String) throws {
        database = try Database(path: path)
        try database.migrate([
            Migration(
                version: 1,
                sql: """
                    CREATE TABLE collections (
                        name TEXT PRIMARY KEY, embedder TEXT NOT NULL, dimension INTEGER NOT NULL,
                        created_at REAL NOT NULL);
                    CREATE TABLE items (
                        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
                        id TEXT NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL,
                        confidentiality TEXT NOT NULL, integrity TEXT NOT NULL, vector BLOB NOT NULL, source TEXT,
                        PRIMARY KEY (collection, id));
                    CREATE INDEX items_by_source ON items (collection, source);
                    CREATE TABLE files (
                        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
                        path TEXT NOT NULL, hash TEXT NOT NULL, items INTEGER NOT NULL,
                        PRIMARY KEY (collection, path));
                    """)
        ])
        dataVersion = try Self.dataVersion(database)
    }

    /// The default store: `$SWITCHYARD_HOME/vectors.db`.
    public static func defaultPath(environment: [String: String]) throws(ConfigurationError) -> String {
        try Settings.home(environment) + "/vectors.db"
    }

    public func collections() throws -> [Collection] {
        try database.rows(
            """
            SELECT c.name, c.embedder, c.dimension, (SELECT count(*) FROM items i WHERE i.collection = c.name)
            FROM collections c ORDER BY c.name
            """
        ).map { row in
            Collection(
                name: row.string(0) ?? "", embedder: row.string(1) ?? "", dimension: row.int(2) ?? 0,
                count: row.int(3) ?? 0)
        }
    }

    public func collection(_ name: String) throws -> Collection? {
        try database.rows(
            """
            SELECT embedder, dimension, (SELECT count(*) FROM items WHERE collection = ?1)
            FROM collections WHERE name = ?1
            """, name
        ).first.map { row in
            Collection(name: name, embedder: row.string(0) ?? "", dimension: row.int(1) ?? 0, count: row.int(2) ?? 0)
        }
    }

    /// Creates the collection `name` for `embedder` and `dimension` if it does not exist;
    /// an error when it exists with another embedder or dimension.
    ///
    /// Race-free across processes: the row is inserted unless one is there (whoever came
    /// first), then read back and compared.
    public func prepareCollection(_ name: String, embedder: String, dimension: Int) throws(VectorStoreError) {
        do {
            try database.execute(
                "INSERT INTO collections (name, embedder, dimension, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                name, embedder, dimension, Date().timeIntervalSince1970)
            let existing = try database.rows("SELECT embedder, dimension FROM collections WHERE name = ?", name).first
            let (recorded, size) = (existing?.string(0) ?? "", existing?.int(1) ?? 0)
            guard recorded == embedder, size == dimension else {
                throw VectorStoreError(
                    "collection \(name) holds \(size)-dimensional vectors from \(recorded), not \(dimension)-dimensional ones from \(embedder); index into another collection (--collection NAME)"
                )
            }
        } catch let error as VectorStoreError {
            throw error
        } catch {
            throw VectorStoreError("cannot prepare collection \(name): \(error)")
        }
    }

    /// Inserts or replaces items by id.
    public func upsert(_ items: [Item], into name: String) throws {
        try write(name) {
            try insert(items, into: name)
        } update: { loaded in
            for item in items { loaded.put(item) }
        }
    }

    public func delete(ids: [String], from name: String) throws {
        try write(name) {
            let statement = try database.prepare("DELETE FROM items WHERE collection = ? AND id = ?")
            for id in ids { try statement.execute([name, id]) }
        } update: { loaded in
            for id in ids { loaded.remove(id) }
        }
    }

    /// The indexed files of a collection and their content hashes.
    public func fileHashes(in name: String) throws -> [String: String] {
        var hashes: [String: String] = [:]
        for row in try database.rows("SELECT path, hash FROM files WHERE collection = ?", name) {
            hashes[row.string(0) ?? ""] = row.string(1) ?? ""
        }
        return hashes
    }

    /// Replaces everything indexed from `path` with `items`, and records the file's hash, in
    /// one transaction: a crash leaves the old or the new state of the file, never a mix.
    public func replaceFile(_ path: String, hash: String, with items: [Item], in name: String) throws {
        var removed: [String] = []
        try write(name) {
            removed = try deleteItems(from: path, in: name)
            try insert(
                items.map {
                    var item = $0; item.source = path; return item
                }, into: name)
            try database.execute(
                "INSERT OR REPLACE INTO files (collection, path, hash, items) VALUES (?, ?, ?, ?)", name, path, hash,
                items.count)
        } update: { loaded in
            for id in removed { loaded.remove(id) }
            for item in items { loaded.put(item) }
        }
    }

    /// Forgets a file that no longer exists.
    public func removeFile(_ path: String, in name: String) throws {
        var removed: [String] = []
        try write(name) {
            removed = try deleteItems(from: path, in: name)
            try database.execute("DELETE FROM files WHERE collection = ? AND path = ?", name, path)
        } update: { loaded in
            for id in removed { loaded.remove(id) }
        }
    }

    private func insert(_ items: [Item], into name: String) throws {
        let statement = try database.prepare(
            """
            INSERT INTO items (collection, id, text, metadata, confidentiality, integrity, vector, source)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (collection, id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata,
                confidentiality = excluded.confidentiality, integrity = excluded.integrity,
                vector = excluded.vector, source = excluded.source
            """)
        for item in items {
            try statement.execute([
                name, item.id, item.text, JSONValue.object(item.metadata).canonicalText,
                item.labels.confidentiality.description, item.labels.integrity.description, Self.blob(item.vector),
                item.source,
            ])
        }
    }

    /// Deletes the items that came from `source`; their ids.
    private func deleteItems(from source: String, in name: String) throws -> [String] {
        let ids = try database.rows("SELECT id FROM items WHERE collection = ? AND source = ?", name, source)
            .compactMap { $0.string(0) }
        try database.execute("DELETE FROM items WHERE collection = ? AND source = ?", name, source)
        return ids
    }

    /// What a search found: the best items, and the join of the labels of every item it
    /// weighed — which items come out on top depends on all of them, so what it returns
    /// carries all their labels (the hits' alone would tell, by their labels, what matched).
    /// Both come from one look at the collection, so a write between them cannot lower the labels.
    public struct Found: Sendable, Hashable {
        public var hits: [Hit]
        public var labels: Labels
    }

    /// The `k` items most similar to `vector`; `filter` keeps only items whose metadata has
    /// those values (`path_prefix` matches the start of `path`).
    public func search(
        _ vector: [Float], in name: String, k: Int, filter: [String: JSONValue] = [:],
        method: VectorMatrix.Method? = nil
    ) throws -> Found {
        let loaded = try load(name)
        guard vector.count == loaded.matrix.dimension else {
            throw VectorStoreError(
                "the query has \(vector.count) dimensions; collection \(name) holds \(loaded.matrix.dimension)")
        }
        var rows: [Int]?
        if !filter.isEmpty {
            rows = loaded.metadata.indices.filter { Self.matches(loaded.metadata[$0], filter) }
        }
        let weighed = (rows ?? Array(loaded.labels.indices)).reduce(Labels.userInput) { $0.join(loaded.labels[$1]) }
        let method =
            method
            ?? ((rows?.count ?? loaded.matrix.count) >= Self.quantizedThreshold ? .quantized(candidates: 100) : .exact)
        let matches = loaded.matrix.search(vector, k: k, method: method, rows: rows)
        let text = try database.prepare("SELECT text FROM items WHERE collection = ? AND id = ?")
        let hits = try matches.map { match in
            let id = loaded.ids[match.row]
            let found = try text.rows([name, id]).first?.string(0) ?? ""
            return Hit(
                id: id, text: found, metadata: loaded.metadata[match.row], labels: loaded.labels[match.row],
                score: match.score)
        }
        return Found(hits: hits, labels: weighed)
    }

    private static func matches(_ metadata: [String: JSONValue], _ filter: [String: JSONValue]) -> Bool {
        filter.allSatisfy { key, value in
            if key == "path_prefix", let prefix = value.stringValue {
                return metadata["path"]?.stringValue?.hasPrefix(prefix) ?? false
            }
            return metadata[key] == value
        }
    }

    // MARK: Keeping the matrix in step with the database

    /// Runs `body` in a transaction, then applies `update` to the collection's matrix if it is
    /// loaded (if not, the next search loads it from the database).
    private func write(_ name: String, _ body: () throws -> Void, update: (inout Loaded) -> Void) throws {
        try refreshIfChangedElsewhere()
        try database.transaction { try body() }
        if var current = loaded[name] {
            loaded[name] = nil  // keep the matrix uniquely referenced while it changes
            update(&current)
            loaded[name] = current
        }
    }

    private func load(_ name: String) throws -> Loaded {
        try refreshIfChangedElsewhere()
        if let current = loaded[name] { return current }
        guard let info = try collection(name) else {
            let known = try collections().map(\.name)
            throw VectorStoreError(
                "there is no collection \(name)"
                    + (known.isEmpty
                        ? "; index a workspace first (switchyard index DIR)"
                        : "; there are: \(known.joined(separator: ", "))"))
        }
        var current = Loaded(
            matrix: VectorMatrix(dimension: info.dimension), ids: [], rows: [:], metadata: [], labels: [])
        let statement = try database.prepare(
            "SELECT id, metadata, confidentiality, integrity, vector FROM items WHERE collection = ? ORDER BY rowid")
        try statement.bind([name])
        while try statement.step() {
            let vector = statement.withBlob(at: 4) { bytes in Array(bytes.bindMemory(to: Float.self)) }
            guard vector.count == info.dimension else { continue }
            let metadata = (try? JSONValue(parsing: statement.string(at: 1) ?? "{}"))?.objectValue ?? [:]
            let labels = Labels(
                Confidentiality(name: statement.string(at: 2) ?? "") ?? .secret,
                Integrity(name: statement.string(at: 3) ?? "") ?? .untrusted)
            current.put(
                Item(id: statement.string(at: 0) ?? "", text: "", metadata: metadata, labels: labels, vector: vector))
        }
        statement.reset()
        loaded[name] = current
        return current
    }

    private func refreshIfChangedElsewhere() throws {
        let version = try Self.dataVersion(database)
        if version != dataVersion {
            loaded.removeAll()
            dataVersion = version
        }
    }

    private static func dataVersion(_ database: Database) throws -> Int64 {
        try database.scalar("PRAGMA data_version").flatMap { value in
            if case .integer(let version) = value { return version }
            return nil
        } ?? 0
    }

    static func blob(_ vector: [Float]) -> [UInt8] {
        vector.withUnsafeBytes { Array($0) }
    }
}

/// A vector store problem, in words a person can act on.
public struct VectorStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
