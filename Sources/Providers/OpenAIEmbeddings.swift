public import Curl
import Foundation
public import Switchyard

/// `/v1/embeddings` on OpenAI and compatible servers.
public struct OpenAIEmbeddingProvider: EmbeddingProvider {
    public var endpoint: ProviderEndpoint
    public var model: String
    public var dimensions: Int?

    public init(
        baseURL: String = Endpoints.defaultOpenAI, apiKey: String?, model: String, dimensions: Int? = nil,
        client: HTTPClient = .shared, retry: RetryPolicy = .default, provider: String = "openai"
    ) {
        self.endpoint = ProviderEndpoint(
            provider: provider, baseURL: baseURL, headers: .bearer(apiKey), client: client, retry: retry)
        self.model = model
        self.dimensions = dimensions
    }

    public func embed(_ inputs: [String]) async throws -> [[Float]] {
        struct Reply: Decodable {
            struct Item: Decodable {
                var index: Int?
                var embedding: Vector
            }
            var data: [Item]
        }
        var body: [String: JSONValue] = [
            "model": .string(model), "input": .array(inputs.map(JSONValue.string)), "encoding_format": "float",
        ]
        if let dimensions { body["dimensions"] = .number(Double(dimensions)) }
        let reply = try await endpoint.postJSON("/embeddings", body: .object(body), as: Reply.self)
        guard reply.data.count == inputs.count else {
            throw ModelError(
                code: .malformedResponse, message: "asked for \(inputs.count) embeddings, got \(reply.data.count)",
                provider: endpoint.provider)
        }
        let ordered = reply.data.enumerated().sorted {
            ($0.element.index ?? $0.offset) < ($1.element.index ?? $1.offset)
        }
        return ordered.map(\.element.embedding.values)
    }

    /// One flat vector per input (OpenAI, Ollama), or — from servers that do not pool,
    /// like llama-cpp-python with SmolLM2 — one vector per token, mean-pooled and
    /// L2-normalised here.
    struct Vector: Decodable {
        var values: [Float]

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flat = try? container.decode([Float].self) {
                values = flat
                return
            }
            let tokens = try container.decode([[Float]].self)
            guard let width = tokens.first?.count, tokens.allSatisfy({ $0.count == width }) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "per-token vectors of different widths")
            }
            var sum = [Float](repeating: 0, count: width)
            for token in tokens {
                for index in 0..<width { sum[index] += token[index] }
            }
            let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
            values = norm > 0 ? sum.map { $0 / norm } : sum
        }
    }
}
