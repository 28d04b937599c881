import Foundation

/// What a run's header records: what made the run, where, and with what — read back by
/// replay, resume and fork (to make the run again), by audit (what each profile and tool was
/// cleared for) and by the views. Every field but the command is optional: a run recorded by
/// an older Switchyard, or by a command that has no such thing, lacks it.
public struct RunHeader: Codable, Sendable, Hashable {
    /// What recorded the run: the agent's name for `switchyard run`, or `chat`, `triage`,
    /// `triage-ticket`.
    public var command: String?
    /// The Switchyard version, and the C libraries' versions, that recorded it.
    public var switchyard: String?
    public var libraries: [String: String]?
    public var workspace: Workspace?

    // An agent's run.
    public var agent: Agent?
    /// Each profile as the run used it.
    public var profiles: [String: Profile]?
    /// The tools offered, and what each can read (`audit` labels what they returned by it).
    public var tools: [String]?
    public var toolLabels: [String: Labels]?
    /// What each MCP server offered when the run started: a replay offers the same tools
    /// without starting the servers.
    public var mcp: [String: MCPCatalogue]?
    /// The `--set` assignments it was made with.
    public var settingsOverrides: [String]?
    /// Whether the work tree was writable (`--apply`); nil in runs from before there was a choice.
    public var apply: Bool?
    /// The indexing that ran before it, for `vector_search`.
    public var index: JSONValue?
    /// The run it was forked from, and where.
    public var forkedFrom: Fork?

    // A chat.
    public var profile: ChatProfile?

    // A triage batch and its tickets.
    /// The batch a ticket's run belongs to.
    public var batch: RunID?
    /// The ticket, every field as read.
    public var ticket: [String: JSONValue]?
    /// A batch's tickets file, decisions file, and how many tickets it had and had left.
    public var file: String?
    public var out: String?
    public var tickets: Int?
    public var pending: Int?

    public init(command: String? = nil) { self.command = command }

    /// The commands that record runs other than an agent's.
    public static let chatCommand = "chat"
    public static let batchCommand = "triage"
    public static let ticketCommand = "triage-ticket"

    enum CodingKeys: String, CodingKey {
        case command, switchyard, libraries, workspace, agent, profiles, tools, mcp, apply, index, profile, batch
        case ticket
        case file, out, tickets, pending
        case toolLabels = "tool_labels"
        case settingsOverrides = "settings_overrides"
        case forkedFrom = "forked_from"
    }

    public struct Workspace: Codable, Sendable, Hashable {
        public var path: String
        /// The workspace's git state when the run started; nil when it is no repository.
        public var git: Git?

        public init(path: String, git: Git? = nil) {
            self.path = path
            self.git = git
        }

        public struct Git: Codable, Sendable, Hashable {
            public var head: String?
            public var branch: String?
            public var dirty: Bool?

            public init(head: String?, branch: String?, dirty: Bool?) {
                self.head = head
                self.branch = branch
                self.dirty = dirty
            }
        }
    }

    public struct Agent: Codable, Sendable, Hashable {
        public var name: String
        /// The spec file, and the hash of its text (a replay says when it changed since).
        public var file: String
        public var specSHA256: String
        public var planner: String?
        public var model: String

        public init(name: String, file: String, specSHA256: String, planner: String?, model: String) {
            (self.name, self.file, self.specSHA256, self.planner, self.model) = (name, file, specSHA256, planner, model)
        }

        enum CodingKeys: String, CodingKey {
            case name, file, planner, model
            case specSHA256 = "spec_sha256"
        }
    }

    public struct Profile: Codable, Sendable, Hashable {
        public var clearance: Confidentiality
        /// Where its requests went.
        public var destination: String
        public var price: ModelProfile.Price?
        public var contextWindow: ContextWindow?

        public init(
            clearance: Confidentiality, destination: String, price: ModelProfile.Price?, contextWindow: ContextWindow?
        ) {
            (self.clearance, self.destination, self.price, self.contextWindow) = (
                clearance, destination, price, contextWindow
            )
        }

        enum CodingKeys: String, CodingKey {
            case clearance, destination, price
            case contextWindow = "context_window"
        }
    }

    public struct ChatProfile: Codable, Sendable, Hashable {
        public var name: String
        public var provider: String
        public var model: String
        public var baseURL: String
        public var clearance: Confidentiality

        public init(name: String, provider: String, model: String, baseURL: String, clearance: Confidentiality) {
            (self.name, self.provider, self.model, self.baseURL, self.clearance) = (
                name, provider, model, baseURL, clearance
            )
        }

        enum CodingKeys: String, CodingKey {
            case name, provider, model, clearance
            case baseURL = "base_url"
        }
    }

    public struct Fork: Codable, Sendable, Hashable {
        public var run: RunID
        public var step: String

        public init(run: RunID, step: String) { (self.run, self.step) = (run, step) }
    }

    /// The header a run recorded, as the store gives it; an error names what does not read.
    public init(recorded json: JSONValue) throws {
        do {
            self = try json.decoded()
        } catch {
            throw TraceError("the run's header does not read: \(error)".oneLine)
        }
    }

    /// The header as the store records it.
    public var json: JSONValue {
        // Encoding plain values to JSON cannot fail.
        (try? JSONValue(encoding: self)) ?? [:]
    }
}

// How the header's values are written: as their recorded forms elsewhere in a trace.

extension RunID: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension Confidentiality: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let level = Confidentiality(name: name) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(name)' is not public, internal, private or secret")
        }
        self = level
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Labels: Codable {
    /// As ``init(recorded:)`` reads them: what cannot be read is taken at its most guarded.
    public init(from decoder: any Decoder) throws {
        self.init(recorded: try JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}
