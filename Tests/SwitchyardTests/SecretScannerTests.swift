import Foundation
import Switchyard
import SwitchyardTesting
import Testing

@Suite struct SecretScannerTests {
    let scanner = SecretScanner(key: Array("test-key".utf8))

    static let secrets: [(String, String)] = [
        ("openai-key", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
        ("aws-access-key", "AKIAIOSFODNN7EXAMPLE"),
        ("github-token", "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"),
        ("github-token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
        ("slack-token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"),
        ("stripe-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("stripe-key", "rk_live_51H8abcdefghijklmnopqrstuvwxyzABCDEF"),
        ("google-api-key", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
        ("gitlab-token", "glpat-xXyYzZ0123456789abcd"),
        ("bitbucket-token", "ATBB3g7xPqLmN2vR8sT1uW4yZ6aB9cD0eF5h"),
        ("npm-token", "npm_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("pypi-token", "pypi-AgEIcHlwaS5vcmcCJDY3ZmE3YjRjLTc2NzEtNDRjOC1hNDI0LWI1YjUtNGM2ZmQ3"),
        ("docker-token", "dckr_pat_abcdefghijklmnopqrstuvwxyz"),
        ("huggingface-token", "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"),
        ("square-token", "sq0atp-abcdefghijklmnopqrstuv"),
        ("shopify-token", "shpat_0123456789abcdef0123456789abcdef"),
        ("slack-webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
        ("sendgrid-key", "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
        ("telegram-token", "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"),
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

    /// Most rules match only where a word starts; those that do not still match inside one.
    @Test func insideAWordOnlyTheRulesWithoutAWordStartMatch() {
        let inside = [
            ("github-token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
            ("slack-token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"),
            (
                "jwt",
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
            ),
        ]
        for (kind, secret) in inside {
            #expect(scanner.redact("value=x\(secret) end").hasPrefix("value=x[REDACTED:\(kind):"), "\(kind)")
        }
        #expect(scanner.redact("cupbearer 0123456789abcdef0123").hasPrefix("cupbearer [REDACTED:bearer-token:"))
        #expect(
            scanner.redact("x-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----").hasPrefix(
                "x[REDACTED:private-key:"))
        #expect(
            scanner.redact("see http://user:hunter2hunter2@example.com").contains("user:[REDACTED:url-credentials:"))
        for text in [
            "xAKIAIOSFODNN7EXAMPLE", "mysk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "xnpm_abcdefghijklmnopqrstuvwxyz0123456789", "mypassword=Zq8#vL2!pR7@xT4",
            "x1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1",
        ] {
            #expect(scanner.redact(text) == text)
        }
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

    /// Credentials inside a URL: the password (or a token standing alone as the userinfo),
    /// not the user, host or path.
    @Test func credentialsInsideURLs() {
        let redacted = scanner.redact("base_url: https://deploy:hunter2-Xq7@git.example.com/v1 and more")
        #expect(!redacted.contains("hunter2"))
        #expect(redacted.hasPrefix("base_url: https://deploy:[REDACTED:url-credentials:"))
        #expect(redacted.hasSuffix("]@git.example.com/v1 and more"))
        let token = scanner.redact("clone https://0123456789abcdefTOKEN@github.com/org/repo.git")
        #expect(!token.contains("0123456789abcdefTOKEN"))
        #expect(
            scanner.redact("see https://example.com/a@b and mailto:x@y") == "see https://example.com/a@b and mailto:x@y"
        )
    }

    /// A private key read from its fourth line on has no armour: its base64 body is still
    /// found, also numbered by `read`. Hex digests, identifiers and low-entropy runs stay.
    @Test func keyMaterialWithoutArmour() {
        let body = [
            "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC7VJTUt9Us8cKj",
            "MkD9G3xdOoo2OPNXdfWuW1qsUGN+Pn6hTfVbO2t2RhrVOVv/EQzvj0TN8s0sA5J8",
        ]
        let numbered = "     4\t\(body[0])\n     5\t\(body[1])\n"
        let redacted = scanner.redact(numbered)
        for line in body { #expect(!redacted.contains(line)) }
        #expect(redacted.contains("[REDACTED:key-material:"))
        let ordinary = """
            let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            func handleIncomingConnectionRequestFromTheLoadBalancerWhenDraining() {}
            let padding = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            """
        #expect(scanner.redact(ordinary) == ordinary)
    }

    /// A secret used as an object key is redacted too, in the scanner and in the store.
    @Test func objectKeysAreRedacted() async throws {
        let secret = "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
        let redacted = scanner.redact(.object(["tokens": .object([secret: "owner"])]))
        #expect(!redacted.canonicalText.contains(secret))
        let directory = try TemporaryDirectory("keys")
        let store = try TraceStore(path: directory.path + "/traces.db")
        let run = try await store.startRun(
            agent: "a", task: "t",
            header: .object([
                "profiles": ["cloud": ["base_url": "https://u:p4ssw0rd-Secret@host/v1"]], secret: 1,
            ]),
            at: 1)
        try await store.append(run: run, kind: EventKind(rawValue: "note"), payload: .object([secret: "value"]), at: 2)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/traces.db"))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: directory.path + "/traces.db-wal"))) ?? Data()
        for leaked in [secret, "p4ssw0rd-Secret"] {
            #expect(bytes.range(of: Data(leaked.utf8)) == nil, "\(leaked)")
            #expect(wal.range(of: Data(leaked.utf8)) == nil, "\(leaked)")
        }
    }
}
