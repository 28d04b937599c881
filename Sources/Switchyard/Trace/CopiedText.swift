import Foundation

/// The two forms in which copied text is recognised, by `Release` (has a summary copied its
/// source?) and by `Audit` (did held text leave?): identifier-like tokens, and runs of
/// characters folded (ASCII case and runs of white space aside), found by a rolling hash.
/// Both work on bytes: linear in the text, whatever its size.
enum CopiedText {
    /// The tokens of `text`: runs of ASCII letters, digits and `_`, `-`, `.`, trimmed of those
    /// three at their ends.
    static func tokens(in text: String) -> [Substring] {
        var tokens: [Substring] = []
        forEachRun(of: text, where: isTokenByte) { bytes in
            var run = bytes
            while let first = run.first, isJoiner(first) { run = run.dropFirst() }
            while let last = run.last, isJoiner(last) { run = run.dropLast() }
            if !run.isEmpty { tokens.append(Substring(decoding: run, as: UTF8.self)) }
        }
        return tokens
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

    /// Calls `body` with the hash of each run of `width` bytes of `text` folded (ASCII
    /// lower-cased, each run of white space one space) that is at least half letters and digits,
    /// and a way to spell it.
    static func forEachWindow(of text: String, width: Int, _ body: (UInt64, () -> String) -> Void) {
        var folded: [UInt8] = []
        folded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D:
                if folded.last != 0x20 { folded.append(0x20) }
            case 0x41...0x5A: folded.append(byte | 0x20)
            default: folded.append(byte)
            }
        }
        guard width > 0, folded.count >= width else { return }
        func counts(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) }
        let base: UInt64 = 1_099_511_628_211
        var power: UInt64 = 1
        for _ in 1..<width { power = power &* base }
        var hash: UInt64 = 0
        var alphanumerics = 0
        for index in 0..<width {
            hash = hash &* base &+ UInt64(folded[index])
            if counts(folded[index]) { alphanumerics += 1 }
        }
        for start in 0...(folded.count - width) {
            if start > 0 {
                let leaving = folded[start - 1]
                let entering = folded[start + width - 1]
                hash = (hash &- UInt64(leaving) &* power) &* base &+ UInt64(entering)
                if counts(leaving) { alphanumerics -= 1 }
                if counts(entering) { alphanumerics += 1 }
            }
            guard alphanumerics >= width / 2 else { continue }
            body(hash) { String(decoding: folded[start..<(start + width)], as: UTF8.self) }
        }
    }

    /// Calls `body` with each maximal run of the bytes of `text` that `belongs` accepts.
    static func forEachRun(of text: String, where belongs: (UInt8) -> Bool, _ body: (ArraySlice<UInt8>) -> Void) {
        let bytes = Array(text.utf8)
        var start = 0
        for index in bytes.indices where !belongs(bytes[index]) {
            if index > start { body(bytes[start..<index]) }
            start = index + 1
        }
        if bytes.count > start { body(bytes[start...]) }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || isJoiner(byte)
    }

    /// `_`, `-`, `.`: inside a token they join, at its ends they are punctuation.
    private static func isJoiner(_ byte: UInt8) -> Bool { byte == 0x5F || byte == 0x2D || byte == 0x2E }
}
