import Foundation
import Providers
import Switchyard
import SwitchyardTesting
import Testing
import VectorStore

func item(_ id: String, _ vector: [Float], path: String = "a.swift", labels: Labels = Labels(.private, .trusted))
    -> VectorStore.Item
{
    VectorStore.Item(id: id, text: "text of \(id)", metadata: ["path": .string(path)], labels: labels, vector: vector)
}

@Suite struct VectorStoreTests {
    @Test func itemsPersistAcrossReopeningAndDeletesStick() async throws {
        let directory = try TemporaryDirectory("vectors")
        let path = directory.path + "/vectors.db"
        do {
            let store = try VectorStore(path: path)
            try await store.prepareCollection("notes", embedder: "test:unit", dimension: 3)
            try await store.upsert(
                [item("x", [1, 0, 0]), item("y", [0, 1, 0]), item("z", [0, 0, 1], path: "Sources/z.swift")],
                into: "notes")
            try await store.upsert([item("y", [0.9, 0.1, 0])], into: "notes")
            let hits = try await store.search([1, 0, 0], in: "notes", k: 2).hits
            #expect(hits.map(\.id) == ["x", "y"])
            #expect(hits[0].text == "text of x")
            #expect(abs(hits[0].score - 1) < 1e-6)
            try await store.delete(ids: ["x"], from: "notes")
        }
        let reopened = try VectorStore(path: path)
        #expect(try await reopened.search([1, 0, 0], in: "notes", k: 5).hits.map(\.id) == ["y", "z"])
        #expect(try await reopened.collection("notes")?.count == 2)
        let filtered = try await reopened.search([1, 0, 0], in: "notes", k: 5, filter: ["path_prefix": "Sources/"])
        #expect(filtered.hits.map(\.id) == ["z"])
        #expect(
            try await reopened.search([1, 0, 0], in: "notes", k: 5, filter: ["path": "a.swift"]).hits.map(\.id) == ["y"]
        )
    }

    /// A search carries the labels of every item it weighed — those its filter kept — not
    /// only of its hits, so its labels do not tell which item matched.
    @Test func aSearchCarriesTheLabelsOfEverythingItWeighed() async throws {
        let directory = try TemporaryDirectory("vectors-labels")
        let store = try VectorStore(path: directory.path + "/vectors.db")
        try await store.prepareCollection("notes", embedder: "test:unit", dimension: 2)
        try await store.upsert(
            [
                item("near", [1, 0], path: "docs/a.md", labels: Labels(.public, .trusted)),
                item("far", [0, 1], path: "docs/b.md", labels: Labels(.secret, .trusted)),
                item("other", [1, 0], path: "src/c.swift", labels: Labels(.private, .untrusted)),
            ], into: "notes")
        let found = try await store.search([1, 0], in: "notes", k: 1, filter: ["path_prefix": "docs/"])
        #expect(found.hits.map(\.id) == ["near"])
        #expect(found.hits[0].labels == Labels(.public, .trusted))
        #expect(found.labels == Labels(.secret, .trusted))
        let all = try await store.search([1, 0], in: "notes", k: 1)
        #expect(all.labels == Labels(.secret, .untrusted))
    }

    /// Two batches started together on a fresh home make the same collection at once: both go
    /// on (no `UNIQUE constraint failed`), and one with another embedder is told why not.
    @Test func connectionsThatMakeTheSameCollectionAtOnceAllSucceed() async throws {
        for round in 0..<40 {
            let directory = try TemporaryDirectory("first-use-\(round)")
            let path = directory.path + "/vectors.db"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let store = try VectorStore(path: path)
                        try await store.prepareCollection("tickets", embedder: "e", dimension: 3)
                    }
                }
                try await group.waitForAll()
            }
            let other = try VectorStore(path: path)
            await #expect {
                try await other.prepareCollection("tickets", embedder: "another", dimension: 3)
            } throws: { "\($0)".contains("from e, not 3-dimensional ones from another") }
        }
    }

    @Test func aSecondConnectionsWritesAreSeen() async throws {
        let directory = try TemporaryDirectory("vectors-sync")
        let path = directory.path + "/vectors.db"
        let reader = try VectorStore(path: path)
        let writer = try VectorStore(path: path)
        try await writer.prepareCollection("c", embedder: "test:unit", dimension: 2)
        try await writer.upsert([item("first", [1, 0])], into: "c")
        #expect(try await reader.search([1, 0], in: "c", k: 5).hits.map(\.id) == ["first"])
        try await writer.upsert([item("second", [0.8, 0.2])], into: "c")
        #expect(try await reader.search([1, 0], in: "c", k: 5).hits.map(\.id) == ["first", "second"])
    }

    @Test func mismatchedEmbeddersAndQueriesAreClearErrors() async throws {
        let directory = try TemporaryDirectory("vectors-errors")
        let store = try VectorStore(path: directory.path + "/vectors.db")
        try await store.prepareCollection("c", embedder: "ollama:nomic-embed-text", dimension: 768)
        await #expect {
            try await store.prepareCollection("c", embedder: "openai:text-embedding-3-small", dimension: 1536)
        } throws: { "\($0)".contains("holds 768-dimensional vectors from ollama:nomic-embed-text") }
        await #expect {
            _ = try await store.search([1, 0], in: "c", k: 3)
        } throws: { "\($0)".contains("the query has 2 dimensions") }
        await #expect {
            _ = try await store.search([1, 0], in: "missing", k: 3)
        } throws: { "\($0)".contains("there is no collection missing; there are: c") }
    }
}

/// Indexing a real project's checkout with the real local embedding server.
@Suite(.usesLocalModel) struct IndexingTests {
    static let bare = "/opt/swift-packages/mxcl/Version.git"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: bare)))
    func indexesIncrementallyAndFindsAKnownFunction() async throws {
        let peer = try await LocalModelPeer.endpoints()
        let embedder = OpenAIEmbeddingProvider(baseURL: peer.embed, apiKey: nil, model: "smollm2")
        let scratch = try TemporaryDirectory("index")
        let checkout = try #require(try await GitCommand.cloneLocal(Self.bare, into: scratch.path))
        let workspace = try Workspace(path: checkout)
        let store = try VectorStore(path: scratch.path + "/vectors.db")
        var indexer = WorkspaceIndexer(
            workspace: workspace, store: store, collection: "version", embedder: embedder, embedderID: "test:smollm2")
        // The sources only: the server answers each token's vector as JSON, which is slow.
        indexer.include = ["Sources/**", "Package.swift"]
        let updates = Shared(0)
        let first = try await indexer.run { _ in updates.update { $0 += 1 } }
        #expect(first.files == 6)
        #expect(first.indexed == 6)
        #expect(first.chunks > 6)
        #expect(updates.value >= 6)

        // Nothing changed: nothing is embedded.
        let second = try await indexer.run()
        #expect(second.chunks == 0)
        #expect(second.unchanged == 6)

        // One file changed, one deleted: only those.
        try "// A note\n".appending(
            try String(contentsOfFile: checkout + "/Sources/Version+Range.swift", encoding: .utf8)
        )
        .write(toFile: checkout + "/Sources/Version+Range.swift", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: checkout + "/Sources/Version+Codable.swift")
        let third = try await indexer.run()
        #expect(third.indexed == 1)
        #expect(third.removed == 1)
        #expect(third.unchanged == 4)
        let hashes = try await store.fileHashes(in: "version")
        #expect(hashes["Sources/Version+Codable.swift"] == nil)
        #expect(hashes.count == 5)

        // A query for a known function finds its file.
        let search = VectorSearchTool(store: store, collection: "version", embedder: embedder, labels: .userInput)
        let output = try await search.invoke([
            "query": "public static func < (lhs: Version, rhs: Version) -> Bool", "k": 5,
        ])
        let paths = output.data["hits"]?.arrayValue?.compactMap { $0["metadata"]?["path"]?.stringValue } ?? []
        #expect(paths.contains("Sources/Version+Comparable.swift"), "\(paths)")
        #expect(output.labels == Labels(.private, .trusted))

        // A note stored by an agent is found by its own words.
        let upsert = VectorUpsertTool(
            store: store, collection: "notes", embedder: embedder, embedderID: "test:smollm2",
            labels: Labels(.internal, .trusted))
        _ = try await upsert.invoke([
            "id": "ticket-7", "text": "The login page times out after 30 seconds", "metadata": ["kind": "ticket"],
        ])
        _ = try await upsert.invoke(["id": "ticket-8", "text": "Add dark mode to the settings screen"])
        // A collection nobody made yet has nothing in it; the query is not even embedded.
        let none = try await VectorSearchTool(
            store: store, collection: "nothing-yet", embedder: Refusing(), labels: .userInput
        ).invoke([
            "query": "anything"
        ])
        #expect(none.data["hits"] == [])
        #expect(none.text.contains("there is no collection nothing-yet yet"))
        let notes = VectorSearchTool(store: store, collection: "notes", embedder: embedder, labels: .userInput)
        let found = try await notes.invoke(["query": "The login page times out after 30 seconds", "k": 1])
        #expect(found.data["hits"]?.arrayValue?.first?["id"] == "ticket-7")
        #expect(found.labels == Labels(.internal, .trusted))

        // A text made from private content is stored with its labels: every search after
        // carries them, also one whose best hit is an older, internal note (the labels of the
        // hits alone would say which matched).
        let stored = try await upsert.invoke(
            ["id": "summary-1", "text": "CANARY-3141 the merger closes in May"],
            context: ToolContext(inputLabels: Labels(.private, .trusted)))
        #expect(stored.labels == Labels(.private, .trusted))
        let after = try await notes.invoke(["query": "The login page times out after 30 seconds", "k": 1])
        #expect(after.data["hits"]?.arrayValue?.first?["id"] == "ticket-7")
        #expect(after.labels == Labels(.private, .trusted))
        let canary = try await notes.invoke(["query": "CANARY-3141 the merger closes in May", "k": 1])
        #expect(canary.data["hits"]?.arrayValue?.first?["id"] == "summary-1")
        #expect(canary.labels == Labels(.private, .trusted))
    }
}

/// An embedder that must not be asked.
struct Refusing: EmbeddingProvider {
    func embed(_ inputs: [String]) async throws -> [[Float]] {
        Issue.record("the embedder was asked for \(inputs)")
        return []
    }
}

/// An embedder whose vectors say which text they are for, and which counts what it is asked.
final class Counting: EmbeddingProvider {
    let asked = Shared<[[String]]>([])
    func embed(_ inputs: [String]) async throws -> [[Float]] {
        asked.update { $0.append(inputs) }
        if inputs.contains("fail") { throw ModelError(code: .serverError, message: "refused") }
        return inputs.map { [Float($0.count), 1] }
    }
}

@Suite struct RecentEmbeddingsTests {
    @Test func aTextSearchedForAndThenStoredIsEmbeddedOnce() async throws {
        let directory = try TemporaryDirectory("recent")
        let store = try VectorStore(path: directory.path + "/vectors.db")
        let counting = Counting()
        let embedder = RecentEmbeddings(counting)
        let search = VectorSearchTool(store: store, collection: "tickets", embedder: embedder, labels: .userInput)
        let upsert = VectorUpsertTool(
            store: store, collection: "tickets", embedder: embedder, embedderID: "test:count", labels: .userInput)
        _ = try await upsert.invoke(["id": "T-1", "text": "Login times out"])
        let found = try await search.invoke(["query": "Checkout fails", "k": 1])
        _ = try await upsert.invoke(["id": "T-2", "text": "Checkout fails"])
        #expect(found.data["hits"]?.arrayValue?.first?["id"] == "T-1")
        #expect(counting.asked.value == [["Login times out"], ["Checkout fails"]])
        #expect(try await store.search([14, 1], in: "tickets", k: 1).hits.first?.id == "T-2")
    }

    @Test func asksOnlyForWhatItHasNotSeenInOrderOnceEach() async throws {
        let counting = Counting()
        let embedder = RecentEmbeddings(counting, capacity: 2)
        #expect(try await embedder.embed(["a", "bb"]) == [[1, 1], [2, 1]])
        #expect(try await embedder.embed(["ccc", "a", "ccc", "dddd"]) == [[3, 1], [1, 1], [3, 1], [4, 1]])
        // Only the last two are kept: "a" and "bb" are asked again.
        #expect(try await embedder.embed(["dddd", "bb", "a"]) == [[4, 1], [2, 1], [1, 1]])
        #expect(counting.asked.value == [["a", "bb"], ["ccc", "dddd"], ["bb", "a"]])
    }

    @Test func aFailureIsPassedOnAndNothingIsRemembered() async throws {
        let counting = Counting()
        let embedder = RecentEmbeddings(counting)
        await #expect(throws: ModelError.self) { _ = try await embedder.embed(["x", "fail"]) }
        #expect(try await embedder.embed(["x"]) == [[1, 1]])
        #expect(counting.asked.value == [["x", "fail"], ["x"]])
    }

    @Test func aWrongNumberOfVectorsIsAnError() async throws {
        struct Short: EmbeddingProvider {
            func embed(_ inputs: [String]) async throws -> [[Float]] { [] }
        }
        await #expect {
            _ = try await RecentEmbeddings(Short()).embed(["x"])
        } throws: { "\($0)".contains("asked for 1 embeddings, got 0") }
    }
}
