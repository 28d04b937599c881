import Foundation

/// Reads an agent spec's front matter: what every section's reader needs (the settings, the
/// file, the profiles the spec defines) and the checks they share. Each section of the spec
/// is read by its own type (`Routing(reading:)`, `Privacy(reading:)`, …), so a problem is
/// reported at its file and line by the code that knows the section.
struct SpecReader {
    let settings: Settings
    let file: String
    /// The spec's `name`, which is its file's.
    let name: String
    /// The profiles the spec defines.
    let profiles: Set<String>

    /// Checks the top-level keys, the name and the profiles (every key of each checked by the
    /// profile parser itself, without the environment).
    init(settings: Settings, file: String) throws(ConfigurationError) {
        self.settings = settings
        self.file = file
        for (key, entry) in settings.entries {
            let top = String(key.prefix { $0 != "." })
            guard AgentSpec.topLevelKeys.contains(top) else {
                throw ConfigurationError(
                    at: entry.origin,
                    message:
                        "unknown key '\(top)'; an agent spec has \(AgentSpec.topLevelKeys.sorted().joined(separator: ", "))"
                )
            }
        }
        guard let name = try Self.string("name", in: settings) else {
            throw ConfigurationError(file: file, line: 2, message: "name is missing")
        }
        let expected = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        guard name == expected else {
            throw ConfigurationError(
                at: settings["name"]!.origin, message: "name '\(name)' does not match the file name '\(expected).md'")
        }
        self.name = name
        profiles = Set(try ModelProfile.all(from: settings, environment: [:]).keys)
    }

    subscript(key: String) -> Settings.Entry? { settings[key] }

    /// Where `key` was set, or the top of the front matter for a key left to its default.
    func origin(of key: String) -> String { settings[key]?.origin ?? "\(file):2" }

    /// The text at `key`, if it is set; set to anything but text, an error.
    func string(_ key: String) throws(ConfigurationError) -> String? { try Self.string(key, in: settings) }

    private static func string(_ key: String, in settings: Settings) throws(ConfigurationError) -> String? {
        guard let entry = settings[key] else { return nil }
        guard let value = entry.value.stringValue, !value.isEmpty else {
            throw ConfigurationError(at: entry.origin, message: "\(key): expected text")
        }
        return value
    }

    /// Refuses a profile the spec does not define.
    func requireProfile(_ profile: String, at origin: String) throws(ConfigurationError) {
        guard profiles.contains(profile) else {
            throw ConfigurationError(
                at: origin,
                message: "no profile '\(profile)' in this spec (profiles: \(profiles.sorted().joined(separator: ", ")))"
            )
        }
    }

    /// The section's keys other than `known`, each an error naming what the section has.
    func refuseUnknown(in section: String, known: [String]) throws(ConfigurationError) {
        for (key, entry) in settings.children(of: section) where !known.contains(where: { $0 == key }) {
            throw ConfigurationError(
                at: entry.origin,
                message: "unknown key \(section).\(key); \(section) has \(known.joined(separator: ", "))")
        }
    }

    /// The tools the spec offers, each with its options (checked later by the tool itself).
    func tools() throws(ConfigurationError) -> [String: ToolOptions] {
        var tools: [String: ToolOptions] = [:]
        for (key, entry) in settings.children(of: "tools") {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            var options = tools[parts[0]] ?? ToolOptions([:], location: "tools.\(parts[0])")
            options.origin = options.origin ?? entry.origin
            if parts.count == 2 {
                options.add(parts[1], entry.value, origin: entry.origin)
            } else if entry.value != .null, entry.value != .object([:]) {
                throw ConfigurationError(
                    at: entry.origin, message: "tools.\(key): expected a mapping of options ({} for none)")
            }
            tools[parts[0]] = options
        }
        return tools
    }
}

extension AgentSpec.Routing {
    init(reading spec: SpecReader) throws(ConfigurationError) {
        self.init()
        if let rules = spec["routing.rules"] {
            guard let items = rules.value.arrayValue else {
                throw ConfigurationError(at: rules.origin, message: "routing.rules: expected a list of rules")
            }
            for item in items { self.rules.append(try Rule(item, at: rules.origin, of: spec)) }
        }
        if let fallback = spec["routing.fallback"] {
            let names = fallback.value.arrayValue?.compactMap(\.stringValue) ?? fallback.value.stringValue.map { [$0] }
            guard let names else {
                throw ConfigurationError(at: fallback.origin, message: "routing.fallback: expected a list of profiles")
            }
            for name in names { try spec.requireProfile(name, at: fallback.origin) }
            self.fallback = names
        }
        try spec.refuseUnknown(in: "routing", known: ["rules", "fallback"])
    }
}

extension AgentSpec.Routing.Rule {
    static let keys = ["max_cost_usd", "min_context_tokens", "needs_tools", "role", "use"]

    init(_ item: JSONValue, at origin: String, of spec: SpecReader) throws(ConfigurationError) {
        guard let rule = item.objectValue else {
            throw ConfigurationError(at: origin, message: "routing.rules: each rule is a mapping")
        }
        if let unknown = rule.keys.sorted().first(where: { !Self.keys.contains($0) }) {
            throw ConfigurationError(
                at: origin,
                message: "routing.rules: unknown key '\(unknown)'; a rule has \(Self.keys.joined(separator: ", "))")
        }
        guard let use = rule["use"]?.stringValue else {
            throw ConfigurationError(at: origin, message: "routing.rules: every rule needs 'use: PROFILE'")
        }
        try spec.requireProfile(use, at: origin)
        self.init(
            role: rule["role"]?.stringValue, minimumContextTokens: rule["min_context_tokens"]?.intValue,
            needsTools: rule["needs_tools"]?.boolValue, use: use, origin: origin)
        if let limit = rule["max_cost_usd"] {
            guard let number = limit.doubleValue, number >= 0 else {
                throw ConfigurationError(at: origin, message: "routing.rules: max_cost_usd must be a number of dollars")
            }
            maximumCostUSD = number
        }
    }
}

extension AgentSpec.Privacy {
    static let keys = [
        "workspace.confidentiality", "workspace.integrity", "declassify", "allow_exfiltration", "planner_metadata",
    ]

    /// The privacy section. Its workspace labels are checked here and read, with the rest of
    /// the settings, by ``Settings/workspaceLabels()``.
    init(reading spec: SpecReader) throws(ConfigurationError) {
        self.init()
        for (key, entry) in spec.settings.children(of: "privacy") {
            switch key {
            case "workspace.confidentiality":
                guard entry.value.stringValue.flatMap(Confidentiality.init(name:)) != nil else {
                    throw ConfigurationError(at: entry.origin, message: "expected public, internal, private or secret")
                }
            case "workspace.integrity":
                guard entry.value.stringValue.flatMap(Integrity.init(name:)) != nil else {
                    throw ConfigurationError(at: entry.origin, message: "expected trusted or untrusted")
                }
            case "declassify":
                guard let policy = entry.value.stringValue.flatMap(Declassify.init(rawValue:)) else {
                    throw ConfigurationError(
                        at: entry.origin, message: "declassify: expected never, redacted-summary or allow")
                }
                declassify = policy
            case "allow_exfiltration":
                guard let flag = entry.value.boolValue else {
                    throw ConfigurationError(at: entry.origin, message: "allow_exfiltration: expected true or false")
                }
                allowExfiltration = flag
            case "planner_metadata":
                guard let policy = entry.value.stringValue.flatMap(PlannerMetadata.init(rawValue:)) else {
                    throw ConfigurationError(at: entry.origin, message: "planner_metadata: expected none or coarse")
                }
                plannerMetadata = policy
            default:
                throw ConfigurationError(
                    at: entry.origin,
                    message: "unknown key privacy.\(key); privacy has \(Self.keys.joined(separator: ", "))")
            }
        }
    }
}

extension AgentSpec.Budgets {
    init(reading spec: SpecReader) throws(ConfigurationError) {
        self.init()
        for (key, entry) in spec.settings.children(of: "budgets") {
            // Bounded, so a budget is never a number too large to count with (`1e30`, `.inf`).
            func positive(atMost limit: Double) throws(ConfigurationError) -> Double {
                guard let number = entry.value.doubleValue, number > 0, number <= limit else {
                    throw ConfigurationError(
                        at: entry.origin,
                        message:
                            "budgets.\(key): expected a positive number up to \(JSONValue.number(limit).canonicalText)")
                }
                return number
            }
            switch key {
            case "steps": steps = Int(try positive(atMost: 1_000_000))
            case "tokens": tokens = Int(try positive(atMost: 1_000_000_000_000))
            case "cost_usd": costUSD = try positive(atMost: 1_000_000)
            case "wall_seconds": wallTime = .seconds(try positive(atMost: 31_536_000))
            default:
                throw ConfigurationError(
                    at: entry.origin,
                    message: "unknown key budgets.\(key); budgets has steps, tokens, cost_usd, wall_seconds")
            }
        }
    }
}

extension AgentSpec.Triage {
    /// The triage section, or `nil` for a spec without one (an agent that is not for triage).
    init?(reading spec: SpecReader) throws(ConfigurationError) {
        let entries = spec.settings.children(of: "triage")
        if entries.isEmpty { return nil }
        func names(_ key: String, required: Bool) throws(ConfigurationError) -> [String]? {
            guard let entry = spec["triage.\(key)"] else {
                if required {
                    throw ConfigurationError(
                        at: entries.values.map(\.origin).min() ?? spec.file,
                        message: "triage.\(key) is missing: a list of names")
                }
                return nil
            }
            guard let items = entry.value.arrayValue?.compactMap(\.stringValue), !items.isEmpty,
                items.count == entry.value.arrayValue?.count, Set(items).count == items.count
            else {
                throw ConfigurationError(at: entry.origin, message: "triage.\(key): expected a list of distinct names")
            }
            return items
        }
        self.init(components: try names("components", required: true)!, labels: try names("labels", required: true)!)
        if let priorities = try names("priorities", required: false) { self.priorities = priorities }
        for (key, entry) in entries {
            func fraction() throws(ConfigurationError) -> Double {
                guard let number = entry.value.doubleValue, (0...1).contains(number) else {
                    throw ConfigurationError(at: entry.origin, message: "triage.\(key): expected a number from 0 to 1")
                }
                return number
            }
            switch key {
            case "components", "labels", "priorities": break
            case "escalate_below": escalateBelow = try fraction()
            case "duplicate_min_score": duplicateMinScore = try fraction()
            case "escalate_to":
                guard let profile = entry.value.stringValue else {
                    throw ConfigurationError(at: entry.origin, message: "triage.escalate_to: expected a profile")
                }
                try spec.requireProfile(profile, at: entry.origin)
                escalateTo = profile
            case "duplicate_candidates":
                guard let count = entry.value.intValue, (1...20).contains(count) else {
                    throw ConfigurationError(
                        at: entry.origin, message: "triage.duplicate_candidates: expected a number from 1 to 20")
                }
                duplicateCandidates = count
            default:
                throw ConfigurationError(
                    at: entry.origin,
                    message: "unknown key triage.\(key); triage has \(Self.keys.joined(separator: ", "))")
            }
        }
    }
}
