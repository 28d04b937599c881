/// A triage agent's decision on one ticket, as the decisions file holds it: one JSON object a
/// line, with the keys the spec's decision schema names.
public struct TriageDecision: Codable, Sendable, Equatable {
    public var ticket: String
    public var component: String
    /// The ticket's labels from the spec's `triage.labels`, each once.
    public var labels: [String]
    public var priority: String
    /// The local model's one-line summary (never sent to the cloud: a second opinion sees
    /// only a released summary of its own).
    public var summary: String
    /// An earlier ticket this one repeats, found through the vector store.
    public var duplicateOf: String?
    public var confidence: Double
    /// The profile whose reading stands: the agent's model, or `escalate_to`'s.
    public var decidedBy: String
    public var escalated: Bool
    /// Still less sure than `escalate_below` after any second opinion: left for a person.
    public var needsReview: Bool
    /// How the ticket was cut to fit, when it was.
    public var cut: Cut?
    /// The ticket's run; a decision is recorded in its run without it, and written with it.
    public var run: RunID?

    /// A ticket cut to what a decision request can carry.
    public struct Cut: Codable, Sendable, Equatable {
        public var characters: Int
        public var keptCharacters: Int
        public var roomTokens: Int

        enum CodingKeys: String, CodingKey {
            case characters
            case keptCharacters = "kept_characters"
            case roomTokens = "room_tokens"
        }
    }

    /// What a model answers: the fields of the decision schema. A second opinion answers the
    /// first four only.
    public struct Reading: Codable, Sendable, Equatable {
        public var component: String
        public var labels: [String]
        public var priority: String
        public var confidence: Double
        public var summary: String?
        public var duplicateOf: String?

        public init(
            component: String, labels: [String], priority: String, confidence: Double, summary: String? = nil,
            duplicateOf: String? = nil
        ) {
            (self.component, self.labels, self.priority) = (component, labels, priority)
            (self.confidence, self.summary, self.duplicateOf) = (confidence, summary, duplicateOf)
        }

        enum CodingKeys: String, CodingKey {
            case component, labels, priority, confidence, summary
            case duplicateOf = "duplicate_of"
        }
    }

    enum CodingKeys: String, CodingKey {
        case ticket, component, labels, priority, summary, confidence, escalated, cut, run
        case duplicateOf = "duplicate_of"
        case decidedBy = "decided_by"
        case needsReview = "needs_review"
    }

    public init(
        ticket: String, reading: Reading, decidedBy: String, escalated: Bool, needsReview: Bool, cut: Cut? = nil,
        run: RunID? = nil
    ) {
        self.ticket = ticket
        component = reading.component
        labels = reading.labels
        priority = reading.priority
        summary = reading.summary ?? ""
        duplicateOf = reading.duplicateOf
        confidence = reading.confidence
        self.decidedBy = decidedBy
        self.escalated = escalated
        self.needsReview = needsReview
        self.cut = cut
        self.run = run
    }

    /// Written as it always was: no duplicate is an explicit `null`; a decision not yet in a
    /// run, and an uncut ticket, leave those keys out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ticket, forKey: .ticket)
        try container.encode(component, forKey: .component)
        try container.encode(labels, forKey: .labels)
        try container.encode(priority, forKey: .priority)
        try container.encode(summary, forKey: .summary)
        try container.encode(duplicateOf, forKey: .duplicateOf)
        try container.encode(confidence, forKey: .confidence)
        try container.encode(decidedBy, forKey: .decidedBy)
        try container.encode(escalated, forKey: .escalated)
        try container.encode(needsReview, forKey: .needsReview)
        try container.encodeIfPresent(cut, forKey: .cut)
        try container.encodeIfPresent(run, forKey: .run)
    }

    /// The decision as JSON, as it is recorded and written.
    public var json: JSONValue {
        // Strings, numbers and booleans always encode.
        (try? JSONValue(encoding: self)) ?? [:]
    }

    /// What a progress line says of it: "billing, P1, duplicate of T-1, escalated".
    public var outline: String {
        [
            component, priority, duplicateOf.map { "duplicate of \($0)" }, escalated ? "escalated" : nil,
            needsReview ? "needs review" : nil,
        ].compactMap { $0 }.joined(separator: ", ")
    }
}
