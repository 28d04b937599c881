import ArgumentParser
import Foundation
import Switchyard
import SwitchyardTesting
import VectorStore

struct VectorsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vectors",
        abstract: "Exact top-10 search against numpy and sqlite-vec, and indexing throughput.",
        discussion: """
            Search: --count random float32 vectors of --dimension, --queries queries; the vector \
            store's matrix (exact, and the int8 scan with exact re-rank) against numpy \
            (normalised matrix @ query, argpartition) and sqlite-vec (a vec0 table with cosine \
            distance, brute force), in the same run, with the same vectors. --python names an \
            interpreter that has numpy, sqlite-vec and apsw (make bench makes one). Indexing: a checkout \
            of swift-nio indexed with an embedder that costs nothing, so the figure is chunking, \
            hashing and storing alone.
            """
    )

    @Option(help: "Vectors in the collection.") var count = 100_000
    @Option(help: "Dimensions.") var dimension = 384
    @Option(help: "Queries to time.") var queries = 50
    @Option(help: "A Python with numpy and sqlite-vec.") var python = ".build/bench-venv/bin/python"

    func run() async throws {
        let scratch = try TemporaryDirectory("vectors-bench")
        var random = SeededRandom(seed: 42)
        var matrix = VectorMatrix(dimension: dimension)
        var flat = [Float]()
        flat.reserveCapacity(count * dimension)
        for _ in 0..<count {
            let vector = (0..<dimension).map { _ in Float.random(in: -1...1, using: &random) }
            flat += vector
            matrix.append(vector)
        }
        let queryVectors = (0..<queries).map { _ in
            (0..<dimension).map { _ in Float.random(in: -1...1, using: &random) }
        }
        try flat.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: scratch.path + "/vectors.f32")) }
        try queryVectors.flatMap { $0 }.withUnsafeBytes {
            try Data($0).write(to: URL(fileURLWithPath: scratch.path + "/queries.f32"))
        }

        // Ours: every query, best of 3 passes.
        var exactAnswers: [[Int]] = []
        let exact = try await bestOf(3) {
            exactAnswers = queryVectors.map { query in matrix.search(query, k: 10).map(\.row) }
        }
        var quantizedAnswers: [[Int]] = []
        let quantized = try await bestOf(3) {
            quantizedAnswers = queryVectors.map { query in
                matrix.search(query, k: 10, method: .quantized(candidates: 100)).map(\.row)
            }
        }
        let recall = zip(exactAnswers, quantizedAnswers).map { exact, found in Set(exact).intersection(found).count }
            .reduce(0, +)
        let perQuery = { (duration: Duration) in duration.seconds * 1000 / Double(queryVectors.count) }
        print("collection: \(count) x \(dimension) float32, \(queries) queries, top 10")
        print("switchyard exact      \(format(perQuery(exact), digits: 2)) ms/query")
        print(
            "switchyard int8+rerank \(format(perQuery(quantized), digits: 2)) ms/query  (recall@10 \(format(Double(recall) / Double(queries * 10), digits: 3)))"
        )

        // The references, in Python, on the same files; they print "name ms/query" and their answers.
        let script = scratch.path + "/reference.py"
        try Self.reference.write(toFile: script, atomically: true, encoding: .utf8)
        let result = try await runProgram(
            python, [script, scratch.path, String(count), String(dimension), String(queries)],
            environment: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "OMP_NUM_THREADS": "2",
            ])
        guard result.status == 0 else {
            throw ValidationError(
                "the Python references failed (make bench installs numpy and sqlite-vec): \(result.standardError)")
        }
        for line in result.standardOutput.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let milliseconds = Double(parts[1]) else { continue }
            let name = String(parts[0])
            var agreement = ""
            if parts.count > 2 {
                let theirs = parts[2].split(separator: ";").map { $0.split(separator: ",").compactMap { Int($0) } }
                let same = zip(exactAnswers, theirs).filter { Set($0) == Set($1) }.count
                agreement = "  same top 10 as ours on \(same)/\(queries) queries"
            }
            print(
                "\(name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(format(milliseconds, digits: 2)) ms/query   ours exact / this: \(format(perQuery(exact) / milliseconds, digits: 2))x\(agreement)"
            )
        }

        try await indexing(scratch)
    }

    func indexing(_ scratch: TemporaryDirectory) async throws {
        guard let tree = try await GitCommand.cloneLocal("/opt/swift-packages/apple/swift-nio.git", into: scratch.path)
        else {
            return
        }
        let store = try VectorStore(path: scratch.path + "/index.db")
        let indexer = WorkspaceIndexer(
            workspace: try Workspace(path: tree), store: store, collection: "nio", embedder: FreeEmbedder(),
            embedderID: "bench:free")
        let summary = try await indexer.run()
        print(
            "indexing swift-nio     \(summary.chunks) chunks from \(summary.indexed) files in \(format(summary.elapsed.seconds, digits: 2)) s = \(format(Double(summary.chunks) / summary.elapsed.seconds, digits: 0)) chunks/s (embedding excluded)"
        )
        let again = try await indexer.run()
        print(
            "re-index, unchanged    \(again.files) files checked in \(format(again.elapsed.seconds * 1000, digits: 0)) ms, \(again.chunks) embedded"
        )
    }

    /// An embedder that costs nothing: a vector from the text's bytes.
    struct FreeEmbedder: EmbeddingProvider {
        func embed(_ inputs: [String]) async throws -> [[Float]] {
            inputs.map { text in
                var vector = [Float](repeating: 0, count: 384)
                for (index, byte) in text.utf8.prefix(2048).enumerated() {
                    vector[(index &* 31 &+ Int(byte)) % 384] += 1
                }
                return vector
            }
        }
    }

    func bestOf(_ rounds: Int, _ body: () async throws -> Void) async throws -> Duration {
        var best = Duration.seconds(1_000_000)
        for _ in 0..<rounds { best = min(best, try await time(body)) }
        return best
    }

    static let reference = #"""
        import sys, time
        import apsw
        import numpy as np
        import sqlite_vec

        directory, count, dimension, queries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        matrix = np.fromfile(f"{directory}/vectors.f32", dtype=np.float32).reshape(count, dimension)
        qs = np.fromfile(f"{directory}/queries.f32", dtype=np.float32).reshape(queries, dimension)

        unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        def numpy_search(q):
            scores = unit @ (q / np.linalg.norm(q))
            top = np.argpartition(-scores, 10)[:10]
            return top[np.argsort(-scores[top])]
        answers = []
        best = 1e9
        for _ in range(3):
            start = time.perf_counter()
            answers = [numpy_search(q) for q in qs]
            best = min(best, time.perf_counter() - start)
        print("numpy", best * 1000 / queries, ";".join(",".join(str(i) for i in a) for a in answers))

        # Python's own sqlite3 module may not load extensions; apsw brings an SQLite that does.
        db = apsw.Connection(":memory:")
        db.enable_load_extension(True)
        db.load_extension(sqlite_vec.loadable_path())
        db.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{dimension}] distance_metric=cosine)")
        with db:
            db.executemany("INSERT INTO v(rowid, embedding) VALUES (?, ?)", ((i, matrix[i].tobytes()) for i in range(count)))
        best = 1e9
        for _ in range(3):
            start = time.perf_counter()
            answers = [[r[0] for r in db.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 10 ORDER BY distance", (q.tobytes(),))] for q in qs]
            best = min(best, time.perf_counter() - start)
        print("sqlite-vec", best * 1000 / queries, ";".join(",".join(str(i) for i in a) for a in answers))
        """#
}
