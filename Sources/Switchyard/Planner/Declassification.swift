import Foundation

/// Releasing a version of private text to a destination cleared for less, as the spec's
/// `privacy.declassify` says: `never` releases nothing; `redacted-summary` has a profile
/// cleared for the text write a summary, which ``check(_:from:labels:)`` then checks; `allow` releases the
/// text with its secrets replaced. Every decision is recorded (`declassify`, with the exact
/// text released) for replay and `audit`. The planner's declassify steps and triage's
/// escalations both release through here.
public struct Declassification {
    let policy: AgentSpec.Privacy.Declassify
    let router: Router
    let models: ModelGateway
    let effects: any Effects

    public enum Outcome: Sendable, Hashable {
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
            switch Self.check(summary.text, from: text, labels: released) {
            case .released(let checked, _): release = checked
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

// MARK: The last check

extension Declassification {
    /// Words in a row shared with the source that make a release a copy.
    public static let copiedWords = 6
    /// Characters in a row (case and runs of space aside) shared with the source that make a
    /// release a copy.
    public static let copiedCharacters = 24

    /// The last check on text about to be released from a private source to a destination
    /// cleared for less (a declassification): a model wrote it, and a model can be told to
    /// leave details out without doing so. So, whatever the model did: email addresses, URLs
    /// and long numbers are masked, and a release is refused when it carries a secret the
    /// scanner knows, or copies the source — six words in a row, a run of
    /// ``copiedCharacters`` characters, or any one identifier-like or high-entropy token of it
    /// (a key, a hostname, a code, a name in code).
    ///
    /// What may be released of `text`, written from `source`: the text masked, carrying
    /// `labels`, or why nothing is.
    public static func check(_ text: String, from source: String, labels: Labels) -> Outcome {
        if SecretScanner.declassification.redact(text) != text {
            return .refused(reason: "it contains a secret (a credential the scanner knows); nothing was released")
        }
        // Before masking: masking a copied key's digits would leave the rest of it.
        if let token = copiedToken(text, from: source) {
            return .refused(reason: "it copies \"\(token)\" from the private text; nothing was released")
        }
        let masked = mask(text)
        if let copied = copiedSpan(masked, from: source) {
            return .refused(
                reason: "it copies the private text word for word (\"\(copied.prefix(60))…\"); nothing was released")
        }
        if let run = copiedRun(masked, from: source) {
            return .refused(reason: "it copies the private text (\"\(run)\"); nothing was released")
        }
        return .released(masked, labels)
    }

    private static let patterns: [(NSRegularExpression, String)] = [
        (#"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#, "[email]"),
        (#"(?i)\b(?:https?://|www\.)\S+"#, "[url]"),
        (#"\+?\d[\d ()./-]{5,}\d"#, "[number]"),
        (#"\b\d{4,}\b"#, "[number]"),
    ].map { (try! NSRegularExpression(pattern: $0.0), $0.1) }

    /// `text` with email addresses, URLs and long numbers masked.
    public static func mask(_ text: String) -> String {
        var masked = text
        for (pattern, replacement) in patterns {
            masked = pattern.stringByReplacingMatches(
                in: masked, range: NSRange(masked.startIndex..., in: masked), withTemplate: replacement)
        }
        return masked
    }

    /// The first identifier-like token of `source` that `text` repeats, in any case.
    static func copiedToken(_ text: String, from source: String) -> String? {
        let identifiers = Set(CopiedText.tokens(in: source).filter(CopiedText.isIdentifierLike).map { $0.lowercased() })
        guard !identifiers.isEmpty else { return nil }
        return CopiedText.tokens(in: text).first { identifiers.contains($0.lowercased()) }.map(String.init)
    }

    /// The first run of ``copiedCharacters`` folded characters of `text` that also stands in `source`.
    static func copiedRun(_ text: String, from source: String) -> String? {
        var windows: Set<UInt64> = []
        CopiedText.forEachWindow(of: source, width: copiedCharacters) { hash, _ in windows.insert(hash) }
        var copied: String?
        CopiedText.forEachWindow(of: text, width: copiedCharacters) { hash, window in
            if copied == nil, windows.contains(hash) { copied = window() }
        }
        return copied
    }

    /// The first run of `copiedWords` words of `text` that also stands in `source`.
    static func copiedSpan(_ text: String, from source: String) -> String? {
        func words(_ text: String) -> [Substring] {
            text.lowercased().split { !$0.isLetter && !$0.isNumber }
        }
        let sourceWords = words(source)
        guard sourceWords.count >= copiedWords else { return nil }
        var shingles: Set<String> = []
        for start in 0...(sourceWords.count - copiedWords) {
            shingles.insert(sourceWords[start..<(start + copiedWords)].joined(separator: " "))
        }
        let released = words(text)
        guard released.count >= copiedWords else { return nil }
        for start in 0...(released.count - copiedWords) {
            let shingle = released[start..<(start + copiedWords)].joined(separator: " ")
            if shingles.contains(shingle) { return shingle }
        }
        return nil
    }
}
