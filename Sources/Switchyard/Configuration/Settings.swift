import Foundation
import Yams

/// Settings as dotted keys (`profiles.local.model`), gathered from configuration files
/// and `--set KEY=VALUE`, each remembering where it came from.
public struct Settings: Sendable {
    public struct Entry: Sendable, Hashable {
        public var value: JSONValue
        /// `FILE:LINE` or `--set`.
        public var origin: String
    }

    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    /// The files read, lowest precedence first: `$SWITCHYARD_HOME/config.yaml`
    /// (`SWITCHYARD_HOME` defaults to `~/.switchyard`), then `switchyard.yaml` in the workspace.
    public static func files(workspace: String, environment: [String: String]) -> [String] {
        [home(environment) + "/config.yaml", workspace + "/switchyard.yaml"]
    }

    public static func home(_ environment: [String: String]) -> String {
        if let home = environment["SWITCHYARD_HOME"], !home.isEmpty { return home }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.switchyard"
    }

    /// Settings from the configuration files that exist, then `overrides` (`KEY=VALUE`).
    public static func load(
        workspace: String, environment: [String: String], overrides: [String] = []
    ) throws(ConfigurationError) -> Settings {
        var settings = Settings()
        for file in files(workspace: workspace, environment: environment)
        where FileManager.default.fileExists(atPath: file) {
            try settings.merge(file: file)
        }
        for override in overrides { try settings.set(override) }
        return settings
    }

    /// Reads a YAML file over the current settings.
    public mutating func merge(file: String) throws(ConfigurationError) {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: file, message: "cannot read the file: \(error.localizedDescription)")
        }
        try merge(yaml: text, file: file)
    }

    /// Reads YAML text over the current settings; `lineOffset` is added to line numbers
    /// (for YAML that starts further down a file, as an agent spec's front matter does).
    public mutating func merge(yaml: String, file: String, lineOffset: Int = 0) throws(ConfigurationError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigurationError(file: file, message: "not valid YAML: \(error)")
        }
        guard let node else { return }
        guard case .mapping = node else {
            throw ConfigurationError(
                file: file, line: node.mark.map { $0.line + lineOffset }, message: "expected a mapping of settings")
        }
        flatten(node, prefix: "", file: file, lineOffset: lineOffset)
    }

    private mutating func flatten(_ node: Node, prefix: String, file: String, lineOffset: Int) {
        let origin = "\(file):\((node.mark?.line ?? 0) + lineOffset)"
        switch node {
        case .mapping(let mapping):
            // An empty mapping (`search: {}`) still says the key is there.
            if mapping.count == 0, !prefix.isEmpty { entries[prefix] = Entry(value: .object([:]), origin: origin) }
            for (key, value) in mapping {
                let name = key.string ?? "\(key)"
                flatten(value, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", file: file, lineOffset: lineOffset)
            }
        case .sequence(let sequence):
            entries[prefix] = Entry(value: .array(sequence.map(Self.value)), origin: origin)
        case .scalar, .alias:
            entries[prefix] = Entry(value: Self.value(node), origin: origin)
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

    /// These settings with `other`'s laid over them (`other` wins).
    public func overlaid(by other: Settings) -> Settings {
        var result = self
        for (key, entry) in other.entries {
            result.entries = result.entries.filter { !$0.key.hasPrefix(key + ".") }
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
}
