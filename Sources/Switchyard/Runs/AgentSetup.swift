/// What makes the names in an agent spec into working parts: its tools and its profiles'
/// providers. The core names no concrete tool or provider; the composition layer does.
public protocol AgentAssembly: Sendable {
    /// The tools called `names`, configured by `settings` (`tools.NAME.*`), working in
    /// `workspace`, whose results carry `labels`. With `readOnly`, the tools may not change
    /// the work tree or the checked-out branch, and say `readOnly` when asked to.
    func tools(
        named names: Set<String>, workspace: String, settings: Settings, labels: Labels, readOnly: String?
    ) throws -> [any Tool]

    /// The provider `profile` describes, sending `apiKey` (nil for one that is only asked what
    /// it would send, as in a replay).
    func provider(for profile: ModelProfile, apiKey: String?) throws -> any ModelProvider

    /// A connection to the MCP server `server` (run in `workspace`) that starts it when first
    /// asked something, so that a replay, which asks nothing, never starts it.
    func connection(to server: MCPServerSpec, workspace: String) -> any MCPConnection
}

/// A model profile as a run uses it: its provider, how far it is trusted, what it costs.
public struct ProfileBinding: Sendable {
    public var name: String
    public var provider: any ModelProvider
    public var clearance: Confidentiality
    /// Where requests go, for the guard and `audit`.
    public var destination: String
    public var price: ModelProfile.Price?
    /// The most a request may take: a larger one is refused before it is sent.
    public var contextWindow: ContextWindow?

    public init(
        name: String, provider: any ModelProvider, clearance: Confidentiality, destination: String,
        price: ModelProfile.Price? = nil, contextWindow: ContextWindow? = nil
    ) {
        self.name = name
        self.provider = provider
        self.clearance = clearance
        self.destination = destination
        self.price = price
        self.contextWindow = contextWindow
    }

    /// `bindings`, each with its context window: the one it has, or the one its server says
    /// (all asked at once; each provider bounds its own questions in time).
    public static func askingWindows(_ bindings: [ProfileBinding]) async -> [ProfileBinding] {
        await withTaskGroup(of: (Int, ContextWindow?).self) { group in
            for (index, binding) in bindings.enumerated() where binding.contextWindow == nil {
                group.addTask { (index, await binding.provider.contextWindow()) }
            }
            var asked = bindings
            for await (index, window) in group { asked[index].contextWindow = window }
            return asked
        }
    }
}

/// What a run reports as it goes, for a progress display.
public enum RunProgress: Sendable {
    case planning(round: Int)
    case step(handle: String, kind: String, detail: String)
    case route(step: String, profile: String?, reason: String)
    case finished(handle: String, kind: String, labels: Labels)
    /// A step failed; the planner sees why (when it is cleared for the step's inputs).
    case failed(handle: String, reason: String, labels: Labels)
    case tokens(profile: String, input: Int, output: Int)
}

extension RunProgress: CustomStringConvertible {
    /// One line for a progress display: what happened, in a column, then its details.
    public var description: String {
        switch self {
        case .planning(let round): "plan    round \(round)"
        case .step(let handle, let kind, let detail): "step    \(handle) \(kind) \(detail.prefix(100))"
        case .route(let step, let profile, let reason): "route   \(step) → \(profile ?? "nowhere"): \(reason)"
        case .finished(let handle, let kind, let labels): "done    \(handle) \(kind) [\(labels)]"
        case .failed(let handle, let reason, let labels): "failed  \(handle) [\(labels)] \(reason.prefix(160))"
        case .tokens(let profile, let input, let output): "tokens  \(profile) in \(input) out \(output)"
        }
    }
}

/// What a run of an agent needs besides its spec: its tools and a binding for each of its
/// profiles.
public struct AgentSetup: Sendable {
    public var tools: [any Tool]
    public var bindings: [ProfileBinding]
    /// The profiles whose providers could not be made, and why: only those the agent can do
    /// without (a router's alternative); without its model or planner it does not start.
    public var unavailable: [String: String]
    /// The spec's settings under the user's (the workspace's and the `--set`s): what the tools
    /// were configured by.
    public var settings: Settings
    /// What the workspace's files are labelled: what the tools' results carry, and what the
    /// guard takes a sender that reads the workspace on its own to hold.
    public var workspaceLabels: Labels
    /// What each MCP server offered, by server: what the run's header records.
    public var catalogues: [String: MCPCatalogue]

    /// What the user should hear of the setup: each profile the agent goes without, and why.
    public var warnings: [String] {
        unavailable.sorted { $0.key < $1.key }.map { "profile \($0.key) is unavailable: \($0.value)" }
    }

    /// How the profiles' providers are made.
    public enum Providers: Sendable {
        /// Providers that send, with their API keys from the environment.
        case live
        /// Providers that render what they would send and refuse to send it: a replay's.
        case recordedOnly
    }

    /// The tools of `spec` (options from the spec, under `settings`) and a binding for every
    /// profile whose provider can be made. `labels` are what the tools' results carry (the
    /// workspace's, as the settings say, unless given); with `readOnly` the tools may not
    /// change the work tree.
    ///
    /// Each MCP server of the spec offers the tools of its catalogue: the one in `recorded`
    /// (a replay's, from the run's header), else the one it lists when asked — the server is
    /// started for it, but not by a replay (`providers` is `.recordedOnly`), which needs a
    /// recorded one.
    public init(
        spec: AgentSpec, settings: Settings, workspace: String, environment: [String: String],
        labels: Labels? = nil, readOnly: String? = nil, providers: Providers = .live, assembly: any AgentAssembly,
        recorded: [String: MCPCatalogue]? = nil
    ) async throws {
        let merged = try spec.settings.overlaid(by: settings)
        self.settings = merged
        workspaceLabels = try labels ?? merged.workspaceLabels()
        tools = try assembly.tools(
            named: Set(spec.tools.keys), workspace: workspace, settings: merged, labels: workspaceLabels,
            readOnly: readOnly)
        catalogues = [:]
        for server in spec.mcp {
            let connection = assembly.connection(to: server, workspace: workspace)
            let catalogue: MCPCatalogue
            if let listed = recorded?[server.name] {
                catalogue = listed
            } else if providers == .recordedOnly {
                throw ConfigurationError(
                    at: server.origin,
                    message:
                        "the run did not record what MCP server \(server.name) offered; it cannot be replayed with this spec"
                )
            } else {
                do {
                    catalogue = try await connection.catalogue()
                } catch {
                    throw ConfigurationError(at: server.origin, message: "MCP server \(server.name): \(error)")
                }
            }
            catalogues[server.name] = catalogue
            tools += try MCPTool.tools(
                of: server, catalogue: catalogue, workspace: workspaceLabels, connection: connection)
        }
        bindings = []
        unavailable = [:]
        for (name, profile) in try ModelProfile.all(from: merged, environment: environment).sorted(by: {
            $0.key < $1.key
        }) {
            do {
                let provider: any ModelProvider =
                    switch providers {
                    case .live: try assembly.provider(for: profile, apiKey: try profile.apiKey(environment))
                    case .recordedOnly: RecordedOnly(rendering: try assembly.provider(for: profile, apiKey: nil))
                    }
                bindings.append(
                    ProfileBinding(
                        name: name, provider: provider, clearance: profile.clearance, destination: profile.baseURL,
                        price: profile.price, contextWindow: profile.contextWindow))
            } catch {
                if name == spec.model || name == spec.planner { throw error }
                unavailable[name] = "\(error)"
            }
        }
    }

    /// What the agent is told when it tries to change the work tree of a run without `--apply`.
    public static let readOnlyReason =
        "the work tree is read-only in this run: propose the change as a patch committed on a new branch (git_commit with patch), or the user can rerun with --apply"

    /// What a run's header says about its agent: the spec (and its hash, so replay knows
    /// when it changed), where each profile's requests go, the tools, what each can read
    /// (`audit` labels what it returned by this, whatever the run said) and the `--set`s.
    public func header(spec: AgentSpec, overrides: [String]) -> RunHeader {
        var header = RunHeader()
        header.agent = RunHeader.Agent(
            name: spec.name, file: spec.file, specSHA256: spec.hash, planner: spec.planner, model: spec.model)
        header.profiles = Dictionary(uniqueKeysWithValues: bindings.map { ($0.name, $0.header) })
        header.tools = tools.map(\.name).sorted()
        header.toolLabels = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0.reads) })
        if !catalogues.isEmpty { header.mcp = catalogues }
        header.settingsOverrides = overrides
        return header
    }
}

extension ProfileBinding {
    /// What a run's header records of a profile: how far it is trusted, where its requests
    /// go, its price (so `trace show` can give costs) and its context window.
    public var header: RunHeader.Profile {
        RunHeader.Profile(clearance: clearance, destination: destination, price: price, contextWindow: contextWindow)
    }
}

/// The provider a replay hands to its effects: it renders what the profile's provider would
/// send, for the replay to compare with what was sent, and must never be called.
public struct RecordedOnly: ModelProvider {
    public var rendering: any ModelProvider

    public init(rendering: any ModelProvider) { self.rendering = rendering }

    public func wire(_ request: ModelRequest) -> WireRequest { rendering.wire(request) }

    public func stream(_ request: ModelRequest) -> ModelEventStream {
        ModelEventStream { _ in
            throw ModelError(code: .badRequest, message: "a replay must not call a model")
        }
    }
}
