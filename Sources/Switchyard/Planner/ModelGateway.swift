import Synchronization

/// The way a run calls models: every request decided by the run's guard and recorded before
/// it goes out, fallbacks tried within clearance, and usage counted against the budgets.
/// The planner loop and the ticket triage pipeline both call models through one.
public final class ModelGateway: Sendable {
    /// Tokens and cost of one profile's calls.
    public struct Usage: Sendable, Hashable {
        public var inputTokens = 0
        public var outputTokens = 0
        public var costUSD = 0.0
        public var calls = 0

        public var tokens: Int { inputTokens + outputTokens }

        public init() {}

        /// Adds another tally to this one.
        public mutating func add(_ other: Usage) {
            inputTokens += other.inputTokens
            outputTokens += other.outputTokens
            costUSD += other.costUSD
            calls += other.calls
        }
    }

    public let profiles: [String: ProfileBinding]
    public let runGuard: RunGuard
    private let effects: any Effects
    private let progress: @Sendable (RunProgress) -> Void
    private let usage = Mutex<[String: Usage]>([:])

    public init(
        profiles: [ProfileBinding], runGuard: RunGuard, effects: any Effects,
        progress: @escaping @Sendable (RunProgress) -> Void = { _ in }
    ) {
        self.profiles = Dictionary(uniqueKeysWithValues: profiles.map { ($0.name, $0) })
        self.runGuard = runGuard
        self.effects = effects
        self.progress = progress
    }

    /// Usage so far, by profile.
    public var usageByProfile: [String: Usage] { usage.withLock { $0 } }

    /// Every profile's usage added up.
    public var total: Usage {
        usage.withLock { all in
            all.values.reduce(into: Usage()) { $0.add($1) }
        }
    }

    /// Sends `request`, carrying content labelled `labels`, to `binding` — if the guard allows.
    public func call(_ request: ModelRequest, binding: ProfileBinding, labels: Labels, step: String) async throws
        -> ModelResponse
    {
        let egress = Egress(kind: .model, destination: binding.destination, source: step)
        // Every request is decided and recorded, so `audit` knows what each one carried; the
        // request's intent is committed with the decision, or after it, before it goes out.
        let decision = runGuard.check(egress, carrying: labels, destinationClearance: binding.clearance)
        try await effects.note("guard", step: step, payload: decision.json)
        guard decision.allowed else { throw RefusedEgress(reason: decision.reason) }
        let response = try await effects.model(
            request, profile: binding.name, provider: binding.provider, step: step, observe: { _ in })
        if let reported = response.usage {
            usage.withLock { all in
                var entry = all[binding.name] ?? Usage()
                entry.inputTokens += reported.inputTokens
                entry.outputTokens += reported.outputTokens
                entry.calls += 1
                entry.costUSD += binding.price?.cost(of: reported) ?? 0
                all[binding.name] = entry
            }
            progress(.tokens(profile: binding.name, input: reported.inputTokens, output: reported.outputTokens))
        } else {
            usage.withLock { $0[binding.name, default: Usage()].calls += 1 }
        }
        return response
    }

    /// Tries the profiles of `order` in turn (the router's choice, then its fallbacks, all
    /// cleared for the step) until one answers.
    public func callWithFallback(_ request: ModelRequest, order: [String], labels: Labels, step: String) async throws
        -> ModelResponse
    {
        var failures: [String] = []
        for name in order {
            guard let binding = profiles[name] else { continue }
            do {
                return try await call(request, binding: binding, labels: labels, step: step)
            } catch let error as ModelError {
                failures.append("\(name): \(error)")
                try await effects.record(
                    "route.fallback", step: step, payload: ["profile": .string(name), "error": .string("\(error)")])
            }
        }
        throw PlanError("no cleared profile answered (\(failures.joined(separator: "; ")))")
    }
}

/// The guard refused a model request.
public struct RefusedEgress: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "the guard refused: \(reason)" }
}
