import Foundation

/// Unit-length float32 vectors in one contiguous block, searched by cosine similarity.
///
/// Exact search scores every row with SIMD dot products, split across the cores; the
/// quantized search scores int8 copies (a quarter of the memory traffic) and re-ranks the
/// best candidates exactly.
public struct VectorMatrix: Sendable {
    public let dimension: Int
    public private(set) var count = 0
    /// Row-major, each row scaled to unit length.
    private var values: [Float] = []
    /// Each row as int8, scaled so its largest component is ±127, and that scale.
    private var quantized: [Int8] = []
    private var scales: [Float] = []

    public init(dimension: Int) {
        precondition(dimension > 0)
        self.dimension = dimension
    }

    /// One match: a row and its cosine similarity to the query.
    public struct Match: Sendable, Hashable {
        public var row: Int
        public var score: Float
    }

    public enum Method: Sendable, Hashable {
        case exact
        /// int8 scan; the best `max(candidates, k)` rows are re-ranked exactly.
        case quantized(candidates: Int)
    }

    /// Appends a vector (scaled to unit length); returns its row.
    @discardableResult
    public mutating func append(_ vector: [Float]) -> Int {
        precondition(vector.count == dimension, "a vector of \(vector.count) dimensions in a matrix of \(dimension)")
        let unit = Self.normalized(vector)
        values.append(contentsOf: unit)
        let (codes, scale) = Self.quantize(unit)
        quantized.append(contentsOf: codes)
        scales.append(scale)
        count += 1
        return count - 1
    }

    public mutating func replace(row: Int, with vector: [Float]) {
        precondition(vector.count == dimension && row < count)
        let unit = Self.normalized(vector)
        values.replaceSubrange(row * dimension..<(row + 1) * dimension, with: unit)
        let (codes, scale) = Self.quantize(unit)
        quantized.replaceSubrange(row * dimension..<(row + 1) * dimension, with: codes)
        scales[row] = scale
    }

    /// Removes a row by moving the last row into its place; returns the row that moved
    /// (the old last row), or `nil` when the removed row was the last.
    @discardableResult
    public mutating func remove(row: Int) -> Int? {
        precondition(row < count)
        let last = count - 1
        if row != last {
            values.withUnsafeMutableBufferPointer { buffer in
                for index in 0..<dimension { buffer[row * dimension + index] = buffer[last * dimension + index] }
            }
            quantized.withUnsafeMutableBufferPointer { buffer in
                for index in 0..<dimension { buffer[row * dimension + index] = buffer[last * dimension + index] }
            }
            scales[row] = scales[last]
        }
        values.removeLast(dimension)
        quantized.removeLast(dimension)
        scales.removeLast()
        count -= 1
        return row == last ? nil : last
    }

    /// The `k` rows most similar to `query`, best first; with `rows`, only among those.
    public func search(_ query: [Float], k: Int, method: Method = .exact, rows: [Int]? = nil) -> [Match] {
        precondition(query.count == dimension, "a query of \(query.count) dimensions for vectors of \(dimension)")
        guard k > 0, count > 0 else { return [] }
        let unit = Self.normalized(query)
        switch method {
        case .exact:
            return scan(k: k, rows: rows) { row in exactScore(unit, row) }
        case .quantized(let candidates):
            let (codes, scale) = Self.quantize(unit)
            let shortlist = scan(k: max(candidates, k), rows: rows) { row in quantizedScore(codes, scale, row) }
            return Array(
                shortlist.map { Match(row: $0.row, score: exactScore(unit, $0.row)) }.sorted(by: Self.better).prefix(k))
        }
    }

    /// Scores every row (or `rows`), split across the cores, keeping the best `k`.
    private func scan(k: Int, rows: [Int]?, score: @Sendable (Int) -> Float) -> [Match] {
        let total = rows?.count ?? count
        let parts = total < 20_000 ? 1 : min(ProcessInfo.processInfo.activeProcessorCount, 8)
        var results = [[Match]](repeating: [], count: parts)
        results.withUnsafeMutableBufferPointer { output in
            let output = UnsafeSendable(output)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                var best = TopK(k: k)
                let start = total * part / parts
                let end = total * (part + 1) / parts
                if let rows {
                    for index in start..<end { best.insert(rows[index], score(rows[index])) }
                } else {
                    for row in start..<end { best.insert(row, score(row)) }
                }
                output.value[part] = best.matches
            }
        }
        return Array(results.joined().sorted(by: Self.better).prefix(k))
    }

    private func exactScore(_ query: [Float], _ row: Int) -> Float {
        query.withUnsafeBufferPointer { q in
            values.withUnsafeBufferPointer { v in
                Self.dot(q.baseAddress!, v.baseAddress! + row * dimension, dimension)
            }
        }
    }

    private func quantizedScore(_ query: [Int8], _ queryScale: Float, _ row: Int) -> Float {
        let sum = query.withUnsafeBufferPointer { q in
            quantized.withUnsafeBufferPointer { v in
                Self.dot(q.baseAddress!, v.baseAddress! + row * dimension, dimension)
            }
        }
        return Float(sum) * queryScale * scales[row]
    }

    static func better(_ a: Match, _ b: Match) -> Bool { a.score != b.score ? a.score > b.score : a.row < b.row }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var sum0 = SIMD16<Float>()
        var sum1 = SIMD16<Float>()
        var index = 0
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        while index + 32 <= count {
            // Multiply, then add: `addProduct` becomes a call to fmaf per lane without FMA hardware.
            sum0 +=
                rawA.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            sum1 +=
                rawA.loadUnaligned(fromByteOffset: (index + 16) * 4, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: (index + 16) * 4, as: SIMD16<Float>.self)
            index += 32
        }
        var sum = (sum0 + sum1).sum()
        while index < count {
            sum += a[index] * b[index]
            index += 1
        }
        return sum
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ count: Int) -> Int32 {
        // A plain loop: LLVM vectorises it (widening multiply-adds), where SIMD16<Int8>
        // conversions stay lane-by-lane calls.
        var total: Int32 = 0
        for index in 0..<count { total &+= Int32(a[index]) &* Int32(b[index]) }
        return total
    }

    static func normalized(_ vector: [Float]) -> [Float] {
        let length = vector.withUnsafeBufferPointer { dot($0.baseAddress!, $0.baseAddress!, vector.count) }.squareRoot()
        return length > 0 ? vector.map { $0 / length } : vector
    }

    static func quantize(_ unit: [Float]) -> ([Int8], Float) {
        let largest = unit.reduce(0) { max($0, abs($1)) }
        guard largest > 0 else { return ([Int8](repeating: 0, count: unit.count), 0) }
        let factor = 127 / largest
        return (unit.map { Int8(($0 * factor).rounded()) }, largest / 127)
    }
}

/// The best `k` scores seen, kept in a small sorted array (k is small).
struct TopK {
    let k: Int
    private(set) var matches: [VectorMatrix.Match] = []
    private var floor = -Float.infinity

    init(k: Int) {
        self.k = k
        matches.reserveCapacity(k + 1)
    }

    @inline(__always)
    mutating func insert(_ row: Int, _ score: Float) {
        guard matches.count < k || score > floor else { return }
        let match = VectorMatrix.Match(row: row, score: score)
        let position = matches.firstIndex { VectorMatrix.better(match, $0) } ?? matches.count
        matches.insert(match, at: position)
        if matches.count > k { matches.removeLast() }
        if matches.count == k { floor = matches[k - 1].score }
    }
}

/// A value handed to `concurrentPerform`'s iterations, each touching only its own part.
struct UnsafeSendable<Value>: @unchecked Sendable {  // each iteration writes a distinct index
    var value: Value
    init(_ value: Value) { self.value = value }
}
