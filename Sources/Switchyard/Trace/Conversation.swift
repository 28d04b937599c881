import Glibc

/// How a model request is stored: as what it adds to the conversation it continues.
///
/// A tool-calling loop resends the whole conversation every turn, so a run that recorded
/// each request whole would grow with the square of its turns. The arrays that grow — the
/// request's messages and the wire body's `messages` (or the Responses API's `input`) — are
/// stored as the earlier request they continue, how many of its items they keep, and the
/// items they add:
///
/// ```json
/// {"$continues": 12, "$kept": 9, "$added": [{"role": "assistant", …}, {"role": "tool", …}]}
/// ```
///
/// The tools offered (`request.tools`, `wire.body.tools`) are stored the same way: a request
/// that offers what the one before offered keeps all of it and adds nothing.
///
/// The writer compares requests as they are made, before they are redacted (redaction is
/// per string, so a kept item is stored as it would be again), and redacts only what they
/// add; it reads every request back whole. The hash chain covers what is stored, so an edit
/// of the request continued breaks the chain there.
enum Conversation {
    /// Where a model request's payload holds an array that grows turn by turn.
    static let growingPaths: [[String]] = [
        ["request", "messages"], ["request", "tools"], ["wire", "body", "messages"], ["wire", "body", "input"],
        ["wire", "body", "tools"],
    ]

    /// How many of a run's latest requests a new one is compared with: concurrent steps
    /// (agents of one planner round) interleave their conversations.
    static let remembered = 8

    /// A request as the writer remembers it: its sequence and its growing arrays, whole.
    struct Recorded {
        var sequence: Int
        var arrays: [[JSONValue]?]
    }

    /// `payload` with each growing array that continues one of `recent` as what it adds;
    /// `recent` then remembers it.
    static func continuing(_ payload: JSONValue, as sequence: Int, after recent: inout [Recorded]) -> JSONValue {
        var stored = payload
        var arrays: [[JSONValue]?] = []
        for (index, path) in growingPaths.enumerated() {
            guard case .array(let items)? = payload[path] else {
                arrays.append(nil)
                continue
            }
            arrays.append(items)
            if let (earlier, kept) = longestStart(of: items, among: recent.map { $0.arrays[index] }) {
                stored[path] = [
                    "$continues": .number(Double(recent[earlier].sequence)), "$kept": .number(Double(kept)),
                    "$added": .array(Array(items[kept...])),
                ]
            }
        }
        recent.append(Recorded(sequence: sequence, arrays: arrays))
        if recent.count > remembered { recent.removeFirst(recent.count - remembered) }
        return stored
    }

    /// Which of `earlier` (latest last) is the longest whole start of `items`, and its length;
    /// only those `accepted` (by index) count. A conversation's turns share its start: a
    /// request continues the one before it in its conversation.
    static func longestStart(
        of items: [JSONValue], among earlier: [[JSONValue]?], accepted: (Int) -> Bool = { _ in true }
    ) -> (index: Int, count: Int)? {
        var best: (index: Int, count: Int)?
        for (index, previous) in earlier.enumerated().reversed() {
            guard let previous, previous.count > (best?.count ?? 0), previous.count <= items.count,
                begins(items, with: previous), accepted(index)
            else { continue }
            best = (index, previous.count)
        }
        return best
    }

    /// Whether `items` begins with `start`. The items of a conversation's turns are the same
    /// values (a message is rendered once), so an item whose bytes are those of its
    /// counterpart — the same case, the same storage — is equal without being read, and
    /// without the retain and release a comparison costs; any other pair is compared.
    static func begins(_ items: [JSONValue], with start: [JSONValue]) -> Bool {
        guard start.count <= items.count else { return false }
        let size = MemoryLayout<JSONValue>.size
        return items.withUnsafeBufferPointer { items in
            start.withUnsafeBufferPointer { start in
                for index in start.indices
                where memcmp(items.baseAddress! + index, start.baseAddress! + index, size) != 0 {
                    if items[index] != start[index] { return false }
                }
                return true
            }
        }
    }

    /// Reads a run's model requests back whole, in order.
    struct Reader {
        private var arrays: [Int: [[JSONValue]?]] = [:]

        /// The request recorded as event `sequence`, whole.
        mutating func whole(_ payload: JSONValue, sequence: Int) throws(TraceError) -> JSONValue {
            var whole = payload
            var found: [[JSONValue]?] = []
            for (index, path) in growingPaths.enumerated() {
                switch payload[path] {
                case .array(let items)?:
                    found.append(items)
                case .object(let delta)?
                where delta["$continues"] != nil:
                    guard let earlier = delta["$continues"]?.intValue, let kept = delta["$kept"]?.intValue,
                        case .array(let added)? = delta["$added"], let base = arrays[earlier]?[index], kept >= 0,
                        kept <= base.count
                    else {
                        throw TraceError(
                            "event \(sequence) continues a request that is not in the run (\(path.joined(separator: ".")))"
                        )
                    }
                    let items = Array(base[..<kept]) + added
                    whole[path] = .array(items)
                    found.append(items)
                default:
                    found.append(nil)
                }
            }
            arrays[sequence] = found
            return whole
        }
    }
}

extension JSONValue {
    /// The value at `path` of nested objects.
    subscript(path: [String]) -> JSONValue? {
        get { path.reduce(Optional(self)) { $0?[$1] } }
        set {
            guard let first = path.first, case .object(var object) = self else { return }
            if path.count == 1 {
                object[first] = newValue
            } else {
                guard var child = object[first] else { return }
                child[Array(path.dropFirst())] = newValue
                object[first] = child
            }
            self = .object(object)
        }
    }
}
