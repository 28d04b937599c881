/// A tool's options as the agent spec or the settings give them (`tools.shell.network`),
/// read by name and type. ``finish()`` rejects keys nobody read, so a misspelt option is
/// an error instead of a silent default.
public struct ToolOptions: Sendable {
    private var values: [String: JSONValue]
    private var origins: [String: String]
    private var read: Set<String> = []
    /// Where the options come from, for errors: `tools.shell` in a file.
    public var location: String
    /// The file and line that names the tool, when it comes from an agent spec.
    public var origin: String?

    public init(_ values: [String: JSONValue] = [:], origins: [String: String] = [:], location: String) {
        self.values = values
        self.origins = origins
        self.location = location
    }

    /// The options under `tools.NAME` in the settings.
    public init(settings: Settings, tool: String) {
        let children = settings.children(of: "tools.\(tool)")
        var values: [String: JSONValue] = [:]
        var origins: [String: String] = [:]
        for (key, entry) in children {
            values[key] = entry.value
            origins[key] = entry.origin
        }
        self.init(values, origins: origins, location: "tools.\(tool)")
    }

    /// The options under `section` in the settings (`mcp.time`).
    public init(settings: Settings, section: String) {
        var values: [String: JSONValue] = [:]
        var origins: [String: String] = [:]
        for (key, entry) in settings.children(of: section) {
            values[key] = entry.value
            origins[key] = entry.origin
        }
        self.init(values, origins: origins, location: section)
        origin = origins["command"] ?? origins.values.sorted().first
    }

    /// A mapping of texts (`env: { TZ: UTC }`); numbers and flags are read as their text.
    public mutating func table(_ key: String) throws(ConfigurationError) -> [String: String] {
        if values[key] != nil {
            read.insert(key)
            throw error(key, "a mapping of names to texts")
        }
        var table: [String: String] = [:]
        for (name, value) in values where name.hasPrefix(key + ".") {
            read.insert(name)
            let field = String(name.dropFirst(key.count + 1))
            switch value {
            case .string(let text): table[field] = text
            case .number, .bool: table[field] = value.canonicalText
            default: throw error(name, "text")
            }
        }
        return table
    }

    /// Adds an option, with where it was written.
    public mutating func add(_ key: String, _ value: JSONValue, origin: String) {
        values[key] = value
        origins[key] = origin
    }

    private func error(_ key: String, _ expected: String) -> ConfigurationError {
        ConfigurationError(at: origins[key] ?? location, message: "\(location).\(key): expected \(expected)")
    }

    public mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        read.insert(key)
        guard let value = values[key], value != .null else { return nil }
        guard let text = value.stringValue else { throw error(key, "text") }
        return text
    }

    public mutating func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        read.insert(key)
        guard let value = values[key], value != .null else { return nil }
        guard let flag = value.boolValue else { throw error(key, "true or false") }
        return flag
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        read.insert(key)
        guard let value = values[key], value != .null else { return nil }
        guard let number = value.intValue, range.contains(number) else {
            throw error(key, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A list of texts; a single text counts as a list of one.
    public mutating func strings(_ key: String) throws(ConfigurationError) -> [String]? {
        read.insert(key)
        guard let value = values[key], value != .null else { return nil }
        if let text = value.stringValue { return [text] }
        guard let items = value.arrayValue else { throw error(key, "a list of texts") }
        var texts: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw error(key, "a list of texts") }
            texts.append(text)
        }
        return texts
    }

    /// Throws when an option was given that the tool does not have.
    public func finish() throws(ConfigurationError) {
        if let unknown = values.keys.sorted().first(where: { !read.contains($0) }) {
            let known = read.sorted().joined(separator: ", ")
            throw ConfigurationError(
                at: origins[unknown] ?? location, message: "\(location).\(unknown) is not an option (known: \(known))")
        }
    }
}
