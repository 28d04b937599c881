public import Foundation
public import Switchyard

/// `read`: a text file's lines, numbered, within caps; binary files are described, not shown.
public struct ReadTool: Tool {
    public let workspace: Workspace
    public var limit: OutputLimit
    /// Lines longer than this many characters are cut.
    public var longestLine = 2000

    public init(workspace: Workspace, limit: OutputLimit = OutputLimit(bytes: 64 * 1024, lines: 2000)) {
        self.workspace = workspace
        self.limit = limit
    }

    public var name: String { "read" }
    public var reads: Labels { workspace.labels }
    public var description: String {
        "Read a text file of the workspace, numbered by line. Use start_line and end_line for a part of a long file."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "path": ["type": "string", "minLength": 1, "description": "Relative to the workspace."],
                "start_line": ["type": "integer", "minimum": 1, "description": "The first line to show (default 1)."],
                "end_line": [
                    "type": "integer", "minimum": 1, "description": "The last line to show (default: as many as fit).",
                ],
            ],
            "required": ["path"],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let path = arguments.string("path") ?? ""
        let resolved = try workspace.resolve(path, for: .read, tool: name)
        guard resolved.exists else { throw ToolError(.notFound, tool: name, "\(path) does not exist in the workspace") }
        if resolved.isDirectory {
            throw ToolError(.invalidArguments, tool: name, "\(path) is a directory; use list to see what it holds")
        }
        let start = arguments.int("start_line") ?? 1
        let end = arguments.int("end_line")
        if let end, end < start {
            throw ToolError(.invalidArguments, tool: name, "end_line (\(end)) is before start_line (\(start))")
        }
        let data = try workspace.contents(of: resolved, tool: name)
        if let reason = Self.binaryReason(data) {
            return ToolOutput(
                text: "\(resolved.relative) is a binary file (\(data.count) bytes, \(reason)); not shown.\n",
                data: ["path": .string(resolved.relative), "binary": true, "bytes": .number(Double(data.count))],
                labels: workspace.labels)
        }

        var text = ""
        var shown = 0
        var lineNumber = 0
        var nextLine: Int?  // set when the caps stop the output early
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var lineStart = 0
            while lineStart < bytes.count {
                let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                lineNumber += 1
                if nextLine == nil, lineNumber >= start, end.map({ lineNumber <= $0 }) ?? true {
                    var line = String(
                        decoding: UnsafeRawBufferPointer(rebasing: raw[lineStart..<lineEnd]), as: UTF8.self)
                    if line.hasSuffix("\r") { line.removeLast() }
                    if line.count > longestLine {
                        line = String(line.prefix(longestLine)) + "…[line cut at \(longestLine) characters]"
                    }
                    let numbered =
                        String(repeating: " ", count: max(0, 6 - String(lineNumber).count)) + "\(lineNumber)\t\(line)\n"
                    if shown == limit.lines || text.utf8.count + numbered.utf8.count > limit.bytes {
                        nextLine = lineNumber
                    } else {
                        text += numbered
                        shown += 1
                    }
                }
                lineStart = lineEnd + 1
            }
        }
        let total = lineNumber
        if start > max(total, 1) {
            throw ToolError(
                .invalidArguments, tool: name, "\(path) has \(total) lines; start_line \(start) is past the end")
        }
        let lastShown = start + shown - 1
        if let nextLine {
            text +=
                "[truncated: showing lines \(start)–\(lastShown) of \(total); call read with start_line=\(nextLine) for more]\n"
        } else if lastShown < total {
            text += "[lines \(start)–\(lastShown) of \(total)]\n"
        }
        return ToolOutput(
            text: text,
            data: [
                "path": .string(resolved.relative), "start_line": .number(Double(start)),
                "end_line": .number(Double(lastShown)), "total_lines": .number(Double(total)),
            ],
            labels: workspace.labels, truncated: nextLine != nil)
    }

    /// Why `data` looks binary (a NUL byte or invalid UTF-8 near the start), or `nil` for text.
    public static func binaryReason(_ data: Data) -> String? {
        let head = data.prefix(8192)
        if head.contains(0) { return "contains NUL bytes" }
        // A multi-byte character may be cut at the end of the sample: allow three bytes of slack.
        let sample = head.count == data.count ? head : head.dropLast(3)
        if String(validating: sample, as: UTF8.self) == nil, String(validating: head, as: UTF8.self) == nil {
            return "not UTF-8 text"
        }
        return nil
    }
}
