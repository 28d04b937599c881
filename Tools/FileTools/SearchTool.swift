import Foundation
import Subprocess
public import Switchyard

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// `search`: ripgrep over the workspace, `.gitignore` respected, symlinks not followed.
///
/// ripgrep opens files by path, so a symlink swapped in while it walks would be followed: it
/// runs inside a bubblewrap sandbox that shows the workspace (read-only) and the system's
/// directories and nothing else, so there is nothing outside to be led to. Without
/// bubblewrap, every file a result names is checked again through ``Workspace/resolve(_:for:tool:)``
/// before anything is returned — weaker, as a file can be swapped back.
public struct SearchTool: Tool {
    public let workspace: Workspace
    /// Where `rg` is; `nil` when it is not installed.
    public let ripgrep: String?
    /// Where `bwrap` is; `nil` when it is not installed.
    public let bubblewrap: String?
    public var limit: OutputLimit

    public init(
        workspace: Workspace, ripgrep: String? = findExecutable("rg"), bubblewrap: String? = findExecutable("bwrap"),
        limit: OutputLimit = OutputLimit()
    ) {
        self.workspace = workspace
        self.ripgrep = ripgrep
        self.bubblewrap = bubblewrap
        self.limit = limit
    }

    public var name: String { "search" }
    public var reads: Labels { workspace.labels }
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
        // Plain output with the path ended by NUL: as cheap to read as ripgrep is to write.
        var rgArguments = [
            "--no-config", "--no-messages", "--no-heading", "--with-filename", "--null", "--line-number", "--column",
            "--color", "never",
        ]
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
        if bubblewrap == nil {
            var checked: [String: Bool] = [:]
            search.lines = search.lines.filter { line in
                if let inside = checked[line.path] { return inside }
                let inside = (try? workspace.resolve(line.path, for: .read, tool: name)) != nil
                checked[line.path] = inside
                return inside
            }
        }
        // ripgrep searches files in parallel; order the files by path, each file's lines in order.
        search.lines = search.lines.enumerated().sorted { a, b in
            a.element.path != b.element.path ? a.element.path < b.element.path : a.offset < b.offset
        }.map(\.element)
        if let problem = search.error {
            throw ToolError(.invalidArguments, tool: name, "ripgrep refused the search: \(problem)")
        }
        // Lines up to the output limit go to the model (and into data); the rest are counted.
        var text = ""
        var shown: [JSONValue] = []
        for line in search.lines {
            let formatted =
                line.column.map { "\(line.path):\(line.line):\($0): \(line.text)\n" }
                ?? "\(line.path)-\(line.line)- \(line.text)\n"
            if shown.count == limit.lines || text.utf8.count + formatted.utf8.count > limit.bytes { break }
            text += formatted
            var object: [String: JSONValue] = [
                "path": .string(line.path), "line": .number(Double(line.line)), "text": .string(line.text),
            ]
            if let column = line.column { object["column"] = .number(Double(column)) }
            shown.append(.object(object))
        }
        let omitted = search.lines.count - shown.count
        if search.matches == 0 { text = "No matches.\n" }
        if omitted > 0 {
            text +=
                "[truncated: \(omitted) more lines not shown; narrow the search with path, include or a more specific pattern]\n"
        }
        if search.stoppedEarly {
            text += "[stopped at \(maximum) matches; narrow the pattern or path, or raise max_results]\n"
        }
        let data: JSONValue = [
            "matches": .number(Double(search.matches)), "complete": .bool(!search.stoppedEarly && omitted == 0),
            "lines": .array(shown),
        ]
        return ToolOutput(
            text: text, data: data, labels: workspace.labels, truncated: omitted > 0 || search.stoppedEarly)
    }

    private struct Search {
        var lines: [Line] = []
        var matches = 0
        var stoppedEarly = false
        var error: String?
    }

    private func run(_ ripgrep: String, _ arguments: [String], maximum: Int) async throws(ToolError) -> Search {
        do {
            let root = workspace.root.isEmpty ? "/" : workspace.root
            var executable = ripgrep
            var arguments = arguments
            if let bubblewrap {
                let home = (ripgrep as NSString).deletingLastPathComponent
                arguments =
                    SandboxView.arguments(toolchains: [home], etc: false) + [
                        "--ro-bind", root, root, "--unshare-all", "--die-with-parent", "--new-session", "--chdir", root,
                        ripgrep,
                    ] + arguments
                executable = bubblewrap
            }
            let outcome = try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(arguments),
                workingDirectory: FilePath(root),
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
            if bubblewrap != nil, search.matches == 0, outcome.standardError.hasPrefix("bwrap: ") {
                throw ToolError(
                    .unavailable, tool: name,
                    "the sandbox ripgrep runs in could not start: \(outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines))"
                )
            }
            if case .exited(2) = outcome.terminationStatus, search.matches == 0 {
                let message = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                search.error = message.isEmpty ? "exit status 2" : message
            }
            return search
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError(.failed, tool: name, "could not run ripgrep: \(error)")
        }
    }

    /// Decodes one line of output: `PATH\0LINE:COLUMN:TEXT` for a match, `PATH\0LINE-TEXT`
    /// for context; `--` between context groups is skipped.
    private static func decode(_ bytes: ArraySlice<UInt8>, into search: inout Search) {
        guard let nul = bytes.firstIndex(of: 0) else { return }
        let path = String(decoding: bytes[..<nul], as: UTF8.self)
        var index = nul + 1
        func number() -> Int {
            var value = 0
            while index < bytes.endIndex, bytes[index] &- UInt8(ascii: "0") < 10 {
                value = value * 10 + Int(bytes[index] &- UInt8(ascii: "0"))
                index += 1
            }
            return value
        }
        let line = number()
        guard index < bytes.endIndex else { return }
        var column: Int?
        if bytes[index] == UInt8(ascii: ":") {
            index += 1
            column = number()
            search.matches += 1
        }
        index += 1
        var text = String(decoding: bytes[min(index, bytes.endIndex)...], as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        if text.utf8.count > 500 { text = String(text.prefix(500)) + "…[line cut at 500 characters]" }
        search.lines.append(
            Line(path: path.hasPrefix("./") ? String(path.dropFirst(2)) : path, line: line, column: column, text: text))
    }
}
