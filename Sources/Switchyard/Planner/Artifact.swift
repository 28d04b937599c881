/// A step's result, kept by the run and named by a handle (`$3`).
public struct Artifact: Sendable, Hashable {
    /// `$1`, `$2`, … in the order the run made them.
    public var handle: String
    /// What made it, as it was planned: `task`, `tool:search`, `model`, `agent`, `declassify`.
    /// A failed step keeps the kind it was planned as, so a reader who may not see its content
    /// cannot tell a failure from a success.
    public var kind: String
    public var labels: Labels
    /// What a model reads; for a failed step, why it failed.
    public var text: String
    /// The structured result, when there is one.
    public var data: JSONValue
    /// Whether the step failed (then `text` says why).
    public var failed: Bool

    public init(
        handle: String, kind: String, labels: Labels, text: String, data: JSONValue = .null, failed: Bool = false
    ) {
        self.handle = handle
        self.kind = kind
        self.labels = labels
        self.text = text
        self.data = data
        self.failed = failed
    }

    /// What `privacy.planner_metadata: coarse` shows of a withheld artifact: whether the step
    /// failed, its size rounded up to a power of two, and its item count likewise. Each of
    /// these is decided by the content, so each is a release; ``Metadata/bits`` says how much.
    public var coarseMetadata: Metadata {
        let items = data["lines"]?.arrayValue ?? data["hits"]?.arrayValue ?? data["commits"]?.arrayValue
        return Metadata(
            failed: failed, bytesAtMost: Metadata.bucket(text.utf8.count),
            itemsAtMost: items.map { Metadata.bucket($0.count) }
        )
    }

    /// Coarse, content-dependent facts about a withheld artifact.
    public struct Metadata: Sendable, Hashable {
        public var failed: Bool
        public var bytesAtMost: Int
        public var itemsAtMost: Int?

        /// The smallest power of two at or above `count` (0 for 0).
        static func bucket(_ count: Int) -> Int {
            count <= 0 ? 0 : 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
        }

        /// An upper bound on what these facts tell about the content, in bits: one for
        /// success or failure, and for each size the logarithm of how many buckets it could
        /// fall in (sizes up to 2^32).
        public var bits: Double {
            let sizeBits = 5.04  // log2(33 buckets: 0, 1, 2, 4, …, 2^32)
            return 1 + sizeBits + (itemsAtMost == nil ? 0 : sizeBits)
        }

        public var json: JSONValue {
            var json: [String: JSONValue] = [
                "status": .string(failed ? "failed" : "ok"), "bytes_at_most": .number(Double(bytesAtMost)),
            ]
            if let itemsAtMost { json["items_at_most"] = .number(Double(itemsAtMost)) }
            return .object(json)
        }
    }

    /// The artifact as a reader cleared for `clearance` may see it: whole when its labels
    /// fit; otherwise its handle and planned kind only — the same for every content, a
    /// failure included — and with `metadata` the coarse facts above.
    public func view(clearance: Confidentiality, metadata: Bool = false) -> JSONValue {
        var view: [String: JSONValue] = ["handle": .string(handle), "kind": .string(kind)]
        if labels.confidentiality <= clearance {
            view["labels"] = labels.json
            if failed { view["failed"] = true }
            view["content"] = .string(text)
        } else {
            view["withheld"] = .string("above your clearance; refer to it as \(handle)")
            if metadata { view["metadata"] = coarseMetadata.json }
        }
        return .object(view)
    }
}

/// A handle, `$N`: one grammar for finding handles in what a model wrote and for
/// substituting them, so nothing is substituted that the labels did not count.
public struct ArtifactHandle: Sendable, Hashable, CustomStringConvertible {
    /// 1 for `$1`.
    public let index: Int

    public init(index: Int) { self.index = index }

    /// `text` as a handle when it is exactly one: `$`, then ASCII digits with no sign and
    /// no leading zero (`$2`, not `$+2`, `$02` or `$٢`) — what ``scan(_:_:)`` calls exact.
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        var parsed: ArtifactHandle?
        Self.scan(text) { handle, range, exact in
            if exact, range == 0..<text.utf8.count { parsed = handle }
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Every handle `text` mentions: each `$` followed by ASCII digits, whatever follows
    /// them, leading zeros read as the number they spell. A superset of what
    /// ``init(_:)`` accepts, so labels never count less than is substituted.
    public static func mentions(in text: String) -> [ArtifactHandle] {
        var found: [ArtifactHandle] = []
        scan(text) { handle, _, _ in if !found.contains(handle) { found.append(handle) } }
        return found
    }

    /// Calls `body` with each `$` followed by ASCII digits in `text`: the handle it names, the
    /// byte range it spans, and whether it is spelled exactly (`$2`, not `$02`). The one scanner
    /// of handles in text, for counting them and for substituting them.
    static func scan(_ text: String, _ body: (ArtifactHandle, Range<Int>, _ exact: Bool) -> Void) {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            defer { index += 1 }
            guard bytes[index] == UInt8(ascii: "$") else { continue }
            var value = 0
            var end = index + 1
            while end < bytes.count, bytes[end] >= UInt8(ascii: "0"), bytes[end] <= UInt8(ascii: "9") {
                // Past nine digits no run has that many results; it still names the last one it could.
                value = min(value * 10 + Int(bytes[end] - UInt8(ascii: "0")), 999_999_999)
                end += 1
            }
            guard end > index + 1 else { continue }
            let exact = bytes[index + 1] != UInt8(ascii: "0") && end - index - 1 <= 9
            body(ArtifactHandle(index: value), index..<end, exact)
            index = end - 1
        }
    }

    /// Every handle mentioned in a JSON value's strings (object keys included).
    public static func mentions(in value: JSONValue) -> [ArtifactHandle] {
        var found: [ArtifactHandle] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .string(let text):
                for handle in mentions(in: text) where !found.contains(handle) { found.append(handle) }
            case .array(let items): items.forEach(visit)
            case .object(let object):
                for key in object.keys.sorted() {
                    visit(.string(key))
                    visit(object[key]!)
                }
            default: break
            }
        }
        visit(value)
        return found
    }

    public var description: String { "$\(index)" }
}

/// A value with the labels of everything it was derived from: what a model wrote carries
/// what that model could read; an error carries what the failing call touched.
public struct Labelled<Value: Sendable>: Sendable {
    public var value: Value
    public var labels: Labels

    public init(_ value: Value, _ labels: Labels) {
        self.value = value
        self.labels = labels
    }
}

extension Labelled: Equatable where Value: Equatable {}
extension Labelled: Hashable where Value: Hashable {}

/// The artifacts of a run, in order; derived content gets the join of its inputs' labels.
public struct ArtifactStore: Sendable {
    public private(set) var artifacts: [Artifact] = []

    public init() {}

    /// Adds a result and returns its handle.
    @discardableResult
    public mutating func add(
        kind: String, labels: Labels, text: String, data: JSONValue = .null, failed: Bool = false
    ) -> Artifact {
        let artifact = Artifact(
            handle: "$\(artifacts.count + 1)", kind: kind, labels: labels, text: text, data: data, failed: failed)
        artifacts.append(artifact)
        return artifact
    }

    public subscript(handle: ArtifactHandle) -> Artifact? {
        handle.index >= 1 && handle.index <= artifacts.count ? artifacts[handle.index - 1] : nil
    }

    public subscript(handle: String) -> Artifact? {
        ArtifactHandle(handle).flatMap { self[$0] }
    }

    /// The join of the labels of `handles` (public and trusted for none); unknown handles are
    /// an error, so a step cannot launder content through a handle that does not exist.
    public func labels(of handles: [ArtifactHandle]) throws(PlanError) -> Labels {
        var labels = Labels.userInput
        for handle in handles {
            guard let artifact = self[handle] else { throw PlanError("there is no artifact \(handle)") }
            labels = labels.join(artifact.labels)
        }
        return labels
    }

    /// The join of the labels of the handles that exist among `handles`: what a failure's
    /// message may echo.
    public func knownLabels(of handles: [ArtifactHandle]) -> Labels {
        handles.compactMap { self[$0]?.labels }.reduce(Labels.userInput) { $0.join($1) }
    }

    /// `text` with every handle in it, spelled exactly and ending there (`$3` in "see $3.",
    /// not in `$03` or `$30` when there is no `$30`), replaced by that result's text: the
    /// final answer's substitution, by the same scanner that counts handles.
    public func substitute(inText text: String) -> String {
        var bytes = Array(text.utf8)
        var replacements: [(Range<Int>, String)] = []
        ArtifactHandle.scan(text) { handle, range, exact in
            if exact, let artifact = self[handle] { replacements.append((range, artifact.text)) }
        }
        for (range, replacement) in replacements.reversed() {
            bytes.replaceSubrange(range, with: Array(replacement.utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `value` with every string that is exactly a handle replaced by that result's text.
    public func substitute(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            if let handle = ArtifactHandle(text), let artifact = self[handle] { return .string(artifact.text) }
            return value
        case .array(let items): return .array(items.map(substitute))
        case .object(let object): return .object(object.mapValues(substitute))
        default: return value
        }
    }
}

/// A plan the executor cannot carry out, in words the planner can act on.
public struct PlanError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
