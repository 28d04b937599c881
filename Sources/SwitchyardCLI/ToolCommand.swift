import ArgumentParser
import FileTools
import Foundation
import GitTools
import HTTPTool
import Hashing
import ShellTool
import Switchyard
import VectorStore

struct ToolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tool",
        abstract: "Call one agent tool by hand, as a model would.",
        discussion: """
            Tools: search, read, list, edit (files); git_status, git_log, git_show, git_diff, git_blame, \
            git_branch, git_commit, git_apply (git); shell (a sandboxed command); vector_search, \
            vector_upsert (the vector store; see switchyard index); http_fetch. Without a name, lists \
            them; `switchyard tool NAME --schema` prints one's argument schema.
            Examples:
              switchyard tool search --workspace . --args '{"pattern": "func main", "include": ["*.swift"]}'
              switchyard tool git_log --workspace . --args '{"limit": 5, "path": "Sources"}'
              switchyard tool shell --workspace . --set 'tools.shell.allow=swift build*' --args '{"command": "swift build"}'
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
    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        if let name, !Toolbox.names.contains(name) {
            throw ValidationError(
                "no tool is called '\(name)'; the tools are: \(Toolbox.names.joined(separator: ", "))")
        }
        let tools: [any Tool]
        do {
            tools = try Toolbox.make(
                workspacePath: settings.workspace, settings: settings.load(), only: name.map { [$0] })
        } catch {
            throw fail(error)
        }
        guard name != nil else {
            if json {
                printJSON(.array(tools.map { ["name": .string($0.name), "description": .string($0.description)] }))
            } else {
                for tool in tools {
                    print("\(tool.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(tool.description)")
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
            throw ExitCode(1)
        }
    }
}

/// Builds the tools for a workspace from the settings (`tools.NAME.*`, `workspace.*`).
enum Toolbox {
    /// Every tool `switchyard` has, in the order it lists them.
    static let names = [
        "search", "read", "list", "edit", "git_status", "git_log", "git_show", "git_diff", "git_blame", "git_branch",
        "git_commit", "git_apply", "shell", "vector_search", "vector_upsert", "http_fetch",
    ]

    /// The tools' options, each read by its tool's own parser.
    struct Options {
        var commit: GitTools.CommitPolicy
        var shell: ShellPolicy
        var fetch: HTTPFetchPolicy
        /// The vector tools' collection, when one is named.
        var collection: String?
    }

    /// Reads the options under `tools.*`: a tool that does not exist, or an option a tool does
    /// not have, is an error naming where it was written.
    static func options(_ settings: Settings) throws -> Options {
        for (key, entry) in settings.children(of: "tools") {
            let name = String(key.prefix { $0 != "." })
            guard names.contains(name) else {
                throw ConfigurationError(
                    at: entry.origin, message: "unknown tool '\(name)'; the tools are \(names.joined(separator: ", "))")
            }
        }
        var collection: String?
        for name in ["vector_search", "vector_upsert"] {
            var vectors = ToolOptions(settings: settings, tool: name)
            if let named = try vectors.string("collection") {
                if let collection, collection != named {
                    throw ConfigurationError(
                        at: vectors.location, message: "vector_search and vector_upsert name different collections")
                }
                collection = named
            }
            try vectors.finish()
        }
        for name in names where !["git_commit", "shell", "http_fetch", "vector_search", "vector_upsert"].contains(name)
        {
            try ToolOptions(settings: settings, tool: name).finish()
        }
        return Options(
            commit: try GitTools.CommitPolicy(options: ToolOptions(settings: settings, tool: "git_commit")),
            shell: try ShellPolicy(options: ToolOptions(settings: settings, tool: "shell")),
            fetch: try HTTPFetchPolicy(options: ToolOptions(settings: settings, tool: "http_fetch")),
            collection: collection)
    }

    /// The tools for a workspace (all of them, or those in `only`), configured by the settings.
    /// With `readOnly`, the tools may not change the work tree or the checked-out branch:
    /// `edit`, `git_apply` and `git_commit` of work-tree paths refuse, saying `readOnly`, and
    /// `git_commit` never commits on the checked-out branch, and the shell mounts the work
    /// tree read-only but for its `writable` directories (where builds put their products).
    static func make(
        workspacePath: String, settings: Settings, labels: Labels? = nil, only: Set<String>? = nil,
        readOnly: String? = nil
    ) throws -> [any Tool] {
        var options = try options(settings)
        var workspace = try workspace(workspacePath, settings: settings)
        if let labels { workspace.labels = labels }
        if let readOnly {
            workspace.readOnlyReason = readOnly
            options.commit.allowCheckedOutBranch = false
        }
        let wanted = only ?? Set(names)
        var tools =
            FileTools.make(workspace: workspace) + GitTools.make(workspace: workspace, commitPolicy: options.commit)
            + [ShellTool(workspace: workspace, policy: options.shell), HTTPFetchTool(policy: options.fetch)]
        // The vector store is opened only when a vector tool is wanted.
        if !wanted.isDisjoint(with: ["vector_search", "vector_upsert"]) {
            tools += try vectorTools(workspace: workspace, settings: settings, collection: options.collection)
        }
        return tools.filter { wanted.contains($0.name) }.sorted {
            names.firstIndex(of: $0.name)! < names.firstIndex(of: $1.name)!
        }
    }

    private static func vectorTools(workspace: Workspace, settings: Settings, collection: String?) throws -> [any Tool]
    {
        let environment = ProcessInfo.processInfo.environment
        let collection = collection ?? defaultCollection(for: workspace)
        let store = try VectorStore(path: try vectorStorePath(environment))
        let embedder: any EmbeddingProvider
        var embedderID = "unconfigured"
        do {
            let profile = try embeddingProfile(nil, settings: settings, environment: environment)
            try checkClearance(of: profile, for: workspace)
            // A text searched for and then stored is embedded once.
            embedder = RecentEmbeddings(try profile.embeddingProvider(environment: environment))
            embedderID = profile.embedderID
        } catch {
            embedder = Unavailable(reason: "\(error)")
        }
        return [
            VectorSearchTool(store: store, collection: collection, embedder: embedder, labels: workspace.labels),
            VectorUpsertTool(
                store: store, collection: collection, embedder: embedder, embedderID: embedderID,
                labels: workspace.labels),
        ]
    }

    /// The workspace at `path`, labelled by `workspace.confidentiality` (default private) and
    /// `workspace.integrity` (default trusted).
    static func workspace(_ path: String, settings: Settings) throws -> Workspace {
        var labels = Labels(.private, .trusted)
        if let entry = settings["workspace.confidentiality"] {
            guard let text = entry.value.stringValue, let level = Confidentiality(name: text) else {
                throw ConfigurationError(
                    at: entry.origin, message: "workspace.confidentiality: expected public, internal, private or secret"
                )
            }
            labels.confidentiality = level
        }
        if let entry = settings["workspace.integrity"] {
            guard let text = entry.value.stringValue, let level = Integrity(name: text) else {
                throw ConfigurationError(
                    at: entry.origin, message: "workspace.integrity: expected trusted or untrusted")
            }
            labels.integrity = level
        }
        do {
            return try Workspace(path: path, labels: labels)
        } catch {
            throw ConfigurationError(at: "--workspace", message: error.message)
        }
    }

    /// The embedding profile: `name`, else the setting `index.embedder`, else `embed`.
    static func embeddingProfile(_ name: String?, settings: Settings, environment: [String: String]) throws
        -> ModelProfile
    {
        let chosen = name ?? settings["index.embedder"]?.value.stringValue ?? "embed"
        return try ModelProfile.named(chosen, in: settings, environment: environment)
    }

    /// Private text goes only to an embedder cleared for it.
    static func checkClearance(of profile: ModelProfile, for workspace: Workspace) throws {
        guard workspace.labels.confidentiality <= profile.clearance else {
            throw ConfigurationError(
                at: "profiles.\(profile.name).clearance",
                message:
                    "the workspace is \(workspace.labels.confidentiality) and profile \(profile.name) is cleared only for \(profile.clearance); embed it with a local profile, or raise that profile's clearance if the data may go there"
            )
        }
    }

    /// `NAME-HASH`: the directory's name and 8 hex digits of its real path.
    static func defaultCollection(for workspace: Workspace) -> String {
        let name = workspace.root.split(separator: "/").last.map(String.init) ?? "root"
        return "\(name)-\(SHA256.hex(Array(workspace.root.utf8)).prefix(8))"
    }

    static func vectorStorePath(_ environment: [String: String]) throws -> String {
        let path = try VectorStore.defaultPath(environment: environment)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return path
    }

    /// An embedder that explains why there is none.
    struct Unavailable: EmbeddingProvider {
        let reason: String
        func embed(_ inputs: [String]) async throws -> [[Float]] {
            throw ConfigurationError(at: "index.embedder", message: "no embedding profile to use: \(reason)")
        }
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
