public import Switchyard
import Synchronization

/// An embedder that keeps the vectors of the last few texts it embedded, so that a text
/// searched for and then stored — a ticket's triage does both — is sent to the embedding
/// server once.
///
/// Nothing leaves that would not have left without it: a remembered text was already sent to
/// this same embedder. Give each embedder its own.
public final class RecentEmbeddings: EmbeddingProvider {
    public let embedder: any EmbeddingProvider
    public let capacity: Int
    /// Oldest first.
    private let recent = Mutex<[(text: String, vector: [Float])]>([])

    public init(_ embedder: any EmbeddingProvider, capacity: Int = 16) {
        self.embedder = embedder
        self.capacity = max(1, capacity)
    }

    public func embed(_ inputs: [String]) async throws -> [[Float]] {
        let known = recent.withLock { recent in
            inputs.map { input in recent.last { $0.text == input }?.vector }
        }
        var asked = Set<String>()
        let missing = zip(inputs, known).compactMap { input, vector in
            vector == nil && asked.insert(input).inserted ? input : nil
        }
        guard !missing.isEmpty else { return known.map { $0! } }
        let vectors = try await embedder.embed(missing)
        guard vectors.count == missing.count else {
            throw ModelError(
                code: .malformedResponse, message: "asked for \(missing.count) embeddings, got \(vectors.count)")
        }
        let fresh = Dictionary(uniqueKeysWithValues: zip(missing, vectors))
        recent.withLock { recent in
            recent.removeAll { fresh[$0.text] != nil }
            recent += zip(missing, vectors).map { (text: $0, vector: $1) }
            recent.removeFirst(max(0, recent.count - capacity))
        }
        return zip(inputs, known).map { input, vector in vector ?? fresh[input]! }
    }
}
