/// Something an agent can call: a name and description the model reads, a JSON Schema
/// for its arguments, and the call itself.
///
/// Conformers live under `Tools/`; the core sees only this protocol. Call tools through
/// ``invoke(_:context:)``, which validates the arguments against ``parameters`` first,
/// so `call` may rely on the schema's types and required properties.
public protocol Tool: Sendable {
    /// The name the model calls the tool by, such as `search` or `git_log`.
    var name: String { get }
    var description: String { get }
    /// A JSON Schema (an object schema) of the arguments.
    var parameters: JSONValue { get }
    /// The labels of everything the tool can read. Its results carry them, and so do its
    /// errors, which may quote what it read: a failure is labelled like the output it did
    /// not produce, so a reader who may not see one cannot tell the two apart.
    var reads: Labels { get }

    func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput
}

extension Tool {
    /// Validates `arguments` against the schema, then calls the tool.
    public func invoke(_ arguments: JSONValue, context: ToolContext = ToolContext()) async throws(ToolError)
        -> ToolOutput
    {
        try ArgumentSchema.validate(arguments, against: parameters, tool: name)
        return try await call(ToolArguments(arguments), context: context)
    }

    /// The tool as a model sees it in a request.
    public var spec: ToolSpec { ToolSpec(name: name, description: description, parameters: parameters) }
}

/// What a tool returns.
public struct ToolOutput: Sendable, Hashable {
    /// What the model reads: capped, with a marker where something was left out.
    public var text: String
    /// The same result as structured data, for `--json` and for programs.
    public var data: JSONValue
    public var labels: Labels
    /// Whether `text` leaves something out.
    public var truncated: Bool

    public init(text: String, data: JSONValue, labels: Labels, truncated: Bool = false) {
        self.text = text
        self.data = data
        self.labels = labels
        self.truncated = truncated
    }

    public var json: JSONValue {
        .object([
            "text": .string(text), "data": data, "labels": labels.json, "truncated": .bool(truncated),
        ])
    }
}

/// What the caller of a tool provides besides the arguments.
public struct ToolContext: Sendable {
    /// Asked when a policy says `ask`; `nil` when nobody can answer, which refuses.
    public var approver: (any Approver)?
    /// Asked before anything leaves the machine (an HTTP request, each redirect too); `nil`
    /// lets the tool's own policy decide alone.
    public var egressGuard: (any EgressGuard)?
    /// The labels of what the arguments carry: what a tool that stores its input (such as
    /// `vector_upsert`) must store it with.
    public var inputLabels: Labels

    public init(
        approver: (any Approver)? = nil, egressGuard: (any EgressGuard)? = nil, inputLabels: Labels = .userInput
    ) {
        self.approver = approver
        self.egressGuard = egressGuard
        self.inputLabels = inputLabels
    }
}

/// Something about to leave the machine.
public struct Egress: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case http, model, shell
        /// A call of a tool an MCP server serves.
        case mcp
    }

    public var kind: Kind
    /// Where it goes: a URL, a provider's endpoint, a command line.
    public var destination: String
    /// What is sent along besides the destination (an HTTP request's header fields and body),
    /// for the guard to inspect and `audit` to check.
    public var payload: [UInt8]
    /// The tool or step sending it.
    public var source: String
    /// What the sender can read on its own and send besides the payload: a networked shell
    /// command can `cat` any file of its sandbox, an unsandboxed one any file of the host.
    public var reach: Reach
    /// How far the destination is trusted: the public internet is `.public`; an MCP server is
    /// cleared for what its agent spec says.
    public var clearance: Confidentiality

    public enum Reach: Sendable, Hashable {
        /// Only the payload.
        case payload
        /// The workspace (a sandboxed command with the network).
        case workspace
        /// The workspace and the host's files (a command outside any sandbox).
        case host
    }

    public init(
        kind: Kind, destination: String, payload: [UInt8] = [], source: String, reach: Reach = .payload,
        clearance: Confidentiality = .public
    ) {
        self.kind = kind
        self.destination = destination
        self.payload = payload
        self.source = source
        self.reach = reach
        self.clearance = clearance
    }
}

/// Decides whether an egress may go ahead. The planner loop's guard implements it with the
/// run's labels; tools call it at the last moment before anything is sent.
public protocol EgressGuard: Sendable {
    func check(_ egress: Egress) async -> EgressDecision
}

public enum EgressDecision: Sendable, Hashable {
    case allow
    case refuse(reason: String)
}

/// Someone who can approve an action a policy leaves open, such as a person at a terminal.
public protocol Approver: Sendable {
    /// Whether `action` (such as "run `make install` in the sandbox") may go ahead.
    func approve(tool: String, action: String) async -> Bool
}

/// A tool call that did not produce an output, in words the model can act on.
public struct ToolError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The arguments do not match the schema, or make no sense together.
        public static let invalidArguments = Code(rawValue: "invalid_arguments")
        /// A rule refused the call: confinement, a policy, a protected branch.
        public static let refused = Code(rawValue: "refused")
        public static let notFound = Code(rawValue: "not_found")
        /// Something the tool needs is missing from this machine.
        public static let unavailable = Code(rawValue: "unavailable")
        public static let timedOut = Code(rawValue: "timed_out")
        public static let failed = Code(rawValue: "failed")

        public var description: String { rawValue }
    }

    public var code: Code
    public var tool: String
    public var message: String
    /// The rule that refused the call, such as `symlink-escape`, when one did.
    public var rule: String?

    public init(_ code: Code, tool: String, _ message: String, rule: String? = nil) {
        self.code = code
        self.tool = tool
        self.message = message
        self.rule = rule
    }

    public var description: String {
        rule.map { "\(tool): \(message) [rule: \($0)]" } ?? "\(tool): \(message)"
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "code": .string(code.rawValue), "tool": .string(tool), "message": .string(message),
        ]
        if let rule { object["rule"] = .string(rule) }
        return .object(object)
    }
}

/// Validated arguments, read by name.
public struct ToolArguments: Sendable, Hashable {
    public var value: JSONValue

    public init(_ value: JSONValue) { self.value = value }

    public subscript(key: String) -> JSONValue? {
        guard let value = value[key], value != .null else { return nil }
        return value
    }

    public func string(_ key: String) -> String? { self[key]?.stringValue }
    public func int(_ key: String) -> Int? { self[key]?.intValue }
    public func bool(_ key: String) -> Bool? { self[key]?.boolValue }
    public func strings(_ key: String) -> [String]? { self[key]?.arrayValue?.compactMap(\.stringValue) }
}
