/// What a workspace's own configuration (`switchyard.yaml` in the repository being worked on)
/// may say. The repository may be the attacker's, so its settings can only tighten what the
/// agent spec and the user's configuration say: lower a profile's clearance, raise the
/// workspace's labels, take commands and hosts out of allowlists, add deny patterns, shorten
/// timeouts. Everything that would loosen — a new destination, a higher clearance, the sandbox
/// off, the network on, an allowlist widened — is refused with the file, the line and the
/// rule; only the user's `config.yaml` and `--set` can loosen.
enum WorkspaceTrust {
    /// The error for a workspace setting that would loosen, at its file and line.
    static func refusal(_ key: String, _ rule: String, at origin: String) -> ConfigurationError {
        ConfigurationError(
            at: origin,
            message:
                "\(key): the workspace's own configuration may only tighten what the agent spec and your configuration say, and this would \(rule); set it in $SWITCHYARD_HOME/config.yaml (~/.switchyard/config.yaml) or with --set if you mean it"
        )
    }

    /// Why `value` for `key`, from the workspace, would loosen what `base` says; `nil` when it
    /// only tightens (or changes nothing the guard relies on).
    static func loosening(_ key: String, _ value: JSONValue, over base: Settings) -> String? {
        let parts = key.split(separator: ".").map(String.init)
        let old = base[key]?.value
        switch parts.first {
        case "profiles" where parts.count >= 3:
            return profile(parts[1], parts[2...].joined(separator: "."), value, base)
        case "workspace":
            switch key {
            case "workspace.confidentiality":
                return higher(
                    confidentiality(value), than: confidentiality(old) ?? .private,
                    "lower the workspace's confidentiality")
            case "workspace.integrity":
                let new = value.stringValue.flatMap(Integrity.init(name:))
                let before = old?.stringValue.flatMap(Integrity.init(name:)) ?? .trusted
                return new.map { $0 >= before } == true ? nil : "raise the workspace's integrity"
            default: return "set \(key)"
            }
        case "index": return nil  // what is indexed, and by which profile (checked against its clearance)
        case "tools" where parts.count == 2: return nil  // a tool is offered only when the spec offers it
        case "tools" where parts.count == 3: return tool(parts[1], parts[2], value, old)
        default: return "set \(key)"
        }
    }

    private static func profile(_ name: String, _ setting: String, _ value: JSONValue, _ base: Settings) -> String? {
        let prefix = "profiles.\(name)."
        let old = base[prefix + setting]?.value
        switch setting {
        case "model": return nil
        case _ where setting.hasPrefix("options."): return nil
        case "clearance":
            guard let provider = base[prefix + "provider"]?.value.stringValue else {
                return "define the profile \(name)"
            }
            let derived: Confidentiality =
                provider == "openai" || !ModelProfile.isLocal(base[prefix + "base_url"]?.value.stringValue ?? "")
                ? .internal : .secret
            // Without a base_url the address comes from the environment: take the lower default.
            let fallback = base[prefix + "base_url"] == nil && provider != "openai" ? Confidentiality.internal : derived
            return higher(confidentiality(old) ?? fallback, than: confidentiality(value), "raise a profile's clearance")
        case "price.input", "price.output":
            guard let new = value.doubleValue else { return nil }  // the profile's parser says why
            return new >= (old?.doubleValue ?? 0) ? nil : "lower a profile's price (a cost budget counts it)"
        default: return "set profiles.\(name).\(setting) (where a profile sends, and with which key)"
        }
    }

    private static func tool(_ tool: String, _ option: String, _ value: JSONValue, _ old: JSONValue?) -> String? {
        let rule = "loosen tools.\(tool).\(option)"
        func strings(_ value: JSONValue?) -> Set<String>? {
            guard let value else { return [] }
            if let text = value.stringValue { return [text] }
            return value.arrayValue.map { Set($0.compactMap(\.stringValue)) }
        }
        func subset() -> String? {
            guard let new = strings(value), let before = strings(old) else { return rule }
            return new.isSubset(of: before) ? nil : rule + " (only entries already allowed may stay)"
        }
        func superset() -> String? {
            guard let new = strings(value), let before = strings(old) else { return rule }
            return new.isSuperset(of: before) ? nil : rule + " (entries may be added, not removed)"
        }
        func notAbove(_ fallback: Double) -> String? {
            guard let new = value.doubleValue else { return nil }
            return new <= (old?.doubleValue ?? fallback) ? nil : rule + " (it may only be lowered)"
        }
        func offUnless(_ fallback: Bool) -> String? {
            value.boolValue == false || (old?.boolValue ?? fallback) ? nil : rule
        }
        func one(_ tight: String, _ fallback: String) -> String? {
            value.stringValue == tight || (old?.stringValue ?? fallback) == value.stringValue ? nil : rule
        }
        switch (tool, option) {
        case ("shell", "allow"), ("shell", "writable"), ("shell", "environment"): return subset()
        case ("shell", "deny"): return superset()
        case ("shell", "network"): return offUnless(false)
        case ("shell", "sandbox"): return one("bubblewrap", "bubblewrap")
        case ("shell", "workspace"): return one("read-only", "read-write")
        case ("shell", "timeout"): return notAbove(120)
        case ("shell", "otherwise"):
            let rank = ["allow": 0, "ask": 1, "deny": 2]
            guard let new = value.stringValue.flatMap({ rank[$0] }) else { return nil }
            return new >= (old?.stringValue.flatMap { rank[$0] } ?? 1) ? nil : rule
        case ("http_fetch", "allow_hosts"), ("http_fetch", "allow_addresses"): return subset()
        case ("http_fetch", "allow_private_addresses"): return offUnless(false)
        case ("http_fetch", "max_bytes"): return notAbove(Double(10 << 20))
        case ("http_fetch", "timeout"): return notAbove(30)
        case ("http_fetch", "confidentiality"):
            return higher(confidentiality(value), than: confidentiality(old) ?? .public, rule)
        case ("git_commit", "protected_branches"): return superset()
        case ("git_commit", "allow_checked_out_branch"): return offUnless(false)
        default: return rule
        }
    }

    private static func confidentiality(_ value: JSONValue?) -> Confidentiality? {
        value?.stringValue.flatMap(Confidentiality.init(name:))
    }

    /// `nil` when `new` is at least `old`; a value the parser will refuse passes here.
    private static func higher(_ new: Confidentiality?, than old: Confidentiality?, _ rule: String) -> String? {
        guard let new, let old else { return nil }
        return new >= old ? nil : rule
    }
}
