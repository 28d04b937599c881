import Foundation
public import Switchyard

/// `vector_search`: the chunks of a collection nearest in meaning to a text.
public struct VectorSearchTool: Tool {
    public let store: VectorStore
    public let collection: String
    public let embedder: any EmbeddingProvider
    /// The labels of the workspace whose index it searches.
    public let labels: Labels

    public init(store: VectorStore, collection: String, embedder: any EmbeddingProvider, labels: Labels) {
        self.store = store
        self.collection = collection
        self.embedder = embedder
        self.labels = labels
    }

    public var name: String { "vector_search" }
    /// At least the labels of what the workspace index holds; a search reads every stored
    /// item, so its results carry the labels of all of them (see `call`).
    public var reads: Labels { labels }
    public var description: String {
        "Find the passages of the indexed workspace closest in meaning to a query (semantic search). Returns path, lines and score for each, best first."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "query": ["type": "string", "minLength": 1, "description": "What to look for, in words or code."],
                "k": ["type": "integer", "minimum": 1, "maximum": 50, "description": "How many passages (default 5)."],
                "path_prefix": ["type": "string", "description": "Only passages from files under this path."],
            ],
            "required": ["query"],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let query = arguments.string("query") ?? ""
        let found: VectorStore.Found
        do {
            // Nothing stored yet: nothing found (and nothing to embed the query for).
            guard try await store.collection(collection) != nil else {
                return ToolOutput(
                    text:
                        "No passages: there is no collection \(collection) yet (switchyard index DIR makes one for a workspace; vector_upsert adds to one).\n",
                    data: ["hits": []], labels: Labels(.public, .trusted))
            }
            guard let vector = try await embedder.embed([query]).first else {
                throw ToolError(.failed, tool: name, "the embedder returned no vector")
            }
            var filter: [String: JSONValue] = [:]
            if let prefix = arguments.string("path_prefix") { filter["path_prefix"] = .string(prefix) }
            found = try await store.search(vector, in: collection, k: arguments.int("k") ?? 5, filter: filter)
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError(.failed, tool: name, "\(error)")
        }
        let hits = found.hits
        var text = hits.isEmpty ? "No passages (is the collection empty?).\n" : ""
        for hit in hits {
            let path = hit.metadata["path"]?.stringValue ?? hit.id
            let lines =
                hit.metadata["start_line"].flatMap { start in
                    hit.metadata["end_line"].map { ":\(start.canonicalText)-\($0.canonicalText)" }
                } ?? ""
            text += "\(path)\(lines) (score \(String(format: "%.3f", hit.score)))\n"
            text += hit.text.split(separator: "\n", omittingEmptySubsequences: false).prefix(12).map { "    \($0)\n" }
                .joined()
        }
        let capped = OutputLimit().apply(to: text, hint: "ask for fewer passages with k, or read the files")
        // Every passage weighed, not only the hits (see `VectorStore.Found`).
        let labels = self.labels.join(found.labels)
        return ToolOutput(
            text: capped.text,
            data: [
                "hits": .array(
                    hits.map { hit in
                        [
                            "id": .string(hit.id), "score": .number(Double(hit.score)),
                            "metadata": .object(hit.metadata),
                            "text": .string(hit.text),
                        ]
                    })
            ], labels: labels, truncated: capped.truncated)
    }
}

/// `vector_upsert`: stores a text (a note, a summary, a ticket) for later `vector_search`.
public struct VectorUpsertTool: Tool {
    public let store: VectorStore
    public let collection: String
    public let embedder: any EmbeddingProvider
    public let embedderID: String
    /// The labels stored texts get at least; they also get the labels of what the arguments
    /// carry (`ToolContext.inputLabels`).
    public let labels: Labels

    public init(
        store: VectorStore, collection: String, embedder: any EmbeddingProvider, embedderID: String, labels: Labels
    ) {
        self.store = store
        self.collection = collection
        self.embedder = embedder
        self.embedderID = embedderID
        self.labels = labels
    }

    public var name: String { "vector_upsert" }
    public var reads: Labels { labels }
    public var description: String {
        "Store a text under an id (replacing what that id held) so that vector_search can find it later."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "id": ["type": "string", "minLength": 1, "maxLength": 512],
                "text": ["type": "string", "minLength": 1],
                "metadata": ["type": "object", "description": "Fields to filter and show with the text."],
            ],
            "required": ["id", "text"],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let id = arguments.string("id") ?? ""
        let text = arguments.string("text") ?? ""
        // What is stored keeps the labels of what it was made from, so a search finds it as
        // secret as it was.
        let stored = labels.join(context.inputLabels)
        do {
            guard let vector = try await embedder.embed([text]).first else {
                throw ToolError(.failed, tool: name, "the embedder returned no vector")
            }
            try await store.prepareCollection(collection, embedder: embedderID, dimension: vector.count)
            let item = VectorStore.Item(
                id: id, text: text, metadata: arguments["metadata"]?.objectValue ?? [:], labels: stored,
                vector: vector)
            try await store.upsert([item], into: collection)
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError(.failed, tool: name, "\(error)")
        }
        return ToolOutput(
            text: "Stored \(id) in \(collection).\n", data: ["id": .string(id), "collection": .string(collection)],
            labels: stored)
    }
}
