import Foundation

/// A support ticket: an id, a title and a body, and the record it came from.
public struct Ticket: Sendable, Hashable {
    public var id: String
    public var title: String
    public var body: String
    /// Every field as read (`id`, `title`, `body` and the rest: reporter, date, …): what a
    /// ticket's run records, and is decided from again in a replay.
    public var record: [String: JSONValue]

    /// A ticket whose record has `record`'s fields, and `id`, `title` and `body` where it has
    /// none of its own.
    public init(id: String, title: String, body: String, record: [String: JSONValue] = [:]) {
        self.id = id
        self.title = title
        self.body = body
        self.record = record.merging(["id": .string(id), "title": .string(title), "body": .string(body)]) {
            recorded, _ in recorded
        }
    }

    /// A ticket from a record with `id`, `title` and `body` (or `description`) fields.
    public init(record: [String: JSONValue], origin: String) throws(ConfigurationError) {
        func text(_ key: String) -> String? {
            switch record[key] {
            case .string(let value)?: value
            case .number?: record[key]!.canonicalText
            default: nil
            }
        }
        guard let id = text("id")?.trimmingCharacters(in: .whitespaces), !id.isEmpty else {
            throw ConfigurationError(at: origin, message: "the ticket has no id")
        }
        let title = text("title") ?? text("subject") ?? ""
        let body = text("body") ?? text("description") ?? ""
        guard !(title + body).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ConfigurationError(at: origin, message: "ticket \(id) has neither a title nor a body")
        }
        self.init(id: id, title: title, body: body, record: record)
    }

    public var text: String { body.isEmpty ? title : "\(title)\n\n\(body)" }

    /// Tickets are private, and written by people outside: untrusted.
    public static let labels = Labels(.private, .untrusted)
}

/// Decides one ticket: looks for earlier tickets it may duplicate (`vector_search`), has the
/// spec's local model return a decision that must fit the schema, asks the escalation
/// profile about a low-confidence ticket from a redacted summary when the spec allows it,
/// and remembers the ticket for later ones (`vector_upsert`). Every model and tool call goes
/// through the run's effects, so a ticket's run replays.
public struct Triager: Sendable {
    public let spec: AgentSpec
    public let policy: AgentSpec.Triage
    private let tools: [String: any Tool]
    private let effects: any Effects
    private let router: Router
    public let models: ModelGateway

    public init(
        spec: AgentSpec, profiles: [ProfileBinding], tools: [any Tool], effects: any Effects,
        progress: @escaping @Sendable (RunProgress) -> Void = { _ in }
    ) throws(ConfigurationError) {
        guard let policy = spec.triage else {
            throw ConfigurationError(
                file: spec.file, message: "\(spec.name) has no triage section: it is not a triage agent")
        }
        self.spec = spec
        self.policy = policy
        self.tools = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0) })
        self.effects = effects
        self.router = Router(profiles: profiles, routing: spec.routing, defaultProfile: spec.model)
        let runGuard = RunGuard(allowExfiltration: spec.privacy.allowExfiltration, workspace: Ticket.labels)
        // Each ticket has the spec's budgets (a Triager decides one ticket).
        self.models = ModelGateway(
            profiles: profiles, runGuard: runGuard, effects: effects, budgets: spec.budgets, progress: progress)
    }

    /// Whether `reading` is less sure than a decision must be to stand on its own.
    func isUnsure(_ reading: TriageDecision.Reading) -> Bool { reading.confidence < policy.escalateBelow }

    /// The decision on `ticket`, as it goes into the decisions file (without the run id).
    public func decide(_ whole: Ticket) async throws -> TriageDecision {
        models.runGuard.observe(Ticket.labels)
        let (ticket, cut) = try await fitted(whole)
        let candidates = try await duplicates(of: ticket)
        var reading = try await decideLocally(ticket, candidates: candidates)
        var decidedBy = spec.model
        var escalated = false
        if isUnsure(reading), let profile = policy.escalateTo {
            if let second = try await escalate(ticket, to: profile) {
                (reading.component, reading.labels) = (second.component, second.labels)
                (reading.priority, reading.confidence) = (second.priority, second.confidence)
                decidedBy = profile
                escalated = true
            }
        }
        try await remember(ticket, reading: reading)
        let decision = TriageDecision(
            ticket: ticket.id, reading: reading, decidedBy: decidedBy, escalated: escalated,
            needsReview: isUnsure(reading), cut: cut)
        try await effects.record(.triageDecision, step: "decide", payload: decision.json)
        return decision
    }

    // MARK: Steps

    /// The longest title a decision request carries whole.
    static let titleRoom = 1_000

    /// `ticket`, cut (with a marker that says so, and recorded) to what a decision request can
    /// carry: the token budget leaves room for one second try, and the smallest context
    /// window of the profiles cleared for tickets holds the prompt, the schema, the
    /// candidates and the answer beside it. Returns what was cut, if anything.
    func fitted(_ ticket: Ticket) async throws -> (Ticket, TriageDecision.Cut?) {
        let windows = models.profiles.values.filter { $0.clearance >= Ticket.labels.confidentiality }
            .compactMap(\.contextWindow?.tokens)
        let overhead =
            (spec.systemPrompt.utf8.count + schema(candidates: []).canonicalText.utf8.count
                + policy.duplicateCandidates * 400) / 4 + 400 + 64
        let tokens = ([spec.budgets.tokens / 2] + windows).min()! - overhead
        let room = max(tokens, 64) * 4
        guard ticket.text.utf8.count > room else { return (ticket, nil) }
        // Whole lines where they fit, as a tool's output is cut.
        let title = String(OutputLimit(bytes: Self.titleRoom, lines: .max).prefix(of: ticket.title))
        let marker = "\n[… the rest of this ticket was cut to fit the model's context window and the token budget]"
        let bodyRoom = max(room - title.utf8.count - marker.utf8.count, 0)
        let body = String(OutputLimit(bytes: bodyRoom, lines: .max).prefix(of: ticket.body)) + marker
        let cut = Ticket(id: ticket.id, title: title, body: body, record: ticket.record)
        let note = TriageDecision.Cut(
            characters: ticket.text.count, keptCharacters: cut.text.count, roomTokens: room / 4)
        try await effects.record(.triageCut, step: "decide", payload: try JSONValue(encoding: note))
        return (cut, note)
    }

    /// Earlier tickets close enough to be duplicates, best first.
    private func duplicates(of ticket: Ticket) async throws -> [(id: String, score: Double, text: String)] {
        guard let search = tools["vector_search"] else { return [] }
        let arguments: JSONValue = [
            "query": .string(ticket.text), "k": .number(Double(policy.duplicateCandidates + 1)),
        ]
        let output: JSONValue
        do {
            output = try await effects.tool(search.name, arguments: arguments, step: "duplicates") {
                try await search.invoke(arguments, context: ToolContext()).json
            }
        } catch {
            // No earlier tickets yet (no collection), or no embedder: decided without
            // candidates; the tool's error is in the trace.
            return []
        }
        let hits = output["data"]?["hits"]?.arrayValue ?? []
        return hits.compactMap { hit in
            guard let id = hit["id"]?.stringValue, id != ticket.id, let score = hit["score"]?.doubleValue,
                score >= policy.duplicateMinScore
            else { return nil }
            return (id, score, hit["text"]?.stringValue ?? "")
        }.prefix(policy.duplicateCandidates).map { $0 }
    }

    /// The decision's schema: `duplicate_of` can only name one of `candidates`; `keeping`
    /// narrows it to those fields (what a second opinion decides).
    func schema(candidates: [String], keeping fields: [String]? = nil) -> JSONValue {
        let properties: [String: JSONValue] = [
            "component": ["enum": .array(policy.components.map(JSONValue.string))],
            "labels": [
                "type": "array", "items": ["enum": .array(policy.labels.map(JSONValue.string))], "maxItems": 4,
            ],
            "priority": ["enum": .array(policy.priorities.map(JSONValue.string))],
            "summary": ["type": "string", "minLength": 1, "maxLength": 200],
            "duplicate_of": ["enum": .array(candidates.map(JSONValue.string) + [.null])],
            // In tenths: thresholds mean something, and a grammar-constrained model
            // cannot answer out of range.
            "confidence": ["enum": .array((0...10).map { .number(Double($0) / 10) })],
        ]
        let kept = fields ?? ["component", "labels", "priority", "summary", "duplicate_of", "confidence"]
        return [
            "type": "object", "properties": .object(properties.filter { kept.contains($0.key) }),
            "required": .array(kept.map(JSONValue.string)), "additionalProperties": false,
        ]
    }

    private func decideLocally(_ ticket: Ticket, candidates: [(id: String, score: Double, text: String)])
        async throws -> TriageDecision.Reading
    {
        let labels = Ticket.labels
        let decision = router.route(Router.Request(inputLabels: labels, role: "triage"))
        try await effects.record(.route, step: "decide", payload: decision.json)
        guard !decision.profiles.isEmpty else { throw PlanError(decision.reason) }
        var prompt = "Ticket \(ticket.id):\n\(ticket.text)"
        if !candidates.isEmpty {
            prompt += "\n\nEarlier tickets that may be the same problem (set duplicate_of to one if it is):"
            for candidate in candidates {
                prompt += "\n- \(candidate.id) (similarity \(String(format: "%.2f", candidate.score))): "
                prompt += String(candidate.text.prefix(300)).replacingOccurrences(of: "\n", with: " ")
            }
        }
        let schema = schema(candidates: candidates.map(\.id))
        var messages: [ChatMessage] = [.system(spec.systemPrompt), .user(prompt)]
        // A decision that does not fit the schema gets one second try, told what was wrong.
        for attempt in 1...2 {
            let step = attempt == 1 ? "decide" : "decide.retry"
            let request = ModelRequest(
                messages: messages, responseFormat: .jsonSchema(name: "triage_decision", schema: schema),
                maxOutputTokens: 400)
            try checkBudgets(ticket)
            let response = try await models.callWithFallback(
                request, order: decision.profiles, labels: labels, step: step)
            let problem: String
            do {
                let answer = try JSONValue(parsing: response.text)
                if let found = ArgumentSchema.firstProblem(answer, schema, path: "decision") {
                    problem = found
                } else {
                    return try Self.reading(answer)
                }
            } catch {
                problem = "the answer is not JSON: \(error)"
            }
            try await effects.record(.triageInvalid, step: step, payload: ["problem": .string(problem)])
            messages += [
                ChatMessage(role: .assistant, content: response.text),
                .user("That decision is invalid (\(problem)). Answer again with a decision that fits the schema."),
            ]
        }
        throw TriageError(ticket: ticket.id, "the model gave no valid decision in two tries")
    }

    /// The spec's budgets hold for each ticket, its model calls counting as steps; the
    /// gateway checks each call against what is left, and the wall time is the calls' deadline.
    private func checkBudgets(_ ticket: Ticket) throws {
        let used = models.total
        if let reason = spec.budgets.spent(steps: used.calls, used: used, elapsed: 0) {
            throw TriageError(ticket: ticket.id, reason)
        }
    }

    /// A valid answer read, with each label once, in the order given.
    static func reading(_ answer: JSONValue) throws -> TriageDecision.Reading {
        var reading = try answer.decoded(as: TriageDecision.Reading.self)
        var seen: Set<String> = []
        reading.labels = reading.labels.filter { seen.insert($0).inserted }
        return reading
    }

    /// A second opinion from `profile`, which sees only a redacted summary — if the spec lets
    /// one be released; otherwise `nil` and the ticket is left for review. Nothing else of the
    /// first reading goes with it: its confidence was read from the ticket.
    private func escalate(_ ticket: Ticket, to profile: String) async throws -> TriageDecision.Reading? {
        guard let target = models.profiles[profile] else { return nil }
        try checkBudgets(ticket)
        let declassification = Declassification(
            policy: spec.privacy.declassify, router: router, models: models, effects: effects)
        let released: String
        let labels: Labels
        switch try await declassification.release(
            ticket.text, labels: Ticket.labels, source: "ticket \(ticket.id)", to: profile,
            clearance: target.clearance, step: "escalate")
        {
        case .refused: return nil
        case .released(let text, let releasedLabels): (released, labels) = (text, releasedLabels)
        }
        let schema = schema(candidates: [], keeping: ["component", "labels", "priority", "confidence"])
        let request = ModelRequest(
            messages: [
                .system(spec.systemPrompt),
                .user(
                    "A ticket, summarised without its private details (a first reading was not confident enough):\n\n\(released)"
                ),
            ], responseFormat: .jsonSchema(name: "triage_decision", schema: schema), maxOutputTokens: 200)
        try checkBudgets(ticket)
        let response = try await models.call(request, binding: target, labels: labels, step: "escalate")
        guard let answer = try? JSONValue(parsing: response.text),
            ArgumentSchema.firstProblem(answer, schema, path: "decision") == nil,
            let reading = try? Self.reading(answer)
        else {
            try await effects.record(
                .triageInvalid, step: "escalate", payload: ["problem": "the second opinion does not fit the schema"])
            return nil
        }
        return reading
    }

    /// Stores the ticket so later tickets can find it as a duplicate.
    private func remember(_ ticket: Ticket, reading: TriageDecision.Reading) async throws {
        guard let upsert = tools["vector_upsert"] else { return }
        let arguments: JSONValue = [
            "id": .string(ticket.id), "text": .string(ticket.text),
            "metadata": [
                "component": .string(reading.component), "priority": .string(reading.priority),
                "title": .string(ticket.title),
            ],
        ]
        _ = try await effects.tool(upsert.name, arguments: arguments, step: "remember") {
            try await upsert.invoke(arguments, context: ToolContext()).json
        }
    }
}

/// A ticket that could not be decided.
public struct TriageError: Error, CustomStringConvertible {
    public var ticket: String
    public var message: String

    public init(ticket: String, _ message: String) {
        self.ticket = ticket
        self.message = message
    }

    public var description: String { "ticket \(ticket): \(message)" }
}
