/// What a trace event records: the one place an event's kind is spelled.
///
/// Effects come in pairs — an intent (a request, a call) and its outcome, which names the
/// intent as its parent; the rest are notes of what the run decided or observed. A store
/// keeps kinds it does not know as they are, so a trace written by a newer Switchyard still
/// reads.
public struct EventKind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    // Effects: an intent, then its outcome.
    public static let modelRequest = EventKind(rawValue: "model.request")
    public static let modelResponse = EventKind(rawValue: "model.response")
    public static let modelError = EventKind(rawValue: "model.error")
    public static let toolCall = EventKind(rawValue: "tool.call")
    public static let toolResult = EventKind(rawValue: "tool.result")
    public static let toolError = EventKind(rawValue: "tool.error")
    /// A reading of the clock.
    public static let clock = EventKind(rawValue: "clock")

    // The planner loop.
    public static let plan = EventKind(rawValue: "plan")
    public static let route = EventKind(rawValue: "route")
    public static let routeFallback = EventKind(rawValue: "route.fallback")
    /// A guard decision on an egress.
    public static let guardDecision = EventKind(rawValue: "guard")
    /// A model request the guard or a budget stopped before it was sent.
    public static let modelRefused = EventKind(rawValue: "model.refused")
    public static let budget = EventKind(rawValue: "budget")
    public static let declassify = EventKind(rawValue: "declassify")
    /// Coarse metadata of withheld results, shown to the planner.
    public static let plannerMetadata = EventKind(rawValue: "planner.metadata")
    public static let stepFinished = EventKind(rawValue: "step.finished")
    public static let stepFailed = EventKind(rawValue: "step.failed")
    public static let runFinished = EventKind(rawValue: "run.finished")

    // Triage.
    public static let triageDecision = EventKind(rawValue: "triage.decision")
    /// A ticket cut to fit its budget.
    public static let triageCut = EventKind(rawValue: "triage.cut")
    /// An answer that does not fit the decision schema.
    public static let triageInvalid = EventKind(rawValue: "triage.invalid")
    public static let batchTicket = EventKind(rawValue: "batch.ticket")
    public static let batchFailed = EventKind(rawValue: "batch.failed")

    /// Whether an event of this kind is the outcome of an effect (it has the intent as parent).
    public var isOutcome: Bool { Self.outcomes.contains(self) }

    private static let outcomes: Set<EventKind> = [.modelResponse, .modelError, .toolResult, .toolError]
}
