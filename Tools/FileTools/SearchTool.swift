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
/// ripgrep opens files by path, so a symlink swapped in while it walks (a file, or a directory
/// above one) would be followed out of the workspace. Its results are therefore checked again
/// through descriptors opened beneath the workspace before anything is returned: every file a
/// result names is opened that way and must hold each reported line at its byte offset (checked
/// while ripgrep is still searching). A file that fails is dropped with all its lines and counts. (A sandbox around ripgrep would confine it
/// too, but starting one costs more than ripgrep's whole search on a mid-sized repository.)
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
        /// Where the line starts in its file, how many bytes it has (without its newline), and
        /// a digest of them, as ripgrep read it: for checking it again through a descriptor.
        var offset = 0
        var length = 0
        var digest: UInt64 = 0
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
            "--byte-offset", "--color", "never",
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
        // ripgrep searches files in parallel; order the files by path, each file's lines in order.
        search.lines = search.lines.enumerated().sorted { a, b in
            a.element.path != b.element.path ? a.element.path < b.element.path : a.offset < b.offset
        }.map(\.element)
        if let problem = search.error {
            throw ToolError(.invalidArguments, tool: name, "ripgrep refused the search: \(problem)")
        }
        // A file that was not confirmed is dropped, with its lines and its matches.
        let unconfirmed = search.lines.filter { !search.confirmed.contains($0.path) }
        search.matches -= unconfirmed.count { $0.column != nil }
        if !unconfirmed.isEmpty { search.lines.removeAll { !search.confirmed.contains($0.path) } }
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
        /// The files whose lines were checked again and found where ripgrep said they are.
        var confirmed: Set<String> = []
    }

    /// Runs ripgrep and decodes its output. ripgrep writes each file's lines together, so a
    /// file is complete when the next one starts: it is checked again (``Confirmation``) right
    /// then, while ripgrep goes on searching.
    private func run(_ ripgrep: String, _ arguments: [String], maximum: Int) async throws(ToolError) -> Search {
        let confirmation = Confirmation(workspace: workspace, tool: name)
        do {
            let outcome = try await Subprocess.run(
                .path(FilePath(ripgrep)), arguments: Arguments(arguments),
                workingDirectory: FilePath(workspace.root.isEmpty ? "/" : workspace.root),
                input: .none, output: .sequence, error: .string(limit: 64 * 1024)
            ) { execution in
                try await withThrowingTaskGroup(of: String?.self) { checks in
                    var search = Search()
                    var pending: [UInt8] = []
                    var fileStart = 0
                    func check(_ lines: ArraySlice<Line>) {
                        guard let path = lines.first?.path else { return }
                        let lines = Array(lines)
                        checks.addTask { confirmation.holds(path, lines) ? path : nil }
                    }
                    reading: for try await buffer in execution.standardOutput {
                        buffer.withUnsafeBytes { pending.append(contentsOf: $0) }
                        var start = 0
                        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                            let count = search.lines.count
                            Self.decode(pending[start..<newline], into: &search)
                            start = newline + 1
                            if search.lines.count > count, count > fileStart,
                                search.lines[count].path != search.lines[fileStart].path
                            {
                                check(search.lines[fileStart..<count])
                                fileStart = count
                            }
                            if search.matches >= maximum {
                                search.stoppedEarly = true
                                try? execution.send(signal: .kill)
                                break reading
                            }
                        }
                        pending.removeSubrange(0..<start)
                    }
                    check(search.lines[fileStart...])
                    for try await path in checks { if let path { search.confirmed.insert(path) } }
                    return search
                }
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

    /// Decodes one line of output: `PATH\0LINE:COLUMN:OFFSET:TEXT` for a match,
    /// `PATH\0LINE-OFFSET-TEXT` for context; `--` between context groups is skipped.
    private static func decode(_ bytes: ArraySlice<UInt8>, into search: inout Search) {
        guard let nul = bytes.firstIndex(of: 0) else { return }
        let path = String(decoding: bytes[..<nul], as: UTF8.self)
        var index = nul + 1
        func number() -> Int {
            var value = 0
            while index < bytes.endIndex, bytes[index] &- UInt8(ascii: "0") < 10 {
                value = value &* 10 &+ Int(bytes[index] &- UInt8(ascii: "0"))
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
        let offset = number()
        index = min(index + 1, bytes.endIndex)
        let text = shown(String(decoding: bytes[index...], as: UTF8.self))
        search.lines.append(
            Line(
                path: path.hasPrefix("./") ? String(path.dropFirst(2)) : path, line: line, column: column, text: text,
                offset: offset, length: bytes.endIndex - index, digest: digest(bytes[index...])))
    }

    /// FNV-1a over `bytes`: enough to tell a line ripgrep read from the one the file holds.
    static func digest(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// A line as the results show it: without its carriage return, cut at 500 characters.
    static func shown(_ line: some StringProtocol) -> String {
        var text = String(line)
        if text.hasSuffix("\r") { text.removeLast() }
        if text.utf8.count > 500 { text = String(text.prefix(500)) + "…[line cut at 500 characters]" }
        return text
    }

    /// Checks a file ripgrep reported through a descriptor opened beneath the workspace: it
    /// must be a regular file there that holds every line reported for it, at its offset.
    private struct Confirmation: Sendable {
        let workspace: Workspace
        let tool: String
        let root: Descriptor?

        init(workspace: Workspace, tool: String) {
            self.workspace = workspace
            self.tool = tool
            self.root = try? workspace.rootDescriptor(tool: tool)
        }

        func holds(_ path: String, _ lines: [Line]) -> Bool {
            guard let root, let file = try? workspace.openFile(path, in: root, reading: true, tool: tool),
                let data = try? file.readAll()
            else { return false }
            return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let bytes = raw.bindMemory(to: UInt8.self)
                return lines.allSatisfy { line in
                    // The line's bytes where ripgrep read them, then a newline or the end.
                    let end = line.offset + line.length
                    guard line.offset >= 0, end <= bytes.count else { return false }
                    if end < bytes.count, bytes[end] != UInt8(ascii: "\n") { return false }
                    return SearchTool.digest(bytes[line.offset..<end]) == line.digest
                }
            }
        }
    }
}
