import Foundation
import SwitchyardTesting
import Testing
import VectorStore

/// Random vectors, or vectors scattered around a few centres (as embeddings of similar
/// texts are).
func makeVectors(count: Int, dimension: Int, clusters: Int = 0, seed: UInt64) -> [[Float]] {
    var random = SeededRandom(seed: seed)
    let centres = (0..<clusters).map { _ in (0..<dimension).map { _ in random.signedUnit() } }
    var vectors: [[Float]] = []
    vectors.reserveCapacity(count)
    for index in 0..<count {
        var vector = [Float](repeating: 0, count: dimension)
        vector.withUnsafeMutableBufferPointer { buffer in
            if clusters == 0 {
                for position in 0..<dimension { buffer[position] = random.signedUnit() }
            } else {
                let centre = centres[index % clusters]
                for position in 0..<dimension { buffer[position] = centre[position] + 0.35 * random.signedUnit() }
            }
        }
        vectors.append(vector)
    }
    return vectors
}

/// The true top `k` by cosine similarity, computed in double precision.
func bruteForce(_ vectors: [[Float]], _ query: [Float], k: Int) -> [(row: Int, score: Double)] {
    func unit(_ vector: [Float]) -> [Double] {
        let length = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return vector.map { Double($0) / length }
    }
    let q = unit(query)
    return vectors.enumerated().map { row, vector in
        (row, zip(unit(vector), q).reduce(0.0) { $0 + $1.0 * $1.1 })
    }.sorted { $0.1 > $1.1 }.prefix(k).map { $0 }
}

@Suite struct VectorMatrixTests {
    @Test(arguments: [(3000, 64), (2500, 384), (25_000, 37)])
    func exactSearchReturnsWhatDoublePrecisionBruteForceReturns(count: Int, dimension: Int) {
        let vectors = makeVectors(count: count, dimension: dimension, seed: UInt64(count))
        var matrix = VectorMatrix(dimension: dimension)
        for vector in vectors { matrix.append(vector) }
        for query in makeVectors(count: 8, dimension: dimension, seed: 99) {
            let found = matrix.search(query, k: 10)
            let expected = bruteForce(vectors, query, k: 10)
            #expect(found.map(\.row) == expected.map(\.row))
            for (match, truth) in zip(found, expected) { #expect(abs(Double(match.score) - truth.score) < 1e-5) }
        }
    }

    @Test(.usesMuchMemory, arguments: [0, 64])
    func quantizedSearchRecallsAtLeast95PercentOn100000Vectors(clusters: Int) {
        let dimension = 384
        let vectors = makeVectors(count: 100_000, dimension: dimension, clusters: clusters, seed: 7)
        var matrix = VectorMatrix(dimension: dimension)
        for vector in vectors { matrix.append(vector) }
        var found = 0
        let queries = makeVectors(count: 12, dimension: dimension, clusters: clusters, seed: 1234)
        for query in queries {
            let exact = Set(matrix.search(query, k: 10).map(\.row))
            let quantized = matrix.search(query, k: 10, method: .quantized(candidates: 100)).map(\.row)
            found += quantized.filter(exact.contains).count
        }
        let recall = Double(found) / Double(queries.count * 10)
        #expect(recall >= 0.95, "recall@10 \(recall)")
    }

    @Test func removingAndReplacingRowsKeepsTheRestSearchable() {
        var matrix = VectorMatrix(dimension: 3)
        matrix.append([1, 0, 0])
        matrix.append([0, 1, 0])
        matrix.append([0, 0, 1])
        #expect(matrix.remove(row: 0) == 2)
        #expect(matrix.count == 2)
        #expect(matrix.search([0, 0, 1], k: 1).first?.row == 0)
        matrix.replace(row: 1, with: [2, 2, 0])
        #expect(abs(matrix.search([1, 1, 0], k: 1)[0].score - 1) < 1e-6)
        #expect(matrix.search([1, 1, 0], k: 5, rows: [0]).map(\.row) == [0])
    }
}
