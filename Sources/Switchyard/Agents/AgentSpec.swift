import Foundation
import Hashing

/// An agent: `agents/NAME.md`, YAML front matter for what it may use and how, and a
/// Markdown body that is its system prompt.
///
/// ```markdown
/// ---
/// name: code-assistant
/// description: Answers questions about a private repository and proposes changes.
/// planner: cloud                  # plan with this profile; without it, one tool-calling loop
/// model: local                    # agent and model steps, and the loop when there is no planner
/// profiles:
///   local: { provider: ollama, model: qwen2.5-coder:7b }
///   cloud: { provider: openai, model: gpt-4.1-mini }
/// tools:
///   search: {}
///   shell: { allow: ["swift test*"] }
/// mcp:                            # MCP servers whose tools it may use (MCPServerSpec)
///   time: { command: [uvx, mcp-server-time], clearance: public }
/// routing:
///   rules:
///     - { role: reasoning, use: cloud }
///     - { min_context_tokens: 24000, max_cost_usd: 0.05, use: cloud }
///   fallback: [local]
/// privacy:
///   workspace: { confidentiality: private, integrity: trusted }
///   declassify: redacted-summary  # never | redacted-summary | allow
///   allow_exfiltration: false
///   planner_metadata: none          # none | coarse
/// budgets: { steps: 30, tokens: 200000, cost_usd: 0.5, wall_seconds: 600 }
/// ---
/// You are a careful code assistant…
/// ```
///
/// Every key is checked: an unknown one is an error naming the file and line, never ignored.
public struct AgentSpec: Sendable {
    public var name: String
    public var description: String
    public var file: String
    /// SHA-256 of the file's bytes: what a run records, so replay knows the spec changed.
    public var hash: String
    public var systemPrompt: String
    /// The profile that plans, or `nil` for an agent that is one tool-calling loop.
    public var planner: String?
    /// The profile for agent and model steps when no rule says otherwise.
    public var model: String
    /// The spec's settings (profiles, tool options), under which the user's settings lay.
    public var settings: Settings
    /// The tools the agent may use, each with its options.
    public var tools: [String: ToolOptions]
    /// The MCP servers whose tools the agent may use besides its own (``MCPServerSpec``).
    public var mcp: [MCPServerSpec]
    public var routing: Routing
    public var privacy: Privacy
    public var budgets: Budgets
    /// How `switchyard triage` decides tickets, for a triage agent.
    public var triage: Triage?

    public struct Routing: Sendable, Hashable {
        public struct Rule: Sendable, Hashable {
            /// Matches a step with this role hint (`reasoning`, `code`, `summary`, …).
            public var role: String?
            /// Matches a step whose estimated input is at least this many tokens.
            public var minimumContextTokens: Int?
            /// Matches a step that needs tool calling (`true`) or does not (`false`).
            public var needsTools: Bool?
            /// Matches a step whose estimated input costs at most this on the rule's profile
            /// (by its `price`), so expensive steps go elsewhere.
            public var maximumCostUSD: Double?
            /// The profile to use.
            public var use: String
            public var origin: String

            public init(
                role: String? = nil, minimumContextTokens: Int? = nil, needsTools: Bool? = nil, use: String,
                origin: String
            ) {
                self.role = role
                self.minimumContextTokens = minimumContextTokens
                self.needsTools = needsTools
                self.use = use
                self.origin = origin
            }
        }

        public var rules: [Rule] = []
        /// Profiles to try, in order, when the chosen one fails (always within clearance).
        public var fallback: [String] = []

        public init(rules: [Rule] = [], fallback: [String] = []) {
            self.rules = rules
            self.fallback = fallback
        }
    }

    public struct Privacy: Sendable, Hashable {
        public enum Declassify: String, Sendable, Hashable, CaseIterable {
            case never
            case redactedSummary = "redacted-summary"
            case allow
        }

        public var declassify: Declassify = .never
        /// Whether a run that holds private data and has read untrusted content may still
        /// use exfiltration-capable tools (the "lethal trifecta"); off unless the spec says so.
        public var allowExfiltration = false
        /// What a planner learns about results it may not read. `none` (the default): their
        /// handle and planned kind, which the plan alone decides. `coarse`: also whether the
        /// step failed and its size and item count rounded up to powers of two, each a release
        /// counted in bits for `audit`.
        public var plannerMetadata: PlannerMetadata = .none

        public enum PlannerMetadata: String, Sendable, Hashable, CaseIterable {
            case none
            case coarse
        }
    }

    public struct Budgets: Sendable, Hashable {
        public var steps = 50
        public var tokens = 500_000
        public var costUSD: Double = 1.0
        public var wallTime: Duration = .seconds(900)

        public init() {}

        /// Which budget is spent, if one is, after `steps` steps that used `used` in
        /// `elapsed` milliseconds: the one check both loops (the planner's and triage's) make
        /// before their next step. The model gateway holds each call to what is left as well.
        public func spent(steps: Int, used: ProfileUsage, elapsed: Int64) -> String? {
            if steps >= self.steps { return "the step budget (\(self.steps)) is spent" }
            if used.tokens >= tokens { return "the token budget (\(tokens)) is spent (\(used.tokens) used)" }
            if used.costUSD >= costUSD {
                return String(format: "the cost budget ($%.2f) is spent ($%.4f)", costUSD, used.costUSD)
            }
            if Double(elapsed) / 1000 >= Double(wallTime.components.seconds) {
                return "the wall-time budget (\(wallTime.components.seconds) s) is spent"
            }
            return nil
        }
    }

    /// What a triage decision may say, and when to ask the cloud.
    ///
    /// ```yaml
    /// triage:
    ///   components: [billing, auth, api]   # the decision's component is one of these
    ///   labels: [bug, question, security]  # its labels, any of these
    ///   priorities: [P0, P1, P2, P3]       # the default
    ///   escalate_below: 0.5                # confidence under which…
    ///   escalate_to: cloud                 # …this profile decides from a redacted summary
    ///   duplicate_min_score: 0.85          # how close an earlier ticket must be to be offered
    ///   duplicate_candidates: 3            # as a possible duplicate, and how many
    /// ```
    public struct Triage: Sendable, Hashable {
        public var components: [String]
        public var labels: [String]
        public var priorities = ["P0", "P1", "P2", "P3"]
        public var escalateBelow = 0.5
        /// The profile asked about low-confidence tickets (with a redacted summary, when
        /// `privacy.declassify` is `redacted-summary`); `nil` never escalates.
        public var escalateTo: String?
        public var duplicateMinScore = 0.85
        public var duplicateCandidates = 3

        static let keys = [
            "components", "labels", "priorities", "escalate_below", "escalate_to", "duplicate_min_score",
            "duplicate_candidates",
        ]
    }

    static let topLevelKeys: Set<String> = [
        "name", "description", "planner", "model", "profiles", "tools", "mcp", "routing", "privacy", "budgets",
        "triage",
    ]

    /// The sections `--set` may change in the spec itself (profiles and tools are settings
    /// that the user's lie over anyway).
    static let overridableSections: Set<String> = [
        "planner", "model", "mcp", "routing", "privacy", "budgets", "triage",
    ]

    /// Reads and checks the spec at `path`, with the `--set KEY=VALUE` assignments among
    /// `overrides` that change its own sections (`budgets.steps=5`, `triage.escalate_below=0.8`).
    public static func load(path: String, overrides: [String] = []) throws(ConfigurationError) -> AgentSpec {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(file: path, message: "cannot read the agent spec: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, message: "the agent spec is not UTF-8 text")
        }
        return try AgentSpec(
            text: text, file: path, hash: data.withUnsafeBytes { SHA256.hex($0) }, overrides: overrides)
    }

    /// Reads a spec's text: its front matter checked section by section (each by its own
    /// type's reader, every problem at its file and line), `overrides` among them.
    public init(text: String, file: String, hash: String, overrides: [String] = []) throws(ConfigurationError) {
        // `\r\n` is one Character, and a newline: a spec saved with CRLF reads as any other.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "---" else {
            throw ConfigurationError(
                file: file, line: 1, message: "an agent spec starts with '---' and YAML front matter, then the prompt")
        }
        guard let end = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) else {
            throw ConfigurationError(file: file, line: 1, message: "the front matter has no closing '---'")
        }
        var settings = Settings()
        try settings.merge(yaml: lines[1..<end].joined(separator: "\n"), file: file, lineOffset: 1)
        for assignment in overrides
        where Self.overridableSections.contains(String(assignment.prefix { $0 != "." && $0 != "=" })) {
            try settings.set(assignment)
        }

        let reader = try SpecReader(settings: settings, file: file)
        name = reader.name
        description = try reader.string("description") ?? ""
        planner = try reader.string("planner")
        model = try reader.string("model") ?? "local"
        if let planner { try reader.requireProfile(planner, at: reader.origin(of: "planner")) }
        try reader.requireProfile(model, at: reader.origin(of: "model"))
        tools = try reader.tools()
        mcp = try MCPServerSpec.all(in: settings)
        routing = try Routing(reading: reader)
        privacy = try Privacy(reading: reader)
        budgets = try Budgets(reading: reader)
        triage = try Triage(reading: reader)

        systemPrompt = lines[(end + 1)...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        if systemPrompt.isEmpty {
            throw ConfigurationError(
                file: file, line: end + 2, message: "the system prompt (the Markdown after the front matter) is empty")
        }
        // The workspace's labels are settings like any other (`workspace.confidentiality`), read
        // in one place (``Settings/workspaceLabels()``): the spec's are the lowest layer, under
        // the user's configuration, and the workspace's own may only raise them.
        for key in ["confidentiality", "integrity"] {
            if let entry = settings["privacy.workspace.\(key)"] { settings.entries["workspace.\(key)"] = entry }
        }
        self.file = file
        self.hash = hash
        self.settings = settings
    }

    /// The agent specs in a directory (`agents/`), by name.
    public static func paths(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".md") && $0 != "README.md" }.sorted().map { "\(directory)/\($0)" }
    }
}

extension AgentSpec {
    /// The spec file `agent` names: a path (it ends in `.md` or has a `/`) as it is, or a name
    /// looked up as `agents/NAME.md` in the workspace, then in the current directory, then in
    /// `$SWITCHYARD_HOME/agents`.
    public static func locate(_ agent: String, workspace: String, environment: [String: String])
        throws(ConfigurationError) -> String
    {
        if agent.hasSuffix(".md") || agent.contains("/") { return agent }
        let candidates = [
            "\(workspace)/agents/\(agent).md", "agents/\(agent).md",
            try Settings.home(environment) + "/agents/\(agent).md",
        ]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ConfigurationError(
                at: agent, message: "no such agent; looked for \(candidates.joined(separator: ", "))")
        }
        return found
    }
}
