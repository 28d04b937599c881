import ArgumentParser
import Foundation
import GitTools
import HTTPTool
import ShellTool
import Switchyard

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "List and check agent specs (agents/NAME.md).",
        subcommands: [List.self, Validate.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "The agents in agents/.")
        @Option(help: "The directory of agent specs.") var directory = "agents"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var rows: [JSONValue] = []
            for path in AgentSpec.paths(in: directory) {
                do {
                    let spec = try AgentSpec.load(path: path)
                    rows.append([
                        "name": .string(spec.name), "description": .string(spec.description),
                        "planner": spec.planner.map(JSONValue.string) ?? .null, "model": .string(spec.model),
                        "tools": .array(spec.tools.keys.sorted().map(JSONValue.string)), "file": .string(path),
                    ])
                } catch {
                    rows.append(["file": .string(path), "error": .string("\(error)")])
                }
            }
            if json { return printJSON(.array(rows)) }
            if rows.isEmpty { print("No agent specs in \(directory)/.") }
            for row in rows {
                if let error = row["error"]?.stringValue {
                    print("\(row["file"]?.stringValue ?? "")  INVALID: \(error)")
                } else {
                    let name = (row["name"]?.stringValue ?? "").padding(toLength: 18, withPad: " ", startingAt: 0)
                    print("\(name) \(row["description"]?.stringValue ?? "")")
                }
            }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",
            abstract: "Check agent specs; every problem names the file, the line and what was expected.",
            discussion: "Without files, checks every spec in agents/. Exit status 0 when all are valid, 2 otherwise.")
        @Argument(help: "Spec files (default: agents/*.md).") var files: [String] = []
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let paths = files.isEmpty ? AgentSpec.paths(in: "agents") : files
            var results: [JSONValue] = []
            var failed = false
            for path in paths {
                do {
                    let spec = try AgentSpec.load(path: path)
                    try ToolCatalog.check(spec)
                    results.append(["file": .string(path), "valid": true])
                    if !json {
                        print("ok    \(path)  (\(spec.name): \(spec.tools.count) tools, spec \(spec.hash.prefix(12)))")
                    }
                } catch {
                    failed = true
                    results.append(["file": .string(path), "valid": false, "error": .string("\(error)")])
                    if !json { print("error \(error)") }
                }
            }
            if json { printJSON(.array(results)) }
            if paths.isEmpty, !json { print("No agent specs to check.") }
            if failed { throw ExitCode(2) }
        }
    }
}

/// The tools `switchyard` knows, and how each one's options are checked.
enum ToolCatalog {
    static let names = [
        "search", "read", "list", "edit", "git_status", "git_log", "git_show", "git_diff", "git_blame", "git_branch",
        "git_commit", "git_apply", "shell", "vector_search", "vector_upsert", "http_fetch",
    ]

    /// Every tool the spec names exists and its options are ones it has.
    static func check(_ spec: AgentSpec) throws {
        for (name, options) in spec.tools.sorted(by: { $0.key < $1.key }) {
            guard names.contains(name) else {
                throw ConfigurationError(
                    at: options.origin ?? spec.file,
                    message: "unknown tool '\(name)'; the tools are \(names.joined(separator: ", "))")
            }
            switch name {
            case "shell": _ = try ShellPolicy(options: options)
            case "http_fetch": _ = try HTTPFetchPolicy(options: options)
            case "git_commit": _ = try GitTools.CommitPolicy(options: options)
            case "vector_search", "vector_upsert":
                var options = options
                _ = try options.string("collection")
                try options.finish()
            default: try options.finish()
            }
        }
    }
}
