import Foundation
import Yams

/// Settings as dotted keys (`profiles.local.model`), gathered from configuration files
/// and `--set KEY=VALUE`, each remembering where it came from.
public struct Settings: Sendable {
    public struct Entry: Sendable, Hashable {
        public var value: JSONValue
        /// `FILE:LINE` or `--set`.
        public var origin: String
        /// Whether it came from the workspace's own `switchyard.yaml`, which may only tighten.
        public var trust: Trust = .user
    }

    /// How far a setting is trusted: the user's own configuration and command line may say
    /// anything; a file inside the workspace (which may be the attacker's) may only tighten
    /// (``WorkspaceTrust``).
    public enum Trust: Sendable, Hashable {
        case user, workspace
    }

    public internal(set) var entries: [String: Entry] = [:]

    public init() {}

    /// The files read, lowest precedence first: `$SWITCHYARD_HOME/config.yaml`
    /// (`SWITCHYARD_HOME` defaults to `~/.switchyard`), the user's own, then `switchyard.yaml`
    /// in the workspace, which may only tighten.
    public static func files(workspace: String, environment: [String: String]) throws(ConfigurationError) -> [(
        path: String, trust: Trust
    )] {
        [(try home(environment) + "/config.yaml", .user), (workspace + "/switchyard.yaml", .workspace)]
    }

    /// `$SWITCHYARD_HOME`, or `.switchyard` in the user's home: `$HOME` when it is an absolute
    /// path, else the one the user database gives. An empty or relative `HOME` would put the
    /// stores somewhere nobody looks (`/.switchyard`, or under whatever directory a command
    /// was started in).
    public static func home(_ environment: [String: String]) throws(ConfigurationError) -> String {
        if let home = environment["SWITCHYARD_HOME"], !home.isEmpty { return home }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.switchyard" }
        if let directory = getpwuid(getuid())?.pointee.pw_dir.map({ String(cString: $0) }), directory.hasPrefix("/") {
            return directory + "/.switchyard"
        }
        throw ConfigurationError(
            at: "HOME",
            message:
                "'\(environment["HOME"] ?? "")' is not an absolute path and the user database names no home directory; set HOME or SWITCHYARD_HOME"
        )
    }

    /// Settings from the configuration files that exist, then `overrides` (`KEY=VALUE`).
    public static func load(
        workspace: String, environment: [String: String], overrides: [String] = []
    ) throws(ConfigurationError) -> Settings {
        var settings = Settings()
        for (file, trust) in try files(workspace: workspace, environment: environment)
        where FileManager.default.fileExists(atPath: file) {
            var read = Settings()
            try read.merge(file: file, trust: trust)
            // A profile the workspace tightens may be the spec's: that is checked when the
            // spec's settings are overlaid.
            settings = try settings.overlaid(by: read, specToCome: true)
        }
        for override in overrides { try settings.set(override) }
        return settings
    }

    /// Reads a YAML file over the current settings.
    public mutating func merge(file: String, trust: Trust = .user) throws(ConfigurationError) {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: file, message: "cannot read the file: \(error.localizedDescription)")
        }
        try merge(yaml: text, file: file, trust: trust)
    }

    /// Reads YAML text over the current settings; `lineOffset` is added to line numbers
    /// (for YAML that starts further down a file, as an agent spec's front matter does).
    public mutating func merge(yaml: String, file: String, lineOffset: Int = 0, trust: Trust = .user)
        throws(ConfigurationError)
    {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigurationError(yaml: error, file: file, lineOffset: lineOffset)
        }
        guard let node else { return }
        guard case .mapping = node else {
            throw ConfigurationError(
                file: file, line: node.mark.map { $0.line + lineOffset }, message: "expected a mapping of settings")
        }
        flatten(node, prefix: "", file: file, lineOffset: lineOffset, trust: trust)
    }

    private mutating func flatten(_ node: Node, prefix: String, file: String, lineOffset: Int, trust: Trust) {
        let origin = "\(file):\((node.mark?.line ?? 0) + lineOffset)"
        switch node {
        case .mapping(let mapping):
            // An empty mapping (`search: {}`) still says the key is there.
            if mapping.count == 0, !prefix.isEmpty {
                entries[prefix] = Entry(value: .object([:]), origin: origin, trust: trust)
            }
            for (key, value) in mapping {
                let name = key.string ?? "\(key)"
                flatten(
                    value, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", file: file, lineOffset: lineOffset,
                    trust: trust)
            }
        case .sequence(let sequence):
            entries[prefix] = Entry(value: .array(sequence.map(Self.value)), origin: origin, trust: trust)
        case .scalar, .alias:
            entries[prefix] = Entry(value: Self.value(node), origin: origin, trust: trust)
        }
    }

    private static func value(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if scalar.string == "null" || scalar.string == "~" || scalar.string.isEmpty { return .null }
                if let bool = Bool.construct(from: scalar) { return .bool(bool) }
                if let int = Int.construct(from: scalar) { return .number(Double(int)) }
                if let double = Double.construct(from: scalar) { return .number(double) }
            }
            return .string(scalar.string)
        case .sequence(let sequence): return .array(sequence.map(value))
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, item) in mapping { object[key.string ?? "\(key)"] = value(item) }
            return .object(object)
        case .alias: return .null
        }
    }

    /// Applies one `KEY=VALUE`; the value is read as a YAML scalar (`8192`, `true`, `text`).
    public mutating func set(_ assignment: String) throws(ConfigurationError) {
        guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
            throw ConfigurationError(file: "--set", message: "expected KEY=VALUE, got '\(assignment)'")
        }
        let key = String(assignment[..<equals]).trimming(" ")
        let text = String(assignment[assignment.index(after: equals)...])
        let value: JSONValue
        if let node = try? Yams.compose(yaml: text), case .scalar = node {
            value = Self.value(node)
        } else {
            value = .string(text)
        }
        // A more specific setting replaces what it refines.
        entries = entries.filter { !$0.key.hasPrefix(key + ".") }
        entries[key] = Entry(value: value, origin: "--set \(key)")
    }

    public subscript(key: String) -> Entry? { entries[key] }

    /// These settings with `other`'s laid over them (`other` wins). `other`'s entries from the
    /// workspace come last and may only tighten what the rest says: one that would loosen is
    /// an error naming its file, line and rule. With `specToCome`, a setting of a profile not
    /// defined yet is left for the spec's overlay to check.
    public func overlaid(by other: Settings, specToCome: Bool = false) throws(ConfigurationError) -> Settings {
        var result = self
        for (key, entry) in other.entries where entry.trust == .user {
            result.entries = result.entries.filter { !$0.key.hasPrefix(key + ".") }
            result.entries[key] = entry
        }
        for (key, entry) in other.entries.sorted(by: { $0.key < $1.key }) where entry.trust == .workspace {
            // A workspace entry never removes what refines it (`tools.shell: {}` over a policy).
            if result.entries.keys.contains(where: { $0.hasPrefix(key + ".") }) { continue }
            let undefinedProfile =
                key.hasPrefix("profiles.") && result["profiles.\(key.split(separator: ".")[1]).provider"] == nil
            if !(specToCome && undefinedProfile), let rule = WorkspaceTrust.loosening(key, entry.value, over: result) {
                throw WorkspaceTrust.refusal(key, rule, at: entry.origin)
            }
            result.entries[key] = entry
        }
        return result
    }

    /// The settings under `prefix.`, keyed by the rest of their path.
    public func children(of prefix: String) -> [String: Entry] {
        var result: [String: Entry] = [:]
        for (key, entry) in entries where key.hasPrefix(prefix + ".") {
            result[String(key.dropFirst(prefix.count + 1))] = entry
        }
        return result
    }
}

/// A configuration problem, with where it is.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `FILE`, `FILE:LINE` or `--set KEY`.
    public var location: String
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.location = line.map { "\(file):\($0)" } ?? file
        self.message = message
    }

    public init(at location: String, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }

    /// A YAML parser's error as one line, at the line of the file it is on (`lineOffset`
    /// lines above the YAML's first).
    init(yaml error: any Error, file: String, lineOffset: Int) {
        guard let error = error as? YamlError else {
            self.init(file: file, message: "not valid YAML: \(error)".oneLine)
            return
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            // libyaml's context says what it was reading, and where that began.
            let detail = context.map { "\(problem), \($0.text) from line \($0.mark.line + lineOffset)" } ?? problem
            self.init(file: file, line: mark.line + lineOffset, message: "not valid YAML: \(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(
                file: file, line: context.mark.line + lineOffset,
                message: "a mapping repeats \(duplicates.joined(separator: ", "))")
        case .reader(let problem, _, _, _):
            self.init(file: file, message: "not valid YAML: \(problem)")
        default:
            self.init(file: file, message: "not valid YAML: \(error)".oneLine)
        }
    }
}

extension StringProtocol {
    /// The text on one line: line breaks and the spaces around them become one space.
    public var oneLine: String {
        split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

extension Settings {
    /// The labels of the workspace's files: `workspace.confidentiality` (default private) and
    /// `workspace.integrity` (default trusted) — the spec's `privacy.workspace`, the user's
    /// configuration and `--set` over it, and the workspace's own `switchyard.yaml`, which may
    /// only raise them. Tools, the index and the guard all label the workspace by this.
    public func workspaceLabels() throws(ConfigurationError) -> Labels {
        var labels = Labels(.private, .trusted)
        if let entry = self["workspace.confidentiality"] {
            guard let level = entry.value.stringValue.flatMap(Confidentiality.init(name:)) else {
                throw ConfigurationError(
                    at: entry.origin, message: "workspace.confidentiality: expected public, internal, private or secret"
                )
            }
            labels.confidentiality = level
        }
        if let entry = self["workspace.integrity"] {
            guard let level = entry.value.stringValue.flatMap(Integrity.init(name:)) else {
                throw ConfigurationError(
                    at: entry.origin, message: "workspace.integrity: expected trusted or untrusted")
            }
            labels.integrity = level
        }
        return labels
    }
}
