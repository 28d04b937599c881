/// Lines of a workspace file a run read: what its answer rests on, so a reader can check it.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var lines: ClosedRange<Int>

    public init(path: String, lines: ClosedRange<Int>) {
        self.path = path
        self.lines = lines
    }

    /// `path:12` or `path:12-40`.
    public var description: String {
        lines.count == 1 ? "\(path):\(lines.lowerBound)" : "\(path):\(lines.lowerBound)-\(lines.upperBound)"
    }

    public var json: JSONValue {
        [
            "path": .string(path), "start_line": .number(Double(lines.lowerBound)),
            "end_line": .number(Double(lines.upperBound)),
        ]
    }

    /// The lines `artifact` shows: what a `read` returned, a search's matching lines, the
    /// passages a `vector_search` found.
    public static func shown(by artifact: Artifact) -> [SourceLocation] {
        func location(_ path: JSONValue?, _ start: JSONValue?, _ end: JSONValue?) -> SourceLocation? {
            guard let path = path?.stringValue, let start = start?.intValue else { return nil }
            return SourceLocation(path: path, lines: start...max(start, end?.intValue ?? start))
        }
        switch artifact.kind {
        case "tool:read":
            return location(artifact.data["path"], artifact.data["start_line"], artifact.data["end_line"])
                .map { [$0] } ?? []
        case "tool:search":
            return (artifact.data["lines"]?.arrayValue ?? []).compactMap { location($0["path"], $0["line"], nil) }
        case "tool:vector_search":
            return (artifact.data["hits"]?.arrayValue ?? []).compactMap {
                location($0["metadata"]?["path"], $0["metadata"]?["start_line"], $0["metadata"]?["end_line"])
            }
        default:
            return []
        }
    }

    /// `locations` with each file's overlapping or adjacent ranges joined, files in the order
    /// they were first read, ranges in line order.
    public static func merged(_ locations: [SourceLocation]) -> [SourceLocation] {
        var order: [String] = []
        var ranges: [String: [ClosedRange<Int>]] = [:]
        for location in locations {
            if ranges[location.path] == nil { order.append(location.path) }
            ranges[location.path, default: []].append(location.lines)
        }
        return order.flatMap { path in
            var joined: [ClosedRange<Int>] = []
            for range in ranges[path]!.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                if let last = joined.last, range.lowerBound <= last.upperBound + 1 {
                    joined[joined.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
                } else {
                    joined.append(range)
                }
            }
            return joined.map { SourceLocation(path: path, lines: $0) }
        }
    }
}
