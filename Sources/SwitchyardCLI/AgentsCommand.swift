import ArgumentParser
import Composition
import Foundation
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
                    _ = try Toolbox.options(spec.settings)
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
            if failed { throw ExitStatus.configuration }
        }
    }
}
