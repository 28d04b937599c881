import Foundation

/// The last check on text about to be released from a private source to a destination
/// cleared for less (a declassification): a model wrote it, and a model can be told to
/// leave details out without doing so. So, whatever the model did: secrets become keyed
/// tokens, email addresses, URLs and long numbers are masked, and a release that copies
/// the source word for word (six words or more in a row) is refused.
public enum Release {
    /// Words in a row shared with the source that make a release a copy.
    public static let copiedWords = 6

    public enum Outcome: Sendable, Hashable {
        case released(String)
        case refused(reason: String)
    }

    /// What may be released of `text`, written from `source`.
    public static func check(_ text: String, from source: String) -> Outcome {
        let masked = mask(SecretScanner.declassification.redact(text))
        if let copied = copiedSpan(masked, from: source) {
            return .refused(
                reason: "it copies the private text word for word (\"\(copied.prefix(60))…\"); nothing was released")
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
