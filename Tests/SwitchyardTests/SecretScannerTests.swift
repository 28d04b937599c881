import Switchyard
import Testing

@Suite struct SecretScannerTests {
    let scanner = SecretScanner(key: Array("test-key".utf8))

    static let secrets: [(String, String)] = [
        ("openai-key", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
        ("aws-access-key", "AKIAIOSFODNN7EXAMPLE"),
        ("github-token", "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"),
        ("github-token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
        ("slack-token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"),
        (
            "jwt",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        ),
    ]

    @Test(arguments: secrets)
    func distinctiveSecretsAreReplaced(kind: String, secret: String) {
        let text = "config: \(secret) and more"
        let redacted = scanner.redact(text)
        #expect(!redacted.contains(secret))
        #expect(redacted.hasPrefix("config: [REDACTED:\(kind):"))
        #expect(redacted.hasSuffix(" and more"))
    }

    @Test func privateKeyBlocksAndBearerHeaders() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234567890abcdef\n-----END RSA PRIVATE KEY-----"
        let redacted = scanner.redact("before\n\(key)\nafter")
        #expect(!redacted.contains("MIIEowIBAAKCAQEA"))
        #expect(redacted.hasPrefix("before\n[REDACTED:private-key:"))
        #expect(redacted.hasSuffix("]\nafter"))
        let header = scanner.redact("Authorization: Bearer abcDEF123456ghiJKL789")
        #expect(header.hasPrefix("Authorization: Bearer [REDACTED:bearer-token:"))
        #expect(!header.contains("abcDEF123456"))
    }

    @Test func assignmentsCountOnlyWhenTheValueLooksRandom() {
        let random = scanner.redact(#"DB_PASSWORD="Xq7#pL2v!Rz9""#)
        #expect(!random.contains("Xq7#pL2v!Rz9"))
        #expect(random.contains("[REDACTED:password:"))
        #expect(scanner.redact("password = aaaaaaaaaaaa") == "password = aaaaaaaaaaaa")
        #expect(scanner.redact("token: short") == "token: short")
        #expect(scanner.redact("the password field is required") == "the password field is required")
    }

    @Test func theSameSecretGetsTheSameToken() {
        let secret = "sk-AbCdEfGhIjKlMnOpQrStUvWxYz012345"
        let first = scanner.redact("a \(secret)")
        let second = scanner.redact("b \(secret) c")
        #expect(first.dropFirst(2) == second.dropFirst(2).dropLast(2))
        let other = SecretScanner(key: Array("another-key".utf8)).redact("a \(secret)")
        #expect(other != first)
    }

    @Test func ordinaryTextIsLeftAlone() {
        let text = """
            func skip(_ task: Task) { let eyJ = "eyJ"; let sk = "sk-1"; print("AKIA is a prefix") }
            Bearer of bad news. ghp_ short. xoxb-1.
            """
        #expect(scanner.redact(text) == text)
    }

    @Test func jsonValuesAreRedactedInPlace() {
        let value: JSONValue = [
            "messages": [["role": "user", "content": "my key is sk-AbCdEfGhIjKlMnOpQrStUvWxYz012345"]],
            "n": 3,
        ]
        let redacted = scanner.redact(value)
        #expect(!redacted.canonicalText.contains("sk-AbCd"))
        #expect(redacted["n"] == 3)
    }
}
