import Foundation

/// The last check on text about to be released from a private source to a destination
/// cleared for less (a declassification): a model wrote it, and a model can be told to
/// leave details out without doing so. So, whatever the model did: email addresses, URLs
/// and long numbers are masked, and a release is refused when it carries a secret the
/// scanner knows, or copies the source — six words in a row, a run of
/// ``copiedCharacters`` characters, or any one identifier-like or high-entropy token of it
/// (a key, a hostname, a code, a name in code).
public enum Release {
    /// Words in a row shared with the source that make a release a copy.
    public static let copiedWords = 6
    /// Characters in a row (case and runs of space aside) shared with the source that make a
    /// release a copy.
    public static let copiedCharacters = 24

    public enum Outcome: Sendable, Hashable {
        case released(String)
        case refused(reason: String)
    }

    /// What may be released of `text`, written from `source`.
    public static func check(_ text: String, from source: String) -> Outcome {
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
        return .released(masked)
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
