/// An MCP server an agent spec declares (`mcp.NAME`): how to start it, which of its tools the
/// agent gets, and how far it is trusted.
///
/// ```yaml
/// mcp:
///   time:
///     command: [uvx, mcp-server-time]    # started in the workspace, on stdio
///     env: { TZ: UTC }                   # its whole environment, with PATH, HOME and LANG
///     tools: [get_current_time]          # only these (default: all it lists)
///     clearance: public                  # what may be sent to it (default public)
///     returns: { confidentiality: public, integrity: untrusted }
///     timeout_seconds: 30                # each call (default 30)
///     start_timeout_seconds: 60          # starting it: spawn and handshake (default 60)
/// ```
///
/// A server is a destination like any host: what an agent sends it is checked by the guard
/// against `clearance`, and what it returns carries `returns` (by default untrusted, and as
/// confidential as the workspace, since a server may read anything the user can).
public struct MCPServerSpec: Sendable, Hashable {
    public var name: String
    /// The program and its arguments.
    public var command: [String]
    /// Variables given to the server besides `PATH`, `HOME` and `LANG` (it gets nothing else
    /// of Switchyard's environment: no API keys).
    public var environment: [String: String]
    /// The tools the agent gets, by the server's names; nil for all of them.
    public var allow: [String]?
    public var clearance: Confidentiality
    /// What the server's results are labelled; a nil confidentiality is the workspace's.
    public var returnsConfidentiality: Confidentiality?
    public var returnsIntegrity: Integrity
    /// How long a call may take before the server is stopped.
    public var timeout: Duration
    /// How long the server may take to start and answer the handshake (a `uvx` or `npx`
    /// command may first download it).
    public var startTimeout: Duration
    /// Where the server is declared, for errors.
    public var origin: String

    public init(
        name: String, command: [String], environment: [String: String] = [:], allow: [String]? = nil,
        clearance: Confidentiality = .public, returnsConfidentiality: Confidentiality? = nil,
        returnsIntegrity: Integrity = .untrusted, timeout: Duration = .seconds(30),
        startTimeout: Duration = .seconds(60), origin: String = "mcp"
    ) {
        self.name = name
        self.command = command
        self.environment = environment
        self.allow = allow
        self.clearance = clearance
        self.returnsConfidentiality = returnsConfidentiality
        self.returnsIntegrity = returnsIntegrity
        self.timeout = timeout
        self.startTimeout = startTimeout
        self.origin = origin
    }

    /// What the server's results carry in a workspace labelled `workspace`.
    public func returns(in workspace: Labels) -> Labels {
        Labels(returnsConfidentiality ?? workspace.confidentiality, returnsIntegrity)
    }

    /// Reads `mcp.NAME` from a spec's settings.
    init(name: String, settings: Settings) throws(ConfigurationError) {
        var options = ToolOptions(settings: settings, section: "mcp.\(name)")
        guard MCPTool.isServerName(name) else {
            throw ConfigurationError(
                at: options.origin ?? "mcp",
                message: "mcp.\(name): a server's name is letters, digits, '-' and '_' (not '__')")
        }
        guard let command = try options.strings("command"), !command.isEmpty, !command[0].isEmpty else {
            throw ConfigurationError(
                at: options.origin ?? "mcp", message: "mcp.\(name).command: expected the program and its arguments")
        }
        func level<Level>(_ key: String, _ parse: (String) -> Level?, expected: String) throws(ConfigurationError)
            -> Level?
        {
            guard let text = try options.string(key) else { return nil }
            guard let level = parse(text) else {
                throw ConfigurationError(
                    at: options.origin ?? "mcp", message: "mcp.\(name).\(key): expected \(expected)")
            }
            return level
        }
        let confidentialities = "public, internal, private or secret"
        let clearance = try level("clearance", Confidentiality.init(name:), expected: confidentialities)
        let returned = try level("returns.confidentiality", Confidentiality.init(name:), expected: confidentialities)
        let integrity = try level("returns.integrity", Integrity.init(name:), expected: "trusted or untrusted")
        self.init(
            name: name, command: command, environment: try options.table("env"), allow: try options.strings("tools"),
            clearance: clearance ?? .public, returnsConfidentiality: returned,
            returnsIntegrity: integrity ?? .untrusted,
            timeout: .seconds(try options.int("timeout_seconds", in: 1...3600) ?? 30),
            startTimeout: .seconds(try options.int("start_timeout_seconds", in: 1...3600) ?? 60),
            origin: options.origin ?? "mcp.\(name)")
        try options.finish()
    }

    /// The servers under `mcp` in a spec's settings, by name.
    static func all(in settings: Settings) throws(ConfigurationError) -> [MCPServerSpec] {
        let names = Set(settings.children(of: "mcp").keys.map { String($0.prefix { $0 != "." }) })
        var servers: [MCPServerSpec] = []
        for name in names.sorted() { servers.append(try MCPServerSpec(name: name, settings: settings)) }
        return servers
    }
}

/// What a server offers: its tools as it lists them. A run records it, so that a replay offers
/// the model the same tools without starting the server.
public struct MCPCatalogue: Codable, Sendable, Hashable {
    public struct Entry: Codable, Sendable, Hashable {
        /// The server's name for the tool.
        public var name: String
        public var description: String
        /// The JSON Schema of its arguments.
        public var inputSchema: JSONValue

        public init(name: String, description: String, inputSchema: JSONValue) {
            self.name = name
            self.description = description
            self.inputSchema = inputSchema
        }

        enum CodingKeys: String, CodingKey {
            case name, description
            case inputSchema = "input_schema"
        }
    }

    /// The server's name and version, as it says them.
    public var server: String
    public var tools: [Entry]

    public init(server: String, tools: [Entry]) {
        self.server = server
        self.tools = tools
    }
}

/// What a tool call on an MCP server returned.
public struct MCPCallResult: Sendable, Hashable {
    /// Its content as text (what is not text is named, not included).
    public var text: String
    /// Whether the server said the call failed.
    public var isError: Bool

    public init(text: String, isError: Bool) {
        self.text = text
        self.isError = isError
    }
}

/// A running MCP server, or one started when first asked. Conformers bound every answer in
/// size and time, and stop a server that exceeds them.
public protocol MCPConnection: Sendable {
    /// What the server offers.
    func catalogue() async throws -> MCPCatalogue
    /// Calls the server's tool `tool`.
    func call(_ tool: String, arguments: JSONValue) async throws -> MCPCallResult
}

/// One tool of an MCP server, as an agent sees it: named `mcp__SERVER__TOOL`, with the
/// server's schema, each call an egress to the server that the guard decides.
public struct MCPTool: Tool {
    public let name: String
    public let description: String
    public let parameters: JSONValue
    public let reads: Labels
    /// The server's name for the tool.
    public let remoteName: String
    public let server: MCPServerSpec
    let connection: any MCPConnection
    let limit = OutputLimit()

    /// The longest description a model is shown: a server's own words go into every request.
    static let descriptionLimit = 2000

    /// The tools `catalogue` lists that `server` allows, with results labelled as the server's
    /// in `workspace`. A listed tool the allowlist names is required; a name that does not fit a
    /// model's function names, or two that come to the same one, are errors.
    public static func tools(
        of server: MCPServerSpec, catalogue: MCPCatalogue, workspace: Labels, connection: any MCPConnection
    ) throws(ConfigurationError) -> [MCPTool] {
        let listed = Dictionary(catalogue.tools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        if let allow = server.allow, let missing = allow.first(where: { listed[$0] == nil }) {
            throw ConfigurationError(
                at: server.origin,
                message:
                    "mcp.\(server.name).tools names '\(missing)', which the server does not list (it lists \(catalogue.tools.map(\.name).sorted().joined(separator: ", ")))"
            )
        }
        var tools: [MCPTool] = []
        var names: Set<String> = []
        for entry in catalogue.tools where server.allow?.contains(entry.name) ?? true {
            let name = "mcp__\(server.name)__\(entry.name)"
            guard name.utf8.count <= 64, entry.name.utf8.allSatisfy(isFunctionNameByte) else {
                throw ConfigurationError(
                    at: server.origin,
                    message:
                        "mcp.\(server.name): its tool '\(entry.name.prefix(80))' cannot be offered to a model as \(name.prefix(80)) (a function name is at most 64 of A-Z a-z 0-9 _ -); leave it out with mcp.\(server.name).tools"
                )
            }
            guard names.insert(name).inserted else { continue }
            var schema = entry.inputSchema
            if schema["type"] == nil { schema = .object(["type": "object", "properties": .object([:])]) }
            tools.append(
                MCPTool(
                    name: name, description: shown(entry.description), parameters: schema,
                    reads: server.returns(in: workspace), remoteName: entry.name, server: server,
                    connection: connection))
        }
        return tools
    }

    /// A server's description as a model (or a terminal) is shown it: capped, without control
    /// characters but line breaks (no terminal escapes).
    static func shown(_ description: String) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(
            contentsOf: description.prefix(descriptionLimit).unicodeScalars.filter {
                $0 == "\n" || $0.properties.generalCategory != .control
            })
        return String(scalars)
    }

    /// Letters, digits, `-` and `_`, without `__` (which separates the parts of a tool's name).
    static func isServerName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("__") && name.utf8.allSatisfy(isFunctionNameByte)
    }

    private static func isFunctionNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let sent = arguments.value.canonicalText
        if let egressGuard = context.egressGuard {
            let egress = Egress(
                kind: .mcp, destination: "mcp:\(server.name)/\(remoteName)", payload: Array(sent.utf8), source: name,
                clearance: server.clearance)
            if case .refuse(let reason) = await egressGuard.check(egress) {
                throw ToolError(
                    .refused, tool: name, "the guard refused a call to MCP server \(server.name): \(reason)",
                    rule: "guard")
            }
        }
        let result: MCPCallResult
        do {
            result = try await connection.call(remoteName, arguments: arguments.value)
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError(.failed, tool: name, "MCP server \(server.name): \(error)")
        }
        if result.isError {
            throw ToolError(.failed, tool: name, String(limit.prefix(of: result.text)))
        }
        let (text, truncated) = limit.apply(to: result.text, hint: "the server's result was longer")
        return ToolOutput(
            text: text, data: ["server": .string(server.name), "tool": .string(remoteName), "text": .string(text)],
            labels: reads, truncated: truncated)
    }
}
