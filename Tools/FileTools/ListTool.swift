import Foundation
import Git
import GitWorkspace
public import Switchyard

/// `list`: the workspace's files as a tree, `.git/` and ignored files left out.
public struct ListTool: Tool {
    public let workspace: Workspace

    public init(workspace: Workspace) {
        self.workspace = workspace
    }

    public var name: String { "list" }
    public var reads: Labels { workspace.labels }
    public var description: String {
        "List the files and directories of the workspace (or of a directory in it) as a tree. Files ignored by .gitignore are left out; symlinks are shown, not followed."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "path": [
                    "type": "string", "description": "A directory relative to the workspace (default: its root).",
                ],
                "depth": [
                    "type": "integer", "minimum": 1, "maximum": 20,
                    "description": "How many levels to show (default 3).",
                ],
                "max_entries": [
                    "type": "integer", "minimum": 1, "maximum": 10000,
                    "description": "Stop after this many entries (default 500).",
                ],
            ],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let path = arguments.string("path") ?? "."
        let resolved = try workspace.resolve(path, for: .read, tool: name)
        guard resolved.exists else { throw ToolError(.notFound, tool: name, "\(path) does not exist in the workspace") }
        guard resolved.isDirectory else {
            throw ToolError(.invalidArguments, tool: name, "\(path) is a file; use read to see it")
        }
        var walk = Walk(
            workspace: workspace, ignores: IgnoreRules(workspace: workspace), depth: arguments.int("depth") ?? 3,
            maximum: arguments.int("max_entries") ?? 500)
        walk.visit(try workspace.openDirectory(resolved, tool: name), relative: resolved.relative, level: 0)
        var text = (resolved.relative.isEmpty ? "." : resolved.relative) + "/\n" + walk.text
        if walk.omitted > 0 {
            text += "[truncated: \(walk.omitted) more entries not shown; list a subdirectory or raise max_entries]\n"
        }
        return ToolOutput(
            text: text,
            data: [
                "path": .string(resolved.relative), "entries": .array(walk.entries),
                "omitted": .number(Double(walk.omitted)),
            ],
            labels: workspace.labels, truncated: walk.omitted > 0)
    }

    private struct Walk {
        let workspace: Workspace
        let ignores: IgnoreRules
        let depth: Int
        let maximum: Int
        var text = ""
        var entries: [JSONValue] = []
        var omitted = 0

        mutating func visit(_ directory: Descriptor, relative: String, level: Int) {
            for name in directory.entryNames().sorted() where name != ".git" {
                let path = relative.isEmpty ? name : relative + "/" + name
                guard let entry = directory.entry(named: name) else { continue }
                if ignores.ignores(path, isDirectory: entry.kind == .directory) { continue }
                if entries.count >= maximum {
                    omitted += 1
                    continue
                }
                let indent = String(repeating: "  ", count: level + 1)
                switch entry.kind {
                case .directory:
                    let child = directory.openDirectory(named: name)
                    let inside = child?.entryNames().count ?? 0
                    entries.append(["path": .string(path), "kind": "directory"])
                    if level + 1 < depth, let child {
                        text += "\(indent)\(name)/\n"
                        visit(child, relative: path, level: level + 1)
                    } else {
                        text += "\(indent)\(name)/ (\(inside) entries)\n"
                    }
                case .symlink:
                    let target = directory.linkTarget(named: name) ?? "?"
                    entries.append(["path": .string(path), "kind": "symlink", "target": .string(target)])
                    text += "\(indent)\(name) -> \(target)\n"
                case .file:
                    entries.append(["path": .string(path), "kind": "file", "bytes": .number(Double(entry.size))])
                    text += "\(indent)\(name) (\(Self.size(entry.size)))\n"
                case .special:
                    entries.append(["path": .string(path), "kind": "special"])
                    text += "\(indent)\(name) (special file)\n"
                }
            }
        }

        static func size(_ bytes: Int) -> String {
            if bytes < 1024 { return "\(bytes) B" }
            if bytes < 1024 * 1024 { return String(format: "%.1f KB", Double(bytes) / 1024) }
            return String(format: "%.1f MB", Double(bytes) / 1024 / 1024)
        }
    }
}

/// The `.gitignore` rules of the repository the workspace is in, if it is in one.
struct IgnoreRules {
    private let repository: Repository?
    /// The workspace's path relative to the repository's work tree, with a trailing slash.
    private let prefix: String

    init(workspace: Workspace) {
        // The workspace's own repository only when it stays inside; else the one above it, if any.
        let own = FileManager.default.fileExists(atPath: workspace.root + "/.git")
        let repository =
            own
            ? try? workspace.openRepository(tool: "list")
            : try? Repository(path: workspace.root.isEmpty ? "/" : workspace.root, discover: true)
        if let repository, let workdir = repository.workdir, (workspace.root + "/").hasPrefix(workdir) {
            self.repository = repository
            self.prefix = String((workspace.root + "/").dropFirst(workdir.count))
        } else {
            self.repository = nil
            self.prefix = ""
        }
    }

    func ignores(_ path: String, isDirectory: Bool) -> Bool {
        guard let repository else { return false }
        return (try? repository.isIgnored(prefix + path + (isDirectory ? "/" : ""))) ?? false
    }
}
