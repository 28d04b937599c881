import FileTools
public import Foundation
public import GitTools
public import HTTPTool
import Hashing
public import ShellTool
public import Switchyard
public import VectorStore

/// Builds the tools for a workspace from the settings (`tools.NAME.*`, `workspace.*`).
public enum Toolbox {
    /// Every tool `switchyard` has, in the order it lists them.
    public static let names = [
        "search", "read", "list", "edit", "git_status", "git_log", "git_show", "git_diff", "git_blame", "git_branch",
        "git_commit", "git_apply", "shell", "vector_search", "vector_upsert", "http_fetch",
    ]

    /// The tools' options, each read by its tool's own parser.
    public struct Options {
        public var commit: GitTools.CommitPolicy
        public var shell: ShellPolicy
        public var fetch: HTTPFetchPolicy
        /// The vector tools' collection, when one is named.
        public var collection: String?
    }

    /// Reads the options under `tools.*`: a tool that does not exist, or an option a tool does
    /// not have, is an error naming where it was written.
    public static func options(_ settings: Settings) throws -> Options {
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
    /// The vector store is the one `environment` names (`$SWITCHYARD_HOME/vectors.db`).
    public static func make(
        workspacePath: String, settings: Settings, labels: Labels? = nil, only: Set<String>? = nil,
        readOnly: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
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
            tools += try vectorTools(
                workspace: workspace, settings: settings, collection: options.collection, environment: environment)
        }
        return tools.filter { wanted.contains($0.name) }.sorted {
            names.firstIndex(of: $0.name)! < names.firstIndex(of: $1.name)!
        }
    }

    private static func vectorTools(
        workspace: Workspace, settings: Settings, collection: String?, environment: [String: String]
    ) throws -> [any Tool] {
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

    /// The workspace at `path`, labelled as its settings say (``Settings/workspaceLabels()``).
    public static func workspace(_ path: String, settings: Settings) throws -> Workspace {
        let labels = try settings.workspaceLabels()
        do {
            return try Workspace(path: path, labels: labels)
        } catch {
            throw ConfigurationError(at: "--workspace", message: error.message)
        }
    }

    /// The embedding profile: `name`, else the setting `index.embedder`, else `embed`.
    public static func embeddingProfile(_ name: String?, settings: Settings, environment: [String: String]) throws
        -> ModelProfile
    {
        let chosen = name ?? settings["index.embedder"]?.value.stringValue ?? "embed"
        return try ModelProfile.named(chosen, in: settings, environment: environment)
    }

    /// Private text goes only to an embedder cleared for it.
    public static func checkClearance(of profile: ModelProfile, for workspace: Workspace) throws {
        guard workspace.labels.confidentiality <= profile.clearance else {
            throw ConfigurationError(
                at: "profiles.\(profile.name).clearance",
                message:
                    "the workspace is \(workspace.labels.confidentiality) and profile \(profile.name) is cleared only for \(profile.clearance); embed it with a local profile, or raise that profile's clearance if the data may go there"
            )
        }
    }

    /// `NAME-HASH`: the directory's name and 8 hex digits of its real path.
    public static func defaultCollection(for workspace: Workspace) -> String {
        let name = workspace.root.split(separator: "/").last.map(String.init) ?? "root"
        return "\(name)-\(SHA256.hex(Array(workspace.root.utf8)).prefix(8))"
    }

    public static func vectorStorePath(_ environment: [String: String]) throws -> String {
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

    /// Indexes `directory` into `collection` (default: its own) with the embedding profile
    /// the settings name (`embedder`, else `index.embedder`, else `embed`), which must be
    /// cleared for the workspace — incrementally: unchanged files are not embedded again. The
    /// workspace's labels are `labels` when given (an agent's run gives its spec's, the ones
    /// its tools carry), else the settings' `workspace.*`.
    public static func index(
        _ directory: String, settings: Settings, collection: String?, embedder: String? = nil,
        include: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment,
        progress: @escaping @Sendable (WorkspaceIndexer.Progress) -> Void = { _ in }
    ) async throws -> (collection: String, summary: WorkspaceIndexer.Summary) {
        let workspace = try workspace(directory, settings: settings)
        let profile = try embeddingProfile(embedder, settings: settings, environment: environment)
        try checkClearance(of: profile, for: workspace)
        let collection = collection ?? defaultCollection(for: workspace)
        let store = try VectorStore(path: try vectorStorePath(environment))
        var indexer = WorkspaceIndexer(
            workspace: workspace, store: store, collection: collection,
            embedder: try profile.embeddingProvider(environment: environment), embedderID: profile.embedderID)
        indexer.include = include.isEmpty ? try includeSetting(settings) : include
        return (collection, try await indexer.run(progress: progress))
    }

    /// The setting `index.include`: a glob or a list of globs.
    static func includeSetting(_ settings: Settings) throws(ConfigurationError) -> [String] {
        guard let entry = settings["index.include"] else { return [] }
        switch entry.value {
        case .string(let glob): return [glob]
        case .array(let globs) where globs.allSatisfy({ $0.stringValue != nil }): return globs.compactMap(\.stringValue)
        default: throw ConfigurationError(at: entry.origin, message: "index.include must be a glob or a list of globs")
        }
    }
}

extension ModelProfile {
    /// What a collection records as its embedder: the provider kind and model.
    var embedderID: String { "\(kind.rawValue):\(model)" }
}
