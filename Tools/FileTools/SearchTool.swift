import Foundation
import Subprocess
public import Switchyard

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// `search`: ripgrep over the workspace, `.gitignore` respected, symlinks not followed.
public struct SearchTool: Tool {
    public let workspace: Workspace
    /// Where `rg` is; `nil` when it is not installed.
    public let ripgrep: String?
    public var limit: OutputLimit

    public init(workspace: Workspace, ripgrep: String? = findExecutable("rg"), limit: OutputLimit = OutputLimit()) {
        self.workspace = workspace
        self.ripgrep = ripgrep
        self.limit = limit
    }

    public var name: String { "search" }
    public var description: String {
        "Search the workspace's files for a regular expression (or literal text) with ripgrep. Files ignored by .gitignore are skipped. Returns path:line:column: text for each match."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "pattern": [
                    "type": "string", "minLength": 1,
                    "description": "A Rust regular expression, or literal text with literal=true.",
                ],
                "literal": ["type": "boolean", "description": "Match the pattern as plain text."],
                "case": [
                    "type": "string", "enum": ["smart", "sensitive", "insensitive"],
                    "description": "smart (default): insensitive unless the pattern has an upper-case letter.",
                ],
                "include": [
                    "type": "array", "items": ["type": "string"],
                    "description": "Only files matching these globs, e.g. *.swift.",
                ],
                "exclude": [
                    "type": "array", "items": ["type": "string"], "description": "Skip files matching these globs.",
                ],
                "path": [
                    "type": "string",
                    "description": "A file or directory to search, relative to the workspace (default: all of it).",
                ],
                "context": [
                    "type": "integer", "minimum": 0, "maximum": 10,
                    "description": "Lines of context around each match.",
                ],
                "max_results": [
                    "type": "integer", "minimum": 1, "maximum": 10000,
                    "description": "Stop after this many matches (default 100).",
                ],
            ],
            "required": ["pattern"],
            "additionalProperties": false,
        ]
    }

    /// One line of the results.
    public struct Line: Sendable, Hashable {
        public var path: String
        public var line: Int
        /// The 1-based byte column of the first match; `nil` for a context line.
        public var column: Int?
        public var text: String
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        guard let ripgrep else {
            throw ToolError(
                .unavailable, tool: name,
                "ripgrep (rg) is not installed; install it with `apt install ripgrep` (Debian/Ubuntu) or `brew install ripgrep`"
            )
        }
        let pattern = arguments.string("pattern") ?? ""
        let maximum = arguments.int("max_results") ?? 100
        var rgArguments = ["--json", "--no-config", "--no-messages"]
        if arguments.bool("literal") == true { rgArguments.append("--fixed-strings") }
        switch arguments.string("case") ?? "smart" {
        case "sensitive": rgArguments.append("--case-sensitive")
        case "insensitive": rgArguments.append("--ignore-case")
        default: rgArguments.append("--smart-case")
        }
        for glob in arguments.strings("include") ?? [] { rgArguments += ["--glob", glob] }
        for glob in arguments.strings("exclude") ?? [] { rgArguments += ["--glob", "!" + glob] }
        if let lines = arguments.int("context"), lines > 0 { rgArguments += ["--context", String(lines)] }
        // A match never needs more than this many per file to fill the results.
        rgArguments += ["--max-count", String(maximum)]
        rgArguments += ["--regexp", pattern, "--"]
        if let path = arguments.string("path") {
            let resolved = try workspace.resolve(path, for: .read, tool: name)
            guard resolved.exists else {
                throw ToolError(.notFound, tool: name, "\(path) does not exist in the workspace")
            }
            rgArguments.append(resolved.relative.isEmpty ? "." : resolved.relative)
        }

        var search = try await run(ripgrep, rgArguments, maximum: maximum)
        // ripgrep searches files in parallel; order the files by path, each file's lines in order.
        search.lines = search.lines.enumerated().sorted { a, b in
            a.element.path != b.element.path ? a.element.path < b.element.path : a.offset < b.offset
        }.map(\.element)
        if let problem = search.error {
            throw ToolError(.invalidArguments, tool: name, "ripgrep refused the search: \(problem)")
        }
        var text = ""
        for line in search.lines {
            if let column = line.column {
                text += "\(line.path):\(line.line):\(column): \(line.text)\n"
            } else {
                text += "\(line.path)-\(line.line)- \(line.text)\n"
            }
        }
        if search.matches == 0 { text = "No matches.\n" }
        if search.stoppedEarly {
            text += "[stopped at \(maximum) matches; narrow the pattern or path, or raise max_results]\n"
        }
        let capped = limit.apply(to: text, hint: "narrow the search with path, include or a more specific pattern")
        let data: JSONValue = [
            "matches": .number(Double(search.matches)),
            "complete": .bool(!search.stoppedEarly && !capped.truncated),
            "lines": .array(
                search.lines.map { line in
                    var object: [String: JSONValue] = [
                        "path": .string(line.path), "line": .number(Double(line.line)), "text": .string(line.text),
                    ]
                    if let column = line.column { object["column"] = .number(Double(column)) }
                    return .object(object)
                }),
        ]
        return ToolOutput(
            text: capped.text, data: data, labels: workspace.labels, truncated: capped.truncated || search.stoppedEarly)
    }

    private struct Search {
        var lines: [Line] = []
        var matches = 0
        var stoppedEarly = false
        var error: String?
    }

    private func run(_ ripgrep: String, _ arguments: [String], maximum: Int) async throws(ToolError) -> Search {
        do {
            let outcome = try await Subprocess.run(
                .path(FilePath(ripgrep)), arguments: Arguments(arguments),
                workingDirectory: FilePath(workspace.root.isEmpty ? "/" : workspace.root),
                input: .none, output: .sequence, error: .string(limit: 64 * 1024)
            ) { execution in
                var search = Search()
                var pending: [UInt8] = []
                reading: for try await buffer in execution.standardOutput {
                    buffer.withUnsafeBytes { pending.append(contentsOf: $0) }
                    var start = 0
                    while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                        Self.decode(pending[start..<newline], into: &search)
                        start = newline + 1
                        if search.matches >= maximum {
                            search.stoppedEarly = true
                            try? execution.send(signal: .kill)
                            break reading
                        }
                    }
                    pending.removeSubrange(0..<start)
                }
                return search
            }
            var search = outcome.closureResult
            // ripgrep exits 1 for "no match" and 2 for errors (a bad pattern, an unreadable file).
            if case .exited(2) = outcome.terminationStatus, search.matches == 0 {
                let message = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                search.error = message.isEmpty ? "exit status 2" : message
            }
            return search
        } catch {
            throw ToolError(.failed, tool: name, "could not run ripgrep: \(error)")
        }
    }

    /// Decodes one `rg --json` message; only `match` and `context` lines matter here.
    private static func decode(_ bytes: ArraySlice<UInt8>, into search: inout Search) {
        guard let message = try? JSONValue(parsing: bytes), let kind = message["type"]?.stringValue,
            kind == "match" || kind == "context", let data = message["data"]
        else { return }
        let path = Self.text(data["path"]) ?? "?"
        let number = data["line_number"]?.intValue ?? 0
        var text = Self.text(data["lines"]) ?? ""
        if text.hasSuffix("\n") { text.removeLast() }
        if text.hasSuffix("\r") { text.removeLast() }
        if text.count > 500 { text = String(text.prefix(500)) + "…[line cut at 500 characters]" }
        var column: Int?
        if kind == "match" {
            column = (data["submatches"]?.arrayValue?.first?["start"]?.intValue ?? 0) + 1
            search.matches += 1
        }
        search.lines.append(
            Line(
                path: path.hasPrefix("./") ? String(path.dropFirst(2)) : path, line: number, column: column, text: text)
        )
    }

    /// ripgrep writes text as `{"text": …}`, or `{"bytes": base64}` when it is not UTF-8.
    private static func text(_ value: JSONValue?) -> String? {
        if let text = value?["text"]?.stringValue { return text }
        if let encoded = value?["bytes"]?.stringValue, let data = Data(base64Encoded: encoded) {
            return String(decoding: data, as: UTF8.self)
        }
        return nil
    }
}
