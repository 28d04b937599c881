/// Releasing a version of private text to a destination cleared for less, as the spec's
/// `privacy.declassify` says: `never` releases nothing; `redacted-summary` has a profile
/// cleared for the text write a summary, which `Release` then checks; `allow` releases the
/// text with its secrets replaced. Every decision is recorded (`declassify`, with the exact
/// text released) for replay and `audit`. The planner's declassify steps and triage's
/// escalations both release through here.
struct Declassification {
    let policy: AgentSpec.Privacy.Declassify
    let router: Router
    let models: ModelGateway
    let effects: any Effects

    enum Outcome {
        case released(String, Labels)
        case refused(reason: String)
    }

    /// What the model writing a summary to release is told.
    static let summaryInstruction =
        "Summarise the text for someone who may not see it: say what kind of content it is and what it is about, in at most three sentences. Leave out names, numbers, dates, identifiers, credentials, quotes and code."

    /// Releases a version of `text` (labelled `labels`, called `source` in the record) for
    /// `destination`, cleared for `clearance`; `focus` steers a summary, and what is released
    /// carries its labels too (a summary says what its focus asked). A refusal's reason quotes
    /// nothing of the text: the record keeps the whole reason.
    func release(
        _ text: String, labels: Labels, source: String, to destination: String?, clearance: Confidentiality,
        focus: Labelled<String>? = nil, step: String
    ) async throws -> Outcome {
        var released = Labels(min(labels.confidentiality, clearance), labels.integrity)
        if let focus { released = released.join(focus.labels) }
        var record: [String: JSONValue] = [
            "source": .string(source), "source_labels": labels.json, "policy": .string(policy.rawValue),
            "to": destination.map(JSONValue.string) ?? .null,
        ]
        // A refusal releases nothing, so it carries no labels of its own: `audit` shows the source's.
        func refuse(_ reason: String, told: String? = nil) async throws -> Outcome {
            record["released"] = .null
            record["reason"] = .string(reason)
            try await effects.record(.declassify, step: step, payload: .object(record))
            return .refused(reason: told ?? reason)
        }
        let release: String
        switch policy {
        case .never:
            return try await refuse("the spec does not allow declassification (privacy.declassify: never)")
        case .allow:
            // A fixed key: the same secret always becomes the same token, so replays agree.
            release = SecretScanner.declassification.redact(text)
        case .redactedSummary:
            let route = router.route(Router.Request(inputLabels: labels, role: "summary"))
            try await effects.note(.route, step: step, payload: route.json)
            guard !route.profiles.isEmpty else { return try await refuse(route.reason) }
            // Three sentences fit in far fewer tokens; the cap ends a model that runs on.
            let request = ModelRequest(
                messages: [
                    .system(Self.summaryInstruction), .user((focus.map { "Focus: \($0.value)\n\n" } ?? "") + text),
                ], maxOutputTokens: 300)
            let summary = try await models.callWithFallback(request, order: route.profiles, labels: labels, step: step)
            switch Release.check(summary.text, from: text) {
            case .released(let checked): release = checked
            case .refused(let reason):
                return try await refuse(
                    "the summary was not released: \(reason)",
                    told: "the summary was not released: it kept details of the text (the trace records which)")
            }
        }
        record["released"] = .string(release)
        record["labels"] = released.json
        try await effects.record(.declassify, step: step, payload: .object(record))
        return .released(release, released)
    }
}
