import FileTools
import Foundation
import Hashing
import Subprocess
public import Switchyard

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Indexes a workspace's text files into a collection: files ripgrep would search
/// (`.gitignore` respected), cut into overlapping line windows, embedded in batches.
/// Incremental by content hash: an unchanged file is not read twice or embedded again.
public struct WorkspaceIndexer: Sendable {
    public let workspace: Workspace
    public let store: VectorStore
    public let collection: String
    public let embedder: any EmbeddingProvider
    /// Which model embeds, such as `ollama:nomic-embed-text`; a collection keeps one.
    public let embedderID: String
    public var chunking = Chunking()
    /// Chunks per embedding request.
    public var batchSize = 32
    /// Files larger than this are skipped (generated or data files, most likely).
    public var largestFile = 1 << 20
    public var ripgrep: String? = findExecutable("rg")
    /// Only files matching these globs (ripgrep's `--glob`, e.g. `Sources/**`); all when empty.
    public var include: [String] = []

    public init(
        workspace: Workspace, store: VectorStore, collection: String, embedder: any EmbeddingProvider,
        embedderID: String
    ) {
        self.workspace = workspace
        self.store = store
        self.collection = collection
        self.embedder = embedder
        self.embedderID = embedderID
    }

    /// How far indexing has come.
    public struct Progress: Sendable, Hashable {
        public var files = 0
        public var totalFiles = 0
        public var chunks = 0
        public var elapsed: Duration = .zero
    }

    public struct Summary: Sendable, Hashable {
        public var files = 0
        public var indexed = 0
        public var unchanged = 0
        public var skipped = 0
        public var removed = 0
        public var chunks = 0
        public var elapsed: Duration = .zero

        /// What a run's header records of the indexing before it.
        public func header(collection: String) -> JSONValue {
            [
                "collection": .string(collection), "indexed": .number(Double(indexed)),
                "unchanged": .number(Double(unchanged)), "removed": .number(Double(removed)),
            ]
        }
    }

    public func run(progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Summary {
        let started = ContinuousClock.now
        let paths = try await listFiles()
        let known = try await store.fileHashes(in: collection)
        var summary = Summary(files: paths.count)
        var state = Progress(totalFiles: paths.count)
        var pending: [(path: String, hash: String, chunks: [Chunk])] = []
        var pendingChunks = 0
        var preparedDimension: Int?

        func flush() async throws {
            guard !pending.isEmpty else { return }
            let chunks = pending.flatMap(\.chunks)
            var vectors: [[Float]] = []
            for start in stride(from: 0, to: chunks.count, by: batchSize) {
                let batch = chunks[start..<min(start + batchSize, chunks.count)]
                let embedded = try await embedder.embed(batch.map(\.embeddingText))
                guard embedded.count == batch.count else {
                    throw VectorStoreError("the embedder returned \(embedded.count) vectors for \(batch.count) texts")
                }
                vectors += embedded
            }
            if let dimension = preparedDimension ?? vectors.first?.count {
                guard vectors.allSatisfy({ $0.count == dimension }) else {
                    throw VectorStoreError("the embedder returned vectors of different sizes (expected \(dimension))")
                }
                if preparedDimension == nil {
                    try await store.prepareCollection(collection, embedder: embedderID, dimension: dimension)
                    preparedDimension = dimension
                }
            }
            var offset = 0
            for file in pending {
                let items = file.chunks.enumerated().map { index, chunk in
                    VectorStore.Item(
                        id: chunk.id, text: chunk.text,
                        metadata: [
                            "path": .string(chunk.path), "start_line": .number(Double(chunk.startLine)),
                            "end_line": .number(Double(chunk.endLine)),
                        ], labels: workspace.labels, vector: vectors[offset + index], source: file.path)
                }
                offset += file.chunks.count
                try await store.replaceFile(file.path, hash: file.hash, with: items, in: collection)
                summary.indexed += 1
            }
            summary.chunks += chunks.count
            state.chunks = summary.chunks
            pending.removeAll()
            pendingChunks = 0
        }

        let root = try? workspace.rootDescriptor(tool: "index")
        for path in paths {
            try Task.checkCancellation()
            state.files += 1
            state.elapsed = ContinuousClock.now - started
            progress(state)
            // Read through a descriptor opened beneath the workspace: a path ripgrep listed may
            // have become a symlink out of it since.
            guard let root, let file = try? workspace.openFile(path, in: root, reading: true, tool: "index"),
                (file.size ?? 0) <= largestFile, let data = try? file.readAll(), data.count <= largestFile,
                ReadTool.binaryReason(data) == nil
            else {
                summary.skipped += 1
                continue
            }
            let hash = data.withUnsafeBytes { SHA256.hex($0) }
            if known[path] == hash {
                summary.unchanged += 1
                continue
            }
            let chunks = chunking.chunks(of: String(decoding: data, as: UTF8.self), path: path)
            pending.append((path, hash, chunks))
            pendingChunks += chunks.count
            if pendingChunks >= batchSize { try await flush() }
        }
        try await flush()

        // Files that are gone, or now ignored, leave the collection.
        let present = Set(paths)
        for path in known.keys.sorted() where !present.contains(path) {
            try await store.removeFile(path, in: collection)
            summary.removed += 1
        }
        summary.elapsed = ContinuousClock.now - started
        state.elapsed = summary.elapsed
        progress(state)
        return summary
    }

    /// The files ripgrep would search, relative to the workspace, sorted.
    func listFiles() async throws -> [String] {
        guard let ripgrep else {
            throw VectorStoreError("ripgrep (rg) is not installed; install it with `apt install ripgrep`")
        }
        let result = try await Subprocess.run(
            .path(FilePath(ripgrep)),
            arguments: Arguments(["--files", "--no-config", "--no-messages"] + include.flatMap { ["--glob", $0] }),
            workingDirectory: FilePath(workspace.root.isEmpty ? "/" : workspace.root), input: .none,
            output: .string(limit: 256 << 20), error: .discarded)
        return result.standardOutput.split(separator: "\n").map {
            $0.hasPrefix("./") ? String($0.dropFirst(2)) : String($0)
        }
        .sorted()
    }
}

/// How files are cut into chunks: windows of lines that overlap a little, so a function
/// cut at a window's edge is whole in one of them.
public struct Chunking: Sendable, Hashable {
    public var lines = 40
    public var overlap = 8
    /// A window stops early at this many bytes.
    public var bytes = 3000

    public init(lines: Int = 40, overlap: Int = 8, bytes: Int = 3000) {
        self.lines = lines
        self.overlap = overlap
        self.bytes = bytes
    }

    public func chunks(of text: String, path: String) -> [Chunk] {
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        let lineCount = text.hasSuffix("\n") ? all.count - 1 : all.count
        var chunks: [Chunk] = []
        var start = 0
        while start < lineCount {
            var end = start
            var size = 0
            while end < lineCount, end - start < lines, size + all[end].utf8.count + 1 <= bytes || end == start {
                size += all[end].utf8.count + 1
                end += 1
            }
            let body = all[start..<end].joined(separator: "\n")
            if !body.allSatisfy(\.isWhitespace) {
                chunks.append(Chunk(path: path, startLine: start + 1, endLine: end, text: body))
            }
            if end >= lineCount { break }
            start = max(end - overlap, start + 1)
        }
        return chunks
    }
}

/// A piece of a file, with where it is.
public struct Chunk: Sendable, Hashable {
    public var path: String
    public var startLine: Int
    public var endLine: Int
    public var text: String

    public var id: String { "\(path)#L\(startLine)-\(endLine)" }

    /// What is embedded: the text with its path, so a query can match the file name too.
    public var embeddingText: String { "File: \(path) (lines \(startLine)-\(endLine))\n\(text)" }
}
