/// A step's result, kept by the run and named by a handle (`$3`).
public struct Artifact: Sendable, Hashable {
    /// `$1`, `$2`, … in the order the run made them.
    public var handle: String
    /// What made it: `task`, `tool:search`, `model`, `agent`, `declassified`.
    public var kind: String
    public var labels: Labels
    /// What a model reads.
    public var text: String
    /// The structured result, when there is one.
    public var data: JSONValue

    public init(handle: String, kind: String, labels: Labels, text: String, data: JSONValue = .null) {
        self.handle = handle
        self.kind = kind
        self.labels = labels
        self.text = text
        self.data = data
    }

    /// Metadata that reveals nothing of the content: its size and shape.
    public var safeMetadata: JSONValue {
        var metadata: [String: JSONValue] = [
            "bytes": .number(Double(text.utf8.count)),
            "lines": .number(
                Double(
                    text.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
                        + (text.isEmpty || text.hasSuffix("\n") ? 0 : 1))),
        ]
        if let items = data["lines"]?.arrayValue ?? data["hits"]?.arrayValue ?? data["commits"]?.arrayValue {
            metadata["items"] = .number(Double(items.count))
        }
        if let status = data["status"] { metadata["status"] = status }
        return .object(metadata)
    }

    /// The artifact as a reader cleared for `clearance` may see it: whole when its labels
    /// fit, otherwise the handle, kind, labels and safe metadata only.
    public func view(clearance: Confidentiality) -> JSONValue {
        var view: [String: JSONValue] = [
            "handle": .string(handle), "kind": .string(kind), "labels": labels.json,
        ]
        if labels.confidentiality <= clearance {
            view["content"] = .string(text)
        } else {
            view["withheld"] = .string("\(labels.confidentiality) content; refer to it as \(handle)")
            view["metadata"] = safeMetadata
        }
        return .object(view)
    }
}

/// The artifacts of a run, in order; derived content gets the join of its inputs' labels.
public struct ArtifactStore: Sendable {
    public private(set) var artifacts: [Artifact] = []

    public init() {}

    /// Adds a result and returns its handle.
    @discardableResult
    public mutating func add(kind: String, labels: Labels, text: String, data: JSONValue = .null) -> Artifact {
        let artifact = Artifact(handle: "$\(artifacts.count + 1)", kind: kind, labels: labels, text: text, data: data)
        artifacts.append(artifact)
        return artifact
    }

    public subscript(handle: String) -> Artifact? {
        guard handle.hasPrefix("$"), let index = Int(handle.dropFirst()), index >= 1, index <= artifacts.count else {
            return nil
        }
        return artifacts[index - 1]
    }

    /// The join of the labels of `handles` (public and trusted for none); unknown handles are
    /// an error, so a step cannot launder content through a handle that does not exist.
    public func labels(of handles: [String]) throws(PlanError) -> Labels {
        var labels = Labels(.public, .trusted)
        for handle in handles {
            guard let artifact = self[handle] else { throw PlanError("there is no artifact \(handle)") }
            labels = labels.join(artifact.labels)
        }
        return labels
    }

    /// Every handle (`$N`) mentioned in a JSON value's strings: what a tool step's arguments
    /// draw on, whose labels its result inherits.
    public static func handles(in value: JSONValue) -> [String] {
        var found: [String] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .string(let text):
                var index = text.startIndex
                while let dollar = text[index...].firstIndex(of: "$") {
                    let digits = text[text.index(after: dollar)...].prefix { $0.isASCII && $0.isNumber }
                    if !digits.isEmpty, !found.contains("$\(digits)") { found.append("$\(digits)") }
                    index = text.index(after: dollar)
                }
            case .array(let items): items.forEach(visit)
            case .object(let object): object.keys.sorted().forEach { visit(object[$0]!) }
            default: break
            }
        }
        visit(value)
        return found
    }
}

/// A plan the executor cannot carry out, in words the planner can act on.
public struct PlanError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
