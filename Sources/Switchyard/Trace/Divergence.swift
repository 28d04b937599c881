/// The first place where a replayed run does something other than the recorded one.
public struct Divergence: Error, Sendable, Hashable, CustomStringConvertible {
    /// The recorded event the replay was checked against.
    public var sequence: Int
    public var kind: EventKind
    public var step: String?
    /// Where in the event's payload they differ, such as `request.messages[1].content`;
    /// empty when the whole event differs (another kind of effect, or none left).
    public var path: String
    public var recorded: JSONValue?
    public var replayed: JSONValue?

    public init(
        sequence: Int, kind: EventKind, step: String?, path: String, recorded: JSONValue?, replayed: JSONValue?
    ) {
        self.sequence = sequence
        self.kind = kind
        self.step = step
        self.path = path
        self.recorded = recorded
        self.replayed = replayed
    }

    public var description: String {
        let place = path.isEmpty ? "" : " at \(path)"
        var old = recorded.map { Self.clip($0.canonicalText) } ?? "(nothing)"
        var new = replayed.map { Self.clip($0.canonicalText) } ?? "(nothing)"
        // Two texts (a prompt, say): show where they part, not just how they begin.
        if case .string(let before)? = recorded, case .string(let after)? = replayed {
            (old, new) = Self.aroundDifference(before, after)
        }
        return
            "diverged at event #\(sequence) (\(kind)\(step.map { ", step \($0)" } ?? ""))\(place):\n  recorded: \(old)\n  now:      \(new)"
    }

    /// Both texts from a little before their first difference, quoted.
    static func aroundDifference(_ old: String, _ new: String) -> (String, String) {
        let common = zip(old, new).prefix { $0 == $1 }.count
        let start = max(0, common - 40)
        func window(_ text: String) -> String {
            let body = String(text.dropFirst(start).prefix(120))
            let quoted = JSONValue.string(body).canonicalText
            return (start > 0 ? "…" : "") + quoted + (text.count > start + 120 ? "…" : "")
        }
        return (window(old), window(new))
    }

    public var json: JSONValue {
        [
            "sequence": .number(Double(sequence)), "kind": .string(kind.rawValue),
            "step": step.map(JSONValue.string) ?? .null,
            "path": .string(path), "recorded": recorded ?? .null, "replayed": replayed ?? .null,
        ]
    }

    static func clip(_ text: String) -> String { text.count > 160 ? String(text.prefix(160)) + "…" : text }
}

extension JSONValue {
    /// The first path at which `other` differs from `self`, with both values there; keys
    /// in sorted order, so the answer does not depend on key order.
    public func firstDifference(from other: JSONValue, at path: String = "") -> (
        path: String, mine: JSONValue?, theirs: JSONValue?
    )? {
        // Equal values (the common case, and cheap for values that share storage) are not
        // walked: only a branch that differs is, and only its path is spelled out.
        guard self != other else { return nil }
        switch (self, other) {
        case (.object(let mine), .object(let theirs)):
            for key in Set(mine.keys).union(theirs.keys).sorted() where mine[key] != theirs[key] {
                let child = path.isEmpty ? key : "\(path).\(key)"
                guard let a = mine[key], let b = theirs[key] else { return (child, mine[key], theirs[key]) }
                return a.firstDifference(from: b, at: child)
            }
            return nil
        case (.array(let mine), .array(let theirs)):
            for index in 0..<max(mine.count, theirs.count) {
                guard index < mine.count, index < theirs.count, mine[index] == theirs[index] else {
                    let child = "\(path)[\(index)]"
                    guard index < mine.count else { return (child, nil, theirs[index]) }
                    guard index < theirs.count else { return (child, mine[index], nil) }
                    return mine[index].firstDifference(from: theirs[index], at: child)
                }
            }
            return nil
        default:
            return (path, self, other)
        }
    }
}

extension Divergence {
    /// The first difference between two runs' events, which compare on kind, step and
    /// payload (times and hashes always differ); nil when they record the same.
    public static func between(_ a: [TraceEvent], _ b: [TraceEvent]) -> Divergence? {
        for index in 0..<max(a.count, b.count) {
            guard index < a.count, index < b.count else {
                let present = index < a.count ? a[index] : b[index]
                return Divergence(
                    sequence: present.sequence, kind: present.kind, step: present.step, path: "",
                    recorded: index < a.count ? ["kind": .string(present.kind.rawValue)] : nil,
                    replayed: index < b.count ? ["kind": .string(present.kind.rawValue)] : nil)
            }
            let left: JSONValue = [
                "kind": .string(a[index].kind.rawValue), "step": a[index].step.map(JSONValue.string) ?? .null,
                "payload": a[index].payload,
            ]
            let right: JSONValue = [
                "kind": .string(b[index].kind.rawValue), "step": b[index].step.map(JSONValue.string) ?? .null,
                "payload": b[index].payload,
            ]
            if let difference = left.firstDifference(from: right) {
                return Divergence(
                    sequence: a[index].sequence, kind: a[index].kind, step: a[index].step, path: difference.path,
                    recorded: difference.mine, replayed: difference.theirs)
            }
        }
        return nil
    }
}
