import Foundation
import Git
import GitWorkspace
public import Switchyard

/// `edit`: an exact search-and-replace in one file (or a new file), or a unified diff
/// applied to the work tree; written atomically, answered with the resulting diff.
public struct EditTool: Tool {
    public let workspace: Workspace
    public var limit: OutputLimit

    public init(workspace: Workspace, limit: OutputLimit = OutputLimit()) {
        self.workspace = workspace
        self.limit = limit
    }

    public var name: String { "edit" }
    public var reads: Labels { workspace.labels }
    public var description: String {
        "Change a file: replace old_string with new_string (old_string must occur exactly once unless replace_all is true; an empty old_string creates a new file), or apply a unified diff given as patch. Returns the resulting diff."
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "path": ["type": "string", "minLength": 1, "description": "The file, relative to the workspace."],
                "old_string": [
                    "type": "string", "description": "The exact text to replace, with enough context to be unique.",
                ],
                "new_string": ["type": "string", "description": "The text to put in its place."],
                "replace_all": ["type": "boolean", "description": "Replace every occurrence of old_string."],
                "patch": [
                    "type": "string",
                    "description": "Instead of old_string/new_string: a unified diff (git diff format) to apply.",
                ],
            ],
            "additionalProperties": false,
        ]
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        if let patch = arguments.string("patch") {
            if arguments["old_string"] != nil || arguments["new_string"] != nil {
                throw ToolError(.invalidArguments, tool: name, "give either patch or old_string/new_string, not both")
            }
            return try applyPatch(patch)
        }
        guard let path = arguments.string("path"), let old = arguments.string("old_string"),
            let new = arguments.string("new_string")
        else {
            throw ToolError(.invalidArguments, tool: name, "give path, old_string and new_string (or a patch)")
        }
        return try replace(in: path, old: old, new: new, all: arguments.bool("replace_all") ?? false)
    }

    private func replace(in path: String, old: String, new: String, all: Bool) throws(ToolError) -> ToolOutput {
        let file = try workspace.openForWriting(path, tool: name)
        let before: String
        let existing = try file.contents()
        if let data = existing {
            guard ReadTool.binaryReason(data) == nil, let text = String(validating: data, as: UTF8.self) else {
                throw ToolError(.invalidArguments, tool: name, "\(path) is not UTF-8 text; edit cannot change it")
            }
            before = text
        } else {
            guard old.isEmpty else {
                throw ToolError(
                    .notFound, tool: name, "\(path) does not exist; to create it, give an empty old_string")
            }
            before = ""
        }
        let resolved = file.path
        if old == new { throw ToolError(.invalidArguments, tool: name, "old_string and new_string are the same") }
        let after: String
        if old.isEmpty {
            guard before.isEmpty else {
                throw ToolError(
                    .invalidArguments, tool: name,
                    "\(path) already exists and is not empty; give the old_string to replace")
            }
            after = new
        } else {
            let occurrences = before.ranges(of: old).count
            if occurrences == 0 {
                throw ToolError(
                    .notFound, tool: name,
                    "old_string does not occur in \(path); read the file and copy the text exactly")
            }
            if occurrences > 1 && !all {
                throw ToolError(
                    .invalidArguments, tool: name,
                    "old_string occurs \(occurrences) times in \(path); add surrounding lines to make it unique, or set replace_all"
                )
            }
            after = before.replacing(old, with: new)
        }
        try file.write(Data(after.utf8))
        let diff = (try? Repository.unifiedDiff(from: before, to: after, path: resolved.relative)) ?? ""
        let capped = limit.apply(to: diff, hint: "read the file to see the rest")
        return ToolOutput(
            text: capped.text.isEmpty ? "No change.\n" : capped.text,
            data: ["path": .string(resolved.relative), "created": .bool(existing == nil), "diff": .string(diff)],
            labels: workspace.labels, truncated: capped.truncated)
    }

    private func applyPatch(_ patch: String) throws(ToolError) -> ToolOutput {
        let repository: Repository
        do {
            repository = try workspace.openRepository(tool: name)
        } catch let error where error.code == .unavailable {
            throw ToolError(
                .unavailable, tool: name,
                "patches are applied with git, and the workspace is not the root of a git repository; use old_string/new_string"
            )
        }
        try workspace.apply(patch: patch, to: repository, tool: name)
        let capped = limit.apply(to: patch, hint: "the patch applied in full")
        return ToolOutput(
            text: "Applied:\n" + capped.text, data: ["applied": true, "diff": .string(patch)], labels: workspace.labels,
            truncated: capped.truncated)
    }
}
