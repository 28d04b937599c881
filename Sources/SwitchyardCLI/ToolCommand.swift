import ArgumentParser
import Composition
import Foundation
import Switchyard

struct ToolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tool",
        abstract: "Call one agent tool by hand, as a model would.",
        discussion: """
            Tools: search, read, list, edit (files); git_status, git_log, git_show, git_diff, git_blame, \
            git_branch, git_commit, git_apply (git); shell (a sandboxed command); vector_search, \
            vector_upsert (the vector store; see switchyard index); http_fetch. Without a name, lists \
            them; `switchyard tool NAME --schema` prints one's argument schema.
            With --agent, the tools are that agent's, as its spec configures them: its own and \
            those of the MCP servers it declares (mcp.SERVER in the spec), named mcp__SERVER__TOOL; \
            listing them starts the servers.
            Examples:
              switchyard tool search --workspace . --args '{"pattern": "func main", "include": ["*.swift"]}'
              switchyard tool git_log --workspace . --args '{"limit": 5, "path": "Sources"}'
              switchyard tool shell --workspace . --set 'tools.shell.allow=swift build*' --args '{"command": "swift build"}'
              switchyard tool --agent tracker
              switchyard tool mcp__time__get_current_time --agent tracker --args '{"timezone": "UTC"}'
            Tool options come from the settings under tools.NAME (switchyard.yaml, or --set): \
            tools.shell.allow / deny (glob lists), otherwise (ask, deny or allow; default ask, which asks \
            on a terminal and refuses elsewhere), network (default false), workspace (read-write or \
            read-only), sandbox (bubblewrap or none), timeout (seconds), environment (extra variable \
            names); tools.git_commit.protected_branches (default [main, master]) and \
            allow_checked_out_branch (default false); tools.http_fetch.allow_hosts (names or *.domain; \
            none by default), allow_addresses (special-use addresses to allow anyway, e.g. \
            127.0.0.1), max_bytes, timeout. The workspace's labels come from \
            workspace.confidentiality (default private) and workspace.integrity (default trusted).
            Exit status: 0 on success, 1 when the tool reports an error, 2 for a configuration problem.
            """
    )

    @Argument(help: "The tool to call; omit to list them.") var name: String?
    @Option(help: ArgumentHelp("The arguments: JSON text, or @FILE to read it from a file.", valueName: "JSON"))
    var args: String = "{}"
    @Flag(help: "Print the result (text, data, labels) or the error as JSON.") var json = false
    @Flag(help: "Print the tool's argument schema instead of calling it.") var schema = false
    @Option(
        help: ArgumentHelp(
            "An agent (a name under agents/ or a spec file) whose tools these are, its MCP servers' included.",
            valueName: "SPEC"))
    var agent: String?
    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let tools = try await available()
        guard name != nil else {
            if json {
                printJSON(.array(tools.map { ["name": .string($0.name), "description": .string($0.description)] }))
            } else {
                let width = max(12, tools.map(\.name.count).max() ?? 0)
                for tool in tools {
                    let summary = tool.description.split(separator: "\n").first.map(String.init) ?? ""
                    print("\(tool.name.padding(toLength: width, withPad: " ", startingAt: 0)) \(summary)")
                }
            }
            return
        }
        let tool = tools[0]
        if schema {
            printJSON(tool.parameters)
            return
        }
        let arguments: JSONValue
        if args.hasPrefix("@") {
            arguments = try readJSON(String(args.dropFirst()), what: "--args")
        } else {
            do {
                arguments = try JSONValue(parsing: args)
            } catch {
                throw ValidationError("--args is not JSON: \(error)".oneLine)
            }
        }
        let context = ToolContext(approver: isatty(STDIN_FILENO) == 1 ? TerminalApprover() : nil)
        do {
            let output = try await tool.invoke(arguments, context: context)
            if json {
                printJSON(output.json)
            } else {
                FileHandle.standardOutput.write(Data(output.text.utf8))
            }
        } catch {
            if json {
                printJSON(["error": error.json])
            } else {
                FileHandle.standardError.write(Data("switchyard: \(error)\n".utf8))
            }
            throw ExitStatus.failed
        }
    }

    /// The built-in tools, or the agent's: all of them, or the one named.
    private func available() async throws -> [any Tool] {
        let tools: [any Tool]
        let names: [String]
        do {
            if let agent {
                let ready = try await ReadyAgent(
                    agent, workspace: settings.workspace, environment: ProcessInfo.processInfo.environment,
                    overrides: settings.overrides, notice: { _ in })
                tools = ready.setup.tools.filter { tool in name.map { $0 == tool.name } ?? true }
                    .sorted { $0.name < $1.name }
                names = ready.setup.tools.map(\.name).sorted()
            } else {
                names = Toolbox.names
                tools =
                    name.map { names.contains($0) } ?? true
                    ? try Toolbox.make(
                        workspacePath: settings.workspace, settings: settings.load(), only: name.map { [$0] }) : []
            }
        } catch {
            throw fail(error)
        }
        if let name, tools.isEmpty {
            throw ValidationError(
                "no tool is called '\(name)'\(agent.map { " in agent \($0)" } ?? ""); the tools are: \(names.joined(separator: ", "))"
            )
        }
        return tools
    }
}

/// Asks the person at the terminal, on standard error.
struct TerminalApprover: Approver {
    func approve(tool: String, action: String) async -> Bool {
        FileHandle.standardError.write(Data("switchyard: \(tool) wants to \(action). Allow? [y/N] ".utf8))
        guard let answer = readLine() else { return false }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
