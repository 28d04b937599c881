import Foundation

/// Picks the provider profile for each model step: the hard constraint first (the input's
/// labels must fit the profile's clearance), then the spec's rules, then fallbacks — only
/// ever within clearance. A step no profile may see fails closed.
public struct Router: Sendable {
    /// Each profile's clearance, by name.
    public var clearances: [String: Confidentiality]
    /// Each priced profile's price, for rules with `max_cost_usd`.
    public var prices: [String: ModelProfile.Price]
    public var routing: AgentSpec.Routing
    /// The profile when no rule matches.
    public var defaultProfile: String

    public init(
        clearances: [String: Confidentiality], prices: [String: ModelProfile.Price] = [:], routing: AgentSpec.Routing,
        defaultProfile: String
    ) {
        self.clearances = clearances
        self.prices = prices
        self.routing = routing
        self.defaultProfile = defaultProfile
    }

    /// A router over a run's profiles.
    public init(profiles: [ProfileBinding], routing: AgentSpec.Routing, defaultProfile: String) {
        self.init(
            clearances: Dictionary(uniqueKeysWithValues: profiles.map { ($0.name, $0.clearance) }),
            prices: Dictionary(
                uniqueKeysWithValues: profiles.compactMap { profile in profile.price.map { (profile.name, $0) } }),
            routing: routing, defaultProfile: defaultProfile)
    }

    /// What `tokens` of input cost on `profile` (nothing for an unpriced one).
    public func inputCost(_ tokens: Int, on profile: String) -> Double {
        Double(tokens) * (prices[profile]?.inputPerMillion ?? 0) / 1e6
    }

    /// What a model step needs.
    public struct Request: Sendable, Hashable {
        public var inputLabels: Labels
        public var role: String?
        public var estimatedTokens: Int
        public var needsTools: Bool

        public init(inputLabels: Labels, role: String? = nil, estimatedTokens: Int = 0, needsTools: Bool = false) {
            self.inputLabels = inputLabels
            self.role = role
            self.estimatedTokens = estimatedTokens
            self.needsTools = needsTools
        }
    }

    /// Where a step goes and why; `profiles` is the order to try (the choice, then
    /// fallbacks), empty when the step must fail closed.
    public struct Decision: Sendable, Hashable {
        public var profiles: [String]
        public var reason: String

        public var json: JSONValue {
            ["profiles": .array(profiles.map(JSONValue.string)), "reason": .string(reason)]
        }
    }

    public func route(_ request: Request) -> Decision {
        let level = request.inputLabels.confidentiality
        func cleared(_ profile: String) -> Bool { (clearances[profile] ?? .public) >= level }

        var preferred = defaultProfile
        var why = "no rule matched: the default profile \(defaultProfile)"
        for (index, rule) in routing.rules.enumerated() {
            if let role = rule.role, role != request.role { continue }
            if let minimum = rule.minimumContextTokens, request.estimatedTokens < minimum { continue }
            if let needsTools = rule.needsTools, needsTools != request.needsTools { continue }
            if let limit = rule.maximumCostUSD, inputCost(request.estimatedTokens, on: rule.use) > limit { continue }
            preferred = rule.use
            var parts: [String] = []
            if let role = rule.role { parts.append("role \(role)") }
            if let minimum = rule.minimumContextTokens {
                parts.append("~\(request.estimatedTokens) tokens ≥ \(minimum)")
            }
            if let needsTools = rule.needsTools { parts.append(needsTools ? "needs tools" : "needs no tools") }
            if let limit = rule.maximumCostUSD {
                parts.append(
                    String(
                        format: "~$%.4f on %@ ≤ $%.4f", inputCost(request.estimatedTokens, on: rule.use), rule.use,
                        limit))
            }
            why = "rule \(index + 1) (\(parts.isEmpty ? "always" : parts.joined(separator: ", "))) → \(rule.use)"
            break
        }

        var order: [String] = []
        var reason: String
        if cleared(preferred) {
            order.append(preferred)
            reason = why
        } else {
            reason =
                "\(why), but \(preferred) is cleared for \(clearances[preferred] ?? .public) and the input is \(level)"
        }
        for profile in routing.fallback + [defaultProfile] where cleared(profile) && !order.contains(profile) {
            order.append(profile)
        }
        if order.isEmpty {
            let known = clearances.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
            return Decision(
                profiles: [], reason: "\(reason); no profile is cleared for \(level) input (\(known)): failing closed")
        }
        if order.first != preferred { reason += "; using \(order[0]) instead" }
        if order.count > 1 { reason += "; fallback \(order.dropFirst().joined(separator: ", "))" }
        return Decision(profiles: order, reason: reason)
    }
}
