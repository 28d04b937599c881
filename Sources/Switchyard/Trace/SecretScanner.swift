import Foundation
import Hashing

/// Finds secrets in text and replaces each with a keyed token: the same secret gets the
/// same token under one key, so a trace still shows that two calls used the same
/// credential without showing the credential.
///
/// A short literal prefilter (`sk-`, `sk_live_`, `AKIA`, `AIza`, `ghp_`, `glpat-`, `xox`,
/// `npm_`, `-----BEGIN`, `eyJ`, `bearer`, `://`, `password`, …) finds candidate places; rules
/// with distinctive shapes then confirm them: cloud keys (AWS, Google), VCS tokens (GitHub,
/// GitLab, Bitbucket), payment keys (Stripe, Square, Shopify), chat tokens and webhooks (Slack,
/// Telegram), registry tokens (npm, PyPI, RubyGems, Docker Hub, Hugging Face), SendGrid keys,
/// JWTs, bearer tokens, private-key blocks, and credentials inside URLs.
/// `password=`-style assignments count only when the value looks random (Shannon entropy of
/// at least 3 bits a character); so do runs of base64 of 60 characters or more (4.5 bits),
/// which is what a private key's body is when it was read without its armour lines.
public struct SecretScanner: Sendable {
    public struct Finding: Sendable, Hashable {
        public var kind: String
        /// Byte range in the UTF-8 text.
        public var range: Range<Int>
    }

    private let key: [UInt8]

    /// `key` keys the tokens; keep it out of the trace store.
    public init(key: [UInt8]) { self.key = key }

    /// The scanner for text a run releases (declassifies): a fixed key, so the same secret
    /// always becomes the same token and replays agree.
    public static let declassification = SecretScanner(key: Array("switchyard-declassify".utf8))

    /// The token that stands for `secret`.
    public func token(for secret: some Sequence<UInt8>, kind: String) -> String {
        let digest = HMACSHA256.authenticate(Array(secret), key: key)
        return "[REDACTED:\(kind):\(digest.prefix(6).hexString)]"
    }

    /// `text` with every secret replaced by its token.
    public func redact(_ text: String) -> String {
        // The common case, no secret, reads the string in place.
        let clean = text.utf8.withContiguousStorageIfAvailable { scan($0).isEmpty } ?? false
        if clean { return text }
        let bytes = Array(text.utf8)
        let findings = bytes.withUnsafeBufferPointer { scan($0) }
        guard !findings.isEmpty else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var position = 0
        for finding in findings {
            output += bytes[position..<finding.range.lowerBound]
            output += token(for: bytes[finding.range], kind: finding.kind).utf8
            position = finding.range.upperBound
        }
        output += bytes[position...]
        return String(decoding: output, as: UTF8.self)
    }

    /// Every string in `value` redacted.
    public func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): .string(redact(text))
        case .array(let values): .array(values.map(redact))
        case .object(let object):
            .object(
                Dictionary(object.map { (redact($0.key), redact($0.value)) }, uniquingKeysWith: { first, _ in first }))
        default: value
        }
    }

    /// The secrets in `bytes`, in order, not overlapping.
    public func scan(_ bytes: [UInt8]) -> [Finding] {
        bytes.withUnsafeBufferPointer { scan($0) }
    }

    func scan(_ buffer: UnsafeBufferPointer<UInt8>) -> [Finding] {
        let shaped = scanShapes(buffer)
        let material = scanKeyMaterial(buffer)
        if material.isEmpty { return shaped }
        // Both kinds in order; where they overlap, the one that starts first (then the longer).
        var merged: [Finding] = []
        for finding in (shaped + material).sorted(by: {
            $0.range.lowerBound != $1.range.lowerBound
                ? $0.range.lowerBound < $1.range.lowerBound : $0.range.count > $1.range.count
        }) where merged.last.map({ $0.range.upperBound <= finding.range.lowerBound }) ?? true {
            merged.append(finding)
        }
        return merged
    }

    /// Runs of base64 of at least 60 characters that look random (4.5 bits a character or
    /// more): the body of a private key read without its armour lines (a `read` from line 4),
    /// an Azure account key, a key pasted into a configuration. Hex digests (4 bits at most)
    /// and identifiers stay.
    private func scanKeyMaterial(_ buffer: UnsafeBufferPointer<UInt8>) -> [Finding] {
        var findings: [Finding] = []
        var start = 0
        var index = 0
        let table = Self.base64Characters
        while index <= buffer.count {
            if index < buffer.count, table[Int(buffer[index])] {
                index += 1
                continue
            }
            if index - start >= 60, Self.entropy(buffer[start..<index]) >= 4.5 {
                findings.append(Finding(kind: "key-material", range: start..<index))
            }
            index += 1
            start = index
        }
        return findings
    }

    private func scanShapes(_ buffer: UnsafeBufferPointer<UInt8>) -> [Finding] {
        var findings: [Finding] = []
        var index = 0
        let starts = Self.candidateStarts
        let anywhere = Self.startsInsideWords
        let alphanumerics = Self.alphanumerics
        while index < buffer.count {
            // The prefilter: most bytes cannot start a secret, and inside a word only a few
            // rules look at all.
            let byte = Int(buffer[index])
            guard starts[byte], anywhere[byte] || index == 0 || !alphanumerics[Int(buffer[index - 1])] else {
                index += 1
                continue
            }
            if let finding = match(buffer, at: index) {
                findings.append(finding)
                index = finding.range.upperBound
            } else {
                index += 1
            }
        }
        return findings
    }

    // MARK: Rules

    private func match(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Finding? {
        // The prefilter: one switch on the first byte, then literal prefixes.
        switch bytes[index] {
        case UInt8(ascii: "s"):
            if has(bytes, index, "sk-"), wordStart(bytes, index) {
                let end = run(bytes, from: index + 3, Self.tokenCharacters)
                if end - index >= 23 { return Finding(kind: "openai-key", range: index..<end) }
            }
            if let found = prefixed(bytes, index, ["sk_live_", "sk_test_"], Self.alphanumerics, 24, "stripe-key") {
                return found
            }
            if let found = prefixed(bytes, index, ["sq0atp-", "sq0csp-"], Self.tokenCharacters, 22, "square-token") {
                return found
            }
            if let found = prefixed(
                bytes, index, ["shpat_", "shpss_", "shpca_", "shppa_"], Self.hexCharacters, 32, "shopify-token")
            {
                return found
            }
        case UInt8(ascii: "r"):
            if let found = prefixed(bytes, index, ["rk_live_", "rk_test_"], Self.alphanumerics, 24, "stripe-key") {
                return found
            }
            if let found = prefixed(bytes, index, ["rubygems_"], Self.hexCharacters, 48, "rubygems-key") {
                return found
            }
        case UInt8(ascii: "A"):
            if has(bytes, index, "AKIA") || has(bytes, index, "ASIA"), wordStart(bytes, index) {
                let end = run(bytes, from: index + 4, Self.upperAlphanumerics)
                if end - index == 20 { return Finding(kind: "aws-access-key", range: index..<end) }
            }
            if let found = prefixed(bytes, index, ["AIza"], Self.tokenCharacters, 35, "google-api-key") {
                return found
            }
            if let found = prefixed(bytes, index, ["ATBB"], Self.alphanumerics, 28, "bitbucket-token") {
                return found
            }
        case UInt8(ascii: "n"):
            if let found = prefixed(bytes, index, ["npm_"], Self.alphanumerics, 36, "npm-token") { return found }
        case UInt8(ascii: "p"):
            if let found = prefixed(bytes, index, ["pypi-AgEIcHlwaS5vcmc"], Self.tokenCharacters, 40, "pypi-token") {
                return found
            }
        case UInt8(ascii: "d"):
            if let found = prefixed(bytes, index, ["dckr_pat_"], Self.tokenCharacters, 20, "docker-token") {
                return found
            }
        case UInt8(ascii: "h"):
            if let found = prefixed(bytes, index, ["hf_"], Self.alphanumerics, 30, "huggingface-token") {
                return found
            }
            if let found = prefixed(
                bytes, index, ["https://hooks.slack.com/services/"], Self.slackWebhookCharacters, 20, "slack-webhook")
            {
                return found
            }
        case UInt8(ascii: "S"):
            if has(bytes, index, "SG."), wordStart(bytes, index) {
                let end = run(bytes, from: index + 3, Self.sendgridCharacters)
                if end - index >= 60 { return Finding(kind: "sendgrid-key", range: index..<end) }
            }
        case UInt8(ascii: ":"):
            if let credentials = matchURLCredentials(bytes, at: index) { return credentials }
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            if let token = matchTelegramToken(bytes, at: index) { return token }
        case UInt8(ascii: "g"):
            if let found = prefixed(
                bytes, index, ["glpat-", "gldt-", "glrt-", "glptt-", "glsoat-"], Self.tokenCharacters, 20,
                "gitlab-token")
            {
                return found
            }
            if has(bytes, index, "github_pat_") {
                let end = run(bytes, from: index + 11, Self.wordCharacters)
                if end - index >= 11 + 22 { return Finding(kind: "github-token", range: index..<end) }
            } else if index + 4 <= bytes.count, bytes[index + 1] == UInt8(ascii: "h"),
                bytes[index + 3] == UInt8(ascii: "_"),
                "pousr".utf8.contains(bytes[index + 2]), wordStart(bytes, index)
            {
                let end = run(bytes, from: index + 4, Self.alphanumerics)
                if end - index >= 4 + 36 { return Finding(kind: "github-token", range: index..<end) }
            }
        case UInt8(ascii: "x"):
            if has(bytes, index, "xox"), index + 4 < bytes.count, "baprs".utf8.contains(bytes[index + 3]),
                bytes[index + 4] == UInt8(ascii: "-")
            {
                let end = run(bytes, from: index + 5, Self.slackCharacters)
                if end - index >= 15 { return Finding(kind: "slack-token", range: index..<end) }
            }
        case UInt8(ascii: "-"):
            if has(bytes, index, "-----BEGIN "), let header = find(bytes, "-----", from: index + 11),
                String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<header]), as: UTF8.self).hasSuffix(
                    "PRIVATE KEY"),
                let end = find(bytes, "PRIVATE KEY-----", from: header + 5)
            {
                return Finding(kind: "private-key", range: index..<(end + 16))
            }
        case UInt8(ascii: "e"):
            if has(bytes, index, "eyJ"), let jwt = matchJWT(bytes, at: index) {
                return Finding(kind: "jwt", range: index..<jwt)
            }
        case UInt8(ascii: "B"), UInt8(ascii: "b"):
            if hasCaseInsensitive(bytes, index, Self.bearer) {
                let start = index + 7
                let end = run(bytes, from: start, Self.bearerCharacters)
                if end - start >= 16 { return Finding(kind: "bearer-token", range: start..<end) }
            }
        default: break
        }
        if let assignment = matchAssignment(bytes, at: index) { return assignment }
        return nil
    }

    private static let assignmentNames: [[UInt8]] = [
        "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "access_key",
    ].map { (name: String) in Array(name.utf8) }

    /// `password = value`, `"api_key": "value"` and the like, when the value looks random.
    private func matchAssignment(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Finding? {
        guard Self.assignmentStarts[Int(bytes[index])], wordStart(bytes, index) else { return nil }
        for name in Self.assignmentNames where hasCaseInsensitive(bytes, index, name) {
            var cursor = run(bytes, from: index + name.count, Self.wordCharacters)
            cursor = skip(bytes, from: cursor, " \t\"'")
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "=") || bytes[cursor] == UInt8(ascii: ":") else {
                continue
            }
            cursor = skip(bytes, from: cursor + 1, " \t\"'")
            let end = run(bytes, from: cursor, Self.valueCharacters)
            guard end - cursor >= 8, Self.entropy(bytes[cursor..<end]) >= 3.0 else { continue }
            return Finding(kind: "password", range: cursor..<end)
        }
        return nil
    }

    /// `PREFIX` (one of `prefixes`) at a word start and at least `minimum` characters of
    /// `table` after it.
    private func prefixed(
        _ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ prefixes: [StaticString], _ table: [Bool],
        _ minimum: Int, _ kind: String
    ) -> Finding? {
        guard wordStart(bytes, index) else { return nil }
        for prefix in prefixes where has(bytes, index, prefix) {
            let start = index + prefix.utf8CodeUnitCount
            let end = run(bytes, from: start, table)
            if end - start >= minimum { return Finding(kind: kind, range: index..<end) }
        }
        return nil
    }

    /// Credentials inside a URL, `scheme://user:password@host`: the password (or, with no
    /// colon, a userinfo long enough to be a token, as in `https://TOKEN@host`).
    private func matchURLCredentials(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Finding? {
        guard has(bytes, index, "://"), index > 0, Self.alphanumerics[Int(bytes[index - 1])] else { return nil }
        let start = index + 3
        let end = run(bytes, from: start, Self.userinfoCharacters)
        guard end < bytes.count, bytes[end] == UInt8(ascii: "@"), end > start, end - start <= 512 else { return nil }
        if let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) {
            return colon + 1 < end ? Finding(kind: "url-credentials", range: (colon + 1)..<end) : nil
        }
        return end - start >= 16 ? Finding(kind: "url-credentials", range: start..<end) : nil
    }

    /// A Telegram bot token: 8–10 digits, a colon, then 35 characters.
    private func matchTelegramToken(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Finding? {
        guard wordStart(bytes, index) else { return nil }
        let digits = run(bytes, from: index, Self.digitCharacters)
        guard (8...10).contains(digits - index), digits < bytes.count, bytes[digits] == UInt8(ascii: ":") else {
            return nil
        }
        let end = run(bytes, from: digits + 1, Self.tokenCharacters)
        guard end - digits - 1 == 35 else { return nil }
        return Finding(kind: "telegram-token", range: index..<end)
    }

    private func matchJWT(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        var cursor = index
        for part in 0..<3 {
            let end = run(bytes, from: cursor, Self.base64URLCharacters)
            guard end - cursor >= 10 else { return nil }
            cursor = end
            if part < 2 {
                guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: ".") else { return nil }
                cursor += 1
                if part == 0, !has(bytes, cursor, "eyJ") { return nil }
            }
        }
        return cursor
    }

    // MARK: Byte helpers

    private static func set(_ characters: String) -> [Bool] {
        var table = [Bool](repeating: false, count: 256)
        for byte in characters.utf8 { table[Int(byte)] = true }
        return table
    }
    private static let bearer = Array("bearer ".utf8)

    /// Bytes that can begin a secret or an assignment name.
    private static let candidateStarts = set("sSAgx-eBbpPtTarndh:0123456789")
    /// Those whose rules do not ask for a word start (`github_pat_`, `xox…-`, `-----BEGIN`,
    /// `eyJ`, `bearer`, `://`): every other rule matches only where a word starts.
    private static let startsInsideWords = set(":-gxeBb")
    private static let assignmentStarts = set("pPsStTaA")
    private static let upperAlphanumerics = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    private static let alphanumerics = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    private static let wordCharacters = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
    private static let tokenCharacters = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    private static let slackCharacters = tokenCharacters
    private static let hexCharacters = set("0123456789abcdefABCDEF")
    private static let digitCharacters = set("0123456789")
    private static let base64Characters = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    private static let sendgridCharacters = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
    private static let slackWebhookCharacters = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/")
    /// What a URL's userinfo may hold (RFC 3986's unreserved, sub-delims, `:` and `%`).
    private static let userinfoCharacters = set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:%")
    private static let base64URLCharacters = tokenCharacters
    private static let bearerCharacters = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")
    private static let valueCharacters: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in 0x21...0x7e where !"\"',;\\`".utf8.contains(UInt8(byte)) { table[byte] = true }
        for byte in 0x80...0xff { table[byte] = true }
        return table
    }()

    private func has(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { return false }
        return true
    }

    private func hasCaseInsensitive(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ literal: [UInt8]) -> Bool {
        guard index + literal.count <= bytes.count else { return false }
        for offset in 0..<literal.count where bytes[index + offset] | 0x20 != literal[offset] | 0x20 { return false }
        return true
    }

    private func wordStart(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> Bool {
        index == 0 || !Self.alphanumerics[Int(bytes[index - 1])]
    }

    private func run(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ table: [Bool]) -> Int {
        var index = start
        while index < bytes.count, table[Int(bytes[index])] { index += 1 }
        return index
    }

    private func skip(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ characters: String) -> Int {
        var index = start
        while index < bytes.count, characters.utf8.contains(bytes[index]) { index += 1 }
        return index
    }

    private func find(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if has(bytes, index, literal) { return index }
            index += 1
        }
        return nil
    }

    static func entropy(_ bytes: some Collection<UInt8>) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        for byte in bytes { counts[Int(byte)] += 1 }
        let total = Double(bytes.count)
        return counts.reduce(0.0) { sum, count in
            guard count > 0 else { return sum }
            let p = Double(count) / total
            return sum - p * log2(p)
        }
    }
}
