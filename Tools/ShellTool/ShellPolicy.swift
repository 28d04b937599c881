import Foundation
public import Switchyard

/// What the agent spec allows the `shell` tool to do.
public struct ShellPolicy: Sendable, Hashable {
    public enum Decision: String, Sendable, Hashable {
        case allow, deny, ask
    }

    public enum Sandbox: String, Sendable, Hashable {
        /// Every command runs inside bubblewrap.
        case bubblewrap
        /// Commands run directly: only when the spec says `sandbox: none`.
        case none
    }

    /// Glob patterns (`swift test*`) a command must match, every part of it, to run
    /// without asking.
    public var allow: [String] = []
    /// Glob patterns that refuse a command when any part of it (or the whole) matches.
    /// They win over `allow`.
    public var deny: [String] = []
    /// What happens to a command no pattern allows.
    public var otherwise: Decision = .ask
    /// Whether commands may use the network (the sandbox shares the host's network).
    public var network = false
    /// Whether the workspace is mounted writable (when the run may change the work tree).
    public var writableWorkspace = true
    /// Directories in the workspace that stay writable when the work tree is read-only (a
    /// run without `--apply`): where builds and tests put what they make, such as `.build`.
    public var writablePaths: [String] = []
    public var sandbox: Sandbox = .bubblewrap
    /// The longest a command may run, and the default when the call does not say.
    public var timeout: Duration = .seconds(120)
    /// Environment variables passed in besides the defaults (`PATH`, `LANG`, `LC_*`,
    /// `TERM`, `TZ`). Names that look like credentials are never passed.
    public var environment: [String] = []
    public var outputLimit = OutputLimit(bytes: 32 * 1024, lines: 1000)

    public init() {}

    /// Reads `allow`, `deny`, `otherwise`, `network`, `workspace` (`read-write` or
    /// `read-only`), `writable` (directories), `sandbox` (`bubblewrap` or `none`), `timeout`
    /// (seconds) and `environment`.
    public init(options: ToolOptions) throws(ConfigurationError) {
        var options = options
        allow = try options.strings("allow") ?? []
        deny = try options.strings("deny") ?? []
        if let text = try options.string("otherwise") {
            guard let decision = Decision(rawValue: text) else {
                throw ConfigurationError(
                    at: options.location, message: "otherwise: expected allow, deny or ask, got '\(text)'")
            }
            otherwise = decision
        }
        network = try options.bool("network") ?? false
        switch try options.string("workspace") ?? "read-write" {
        case "read-write": writableWorkspace = true
        case "read-only": writableWorkspace = false
        case let other:
            throw ConfigurationError(
                at: options.location, message: "workspace: expected read-write or read-only, got '\(other)'")
        }
        writablePaths = try options.strings("writable") ?? []
        if let path = writablePaths.first(where: { $0.hasPrefix("/") || $0.split(separator: "/").contains("..") }) {
            throw ConfigurationError(
                at: options.location, message: "writable: '\(path)' is not a directory inside the workspace")
        }
        if let text = try options.string("sandbox") {
            guard let sandbox = Sandbox(rawValue: text) else {
                throw ConfigurationError(
                    at: options.location, message: "sandbox: expected bubblewrap or none, got '\(text)'")
            }
            self.sandbox = sandbox
        }
        if let seconds = try options.int("timeout", in: 1...86_400) { timeout = .seconds(seconds) }
        environment = try options.strings("environment") ?? []
        if let secret = environment.first(where: Self.looksLikeCredential) {
            throw ConfigurationError(
                at: options.location,
                message: "environment: \(secret) looks like a credential and is never passed to the shell")
        }
        try options.finish()
    }

    static func looksLikeCredential(_ name: String) -> Bool {
        let upper = name.uppercased()
        return ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "COOKIE", "SESSION"]
            .contains { upper.contains($0) }
    }

    /// The decision for a command, and the reason.
    public func decide(_ command: String) -> (Decision, String) {
        let parts = Self.split(command)
        for pattern in deny {
            if Self.matches(pattern, command) || parts.contains(where: { Self.matches(pattern, $0) }) {
                return (.deny, "matches the deny pattern '\(pattern)'")
            }
        }
        if !parts.isEmpty, parts.allSatisfy({ part in allow.contains { Self.matches($0, part) } }) {
            return (.allow, "every part matches an allow pattern")
        }
        let unmatched = parts.first { part in !allow.contains { Self.matches($0, part) } } ?? command
        switch otherwise {
        case .allow: return (.allow, "the policy allows commands no pattern names")
        case .deny: return (.deny, "'\(unmatched)' matches no allow pattern")
        case .ask: return (.ask, "'\(unmatched)' matches no allow pattern")
        }
    }

    /// The simple commands in a command line: split at `;`, `&&`, `||`, `|`, `&`, newlines,
    /// `$(`, backticks and parentheses. Quotes are not understood, which can only split more
    /// finely, so a pattern never allows more than it names.
    static func split(_ command: String) -> [String] {
        var parts: [String] = []
        var current = ""
        for character in command {
            if ";|&\n`()".contains(character) {
                if character == "(", current.hasSuffix("$") { current.removeLast() }  // `$(`
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func matches(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text.trimmingCharacters(in: .whitespaces), 0) == 0
    }
}
