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

    /// The tokens of `text`: runs of letters, digits and `_`, `-`, `.` (trimmed of the
    /// punctuation at their ends).
    static func tokens(_ text: String) -> [Substring] {
        text.split { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
            .map { $0.trimmingCharacters(".-_") }
            .filter { !$0.isEmpty }
    }

    /// Whether `token` looks like something a summary has no business repeating: an
    /// identifier (letters and digits mixed, `snake_case`, `camelCase`, a dotted or hyphenated
    /// name of 8 characters or more) or a high-entropy string (a key, a hash).
    static func isIdentifierLike(_ token: Substring) -> Bool {
        guard token.count >= 4 else { return false }
        let hasLetter = token.contains(where: \.isLetter)
        let hasDigit = token.contains(where: \.isNumber)
        if hasLetter && hasDigit { return true }
        if token.contains("_") && hasLetter { return true }
        if zip(token, token.dropFirst()).contains(where: { $0.isLowercase && $1.isUppercase }) { return true }
        if token.count >= 8, token.contains(where: { $0 == "." || $0 == "-" }) { return true }
        return token.count >= 16 && entropy(token) >= 3.5
    }

    /// Shannon entropy in bits per character.
    static func entropy(_ token: Substring) -> Double {
        var counts: [Character: Int] = [:]
        for character in token { counts[character, default: 0] += 1 }
        let total = Double(token.count)
        return counts.values.reduce(0) { entropy, count in
            let p = Double(count) / total
            return entropy - p * log2(p)
        }
    }

    /// The first identifier-like token of `source` that `text` repeats.
    static func copiedToken(_ text: String, from source: String) -> String? {
        let identifiers = Set(tokens(source).filter(isIdentifierLike).map { $0.lowercased() })
        guard !identifiers.isEmpty else { return nil }
        return tokens(text).first { identifiers.contains($0.lowercased()) }.map(String.init)
    }

    /// Text folded for comparing runs of characters: lower case, each run of white space one space.
    static func folded(_ text: String) -> [Character] {
        var folded: [Character] = []
        for character in text.lowercased() {
            if character.isWhitespace {
                if folded.last != " " { folded.append(" ") }
            } else {
                folded.append(character)
            }
        }
        return folded
    }

    /// The first run of ``copiedCharacters`` characters of `text` that also stands in `source`.
    static func copiedRun(_ text: String, from source: String) -> String? {
        let source = folded(source)
        let text = folded(text)
        let width = copiedCharacters
        guard source.count >= width, text.count >= width else { return nil }
        var windows: Set<String> = []
        for start in 0...(source.count - width) { windows.insert(String(source[start..<(start + width)])) }
        for start in 0...(text.count - width) {
            let window = String(text[start..<(start + width)])
            if windows.contains(window) { return window }
        }
        return nil
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

extension Substring {
    fileprivate func trimmingCharacters(_ set: String) -> Substring {
        var trimmed = self
        while let first = trimmed.first, set.contains(first) { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, set.contains(last) { trimmed = trimmed.dropLast() }
        return trimmed
    }
}
