import Foundation
import Synchronization

/// Tokens and cost of one profile's calls.
public struct ProfileUsage: Sendable, Hashable {
    public var inputTokens = 0
    public var outputTokens = 0
    public var costUSD = 0.0
    public var calls = 0

    public var tokens: Int { inputTokens + outputTokens }

    public init() {}

    /// Adds another tally to this one.
    public mutating func add(_ other: ProfileUsage) {
        inputTokens += other.inputTokens
        outputTokens += other.outputTokens
        costUSD += other.costUSD
        calls += other.calls
    }

    /// Takes another tally from this one.
    mutating func subtract(_ other: ProfileUsage) {
        inputTokens -= other.inputTokens
        outputTokens -= other.outputTokens
        costUSD -= other.costUSD
        calls -= other.calls
    }
}

/// The way a run calls models: every request decided by the run's guard and recorded before
/// it goes out, fallbacks tried within clearance, and usage counted against the budgets.
/// The planner loop and the ticket triage pipeline both call models through one.
public final class ModelGateway: Sendable {
    private struct Ledger {
        var usage: [String: ProfileUsage] = [:]
        /// The estimated input of the calls under way: what they will spend at least.
        var reserved = ProfileUsage()

        var total: ProfileUsage { usage.values.reduce(into: ProfileUsage()) { $0.add($1) } }
    }

    public let profiles: [String: ProfileBinding]
    public let runGuard: RunGuard
    private let effects: any Effects
    private let progress: @Sendable (RunProgress) -> Void
    /// The tokens and cost the run may spend (of its budgets, only those two are the gateway's).
    private let budgets: AgentSpec.Budgets?
    /// The wall time the run may take, counted from the gateway's making, and when it ends:
    /// every call must have answered by then.
    private let wallTime: Duration?
    private let deadline: ContinuousClock.Instant?
    private let ledger = Mutex(Ledger())

    /// `wallTime` (default: the budgets') is the time the calls may take from now on.
    public init(
        profiles: [ProfileBinding], runGuard: RunGuard, effects: any Effects, budgets: AgentSpec.Budgets? = nil,
        wallTime: Duration? = nil, progress: @escaping @Sendable (RunProgress) -> Void = { _ in }
    ) {
        self.profiles = Dictionary(uniqueKeysWithValues: profiles.map { ($0.name, $0) })
        self.runGuard = runGuard
        self.effects = effects
        self.budgets = budgets
        self.wallTime = wallTime ?? budgets?.wallTime
        self.deadline = self.wallTime.map { ContinuousClock.now + $0 }
        self.progress = progress
    }

    private var wallTimeSpent: BudgetSpent {
        BudgetSpent(reason: "the wall-time budget (\(wallTime?.components.seconds ?? 0) s) is spent")
    }

    /// Usage so far, by profile.
    public var usageByProfile: [String: ProfileUsage] { ledger.withLock { $0.usage } }

    /// Every profile's usage added up.
    public var total: ProfileUsage { ledger.withLock { $0.total } }

    /// Reserves the estimated input of a request (`tokens`) against the budgets, or says why they do not
    /// cover it. Calls that run at once each see the others' reservations, so a round of
    /// concurrent steps cannot each spend what only one of them may.
    private func reserve(_ tokens: Int, binding: ProfileBinding) throws(BudgetSpent) -> ProfileUsage {
        var estimate = ProfileUsage()
        estimate.inputTokens = tokens
        estimate.costUSD = binding.price?.cost(of: Usage(inputTokens: tokens, outputTokens: 0)) ?? 0
        return try ledger.withLock { ledger throws(BudgetSpent) in
            if let budgets {
                let used = ledger.total
                if used.tokens + ledger.reserved.tokens + tokens > budgets.tokens {
                    throw BudgetSpent(
                        reason:
                            "the token budget (\(budgets.tokens)) is spent: \(used.tokens) used, \(ledger.reserved.tokens) in calls under way, this call needs about \(tokens)"
                    )
                }
                if used.costUSD + ledger.reserved.costUSD + estimate.costUSD >= budgets.costUSD {
                    throw BudgetSpent(
                        reason: String(
                            format: "the cost budget ($%.2f) is spent ($%.4f used)", budgets.costUSD, used.costUSD))
                }
            }
            ledger.reserved.add(estimate)
            return estimate
        }
    }

    /// Sends `request`, carrying content labelled `labels`, to `binding` — if the guard allows.
    public func call(_ request: ModelRequest, binding: ProfileBinding, labels: Labels, step: String) async throws
        -> ModelResponse
    {
        let egress = Egress(kind: .model, destination: binding.destination, source: step)
        // A call the budgets cannot cover is not decided on either: an allowed decision is
        // always followed by its request.
        if let deadline, ContinuousClock.now >= deadline { throw wallTimeSpent }
        let tokens = request.estimatedInputTokens
        if let window = binding.contextWindow, tokens > window.tokens {
            // Refused here, and said why: a server would answer with an error, or (Ollama)
            // silently drop the start of the conversation.
            let message =
                "the request is about \(tokens) tokens and profile \(binding.name)'s context window is \(window.tokens) (\(window.source))"
            try await effects.record(
                .modelRefused, step: step,
                payload: [
                    "profile": .string(binding.name), "estimated_tokens": .number(Double(tokens)),
                    "context_window": .number(Double(window.tokens)), "source": .string(window.source),
                    "message": .string(message),
                ])
            throw ModelError(code: .contextTooLong, message: message, provider: binding.name, isRetryable: false)
        }
        let reservation = try reserve(tokens, binding: binding)
        let response: ModelResponse
        do {
            // Every request is decided and recorded, so `audit` knows what each one carried; the
            // request's intent is committed with the decision, or after it, before it goes out.
            let decision = runGuard.check(egress, carrying: labels, destinationClearance: binding.clearance)
            try await effects.note(.guardDecision, step: step, payload: decision.json)
            guard decision.allowed else { throw RefusedEgress(reason: decision.reason) }
            response = try await ModelDeadline.$current.withValue(deadline) {
                try await effects.model(
                    request, profile: binding.name, provider: binding.provider, step: step, observe: { _ in })
            }
        } catch {
            ledger.withLock { $0.reserved.subtract(reservation) }
            // Recorded as the model's error; the run stops for its budget, without a fallback.
            if let error = error as? ModelError, error.code == .deadlineExceeded { throw wallTimeSpent }
            throw error
        }
        // What was reserved becomes what was used, at once.
        ledger.withLock { ledger in
            ledger.reserved.subtract(reservation)
            var entry = ledger.usage[binding.name] ?? ProfileUsage()
            entry.calls += 1
            if let reported = response.usage {
                entry.inputTokens += reported.inputTokens
                entry.outputTokens += reported.outputTokens
                entry.costUSD += binding.price?.cost(of: reported) ?? 0
            }
            ledger.usage[binding.name] = entry
        }
        if let reported = response.usage {
            progress(.tokens(profile: binding.name, input: reported.inputTokens, output: reported.outputTokens))
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
                    .routeFallback, step: step, payload: ["profile": .string(name), "error": .string("\(error)")])
            }
        }
        throw PlanError("no cleared profile answered (\(failures.joined(separator: "; ")))")
    }
}

/// A model call was not made: the run's token or cost budget does not cover it.
public struct BudgetSpent: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// The guard refused a model request.
public struct RefusedEgress: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "the guard refused: \(reason)" }
}
