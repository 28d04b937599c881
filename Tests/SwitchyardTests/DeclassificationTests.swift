import Switchyard
import Testing

/// What a declassification may release: the source's gist, never a copy of any part of it
/// that could identify, authenticate or reconstruct it.
@Suite struct DeclassificationCheckTests {
    static let source = """
        Deploy notes: rotate the key for billing-gateway.internal on host db7-east, \
        ticket OPS_4412; the client calls refreshTokenCache() first. Token: a9F3kQ2mZx8Lw1Vb7Rt5.
        """

    @Test(arguments: [
        ("The note is about billing-gateway.internal.", "billing-gateway.internal"),
        ("A deploy on db7-east.", "db7-east"),
        ("It refers to ops_4412.", "ops_4412"),
        ("The client calls refreshTokenCache.", "refreshTokenCache"),
        ("It mentions refreshtokencache, lower-cased.", "refreshtokencache"),
        ("A token a9F3kQ2mZx8Lw1Vb7Rt5 is given.", "a9F3kQ2mZx8Lw1Vb7Rt5"),
    ])
    func aReleaseThatCopiesAnIdentifierIsRefused(summary: String, token: String) {
        guard case .refused(let reason) = Declassification.check(summary, from: Self.source, labels: .userInput) else {
            Issue.record("released \(summary)")
            return
        }
        #expect(reason.lowercased().contains(token.lowercased()))
    }

    @Test func aLongRunOfCharactersIsACopyEvenWithoutSixWords() {
        let source = "The credentials are rotated quarterly by the platform team."
        // Four words of the source, but 33 characters of it in a row (case and spacing aside).
        guard
            case .refused(let reason) = Declassification.check(
                "Keys: Credentials  are rotated QUARTERLY.", from: source, labels: .userInput)
        else {
            Issue.record("a 33-character run was released")
            return
        }
        #expect(reason.contains("credentials are rotated"))
        // Shorter runs are the gist, not a copy.
        guard
            case .released = Declassification.check(
                "Credentials rotate on a schedule.", from: source, labels: .userInput)
        else {
            Issue.record("a summary in its own words was refused")
            return
        }
    }

    @Test func aSecretTheScannerKnowsIsRefusedNotMasked() {
        let outcome = Declassification.check(
            "A note about a launch. Key sk-proj-abcdefghijklmnopqrstuvwxyz123456 was in it.", from: "the launch note",
            labels: .userInput)
        guard case .refused(let reason) = outcome else {
            Issue.record("released \(outcome)")
            return
        }
        #expect(reason.contains("secret"))
        #expect(!reason.contains("sk-proj"))
    }

    @Test func aSummaryInItsOwnWordsIsReleasedWithContactsMasked() {
        let outcome = Declassification.check(
            "Operational notes about rotating a credential for a billing service; mail ops@example.com.",
            from: Self.source, labels: .userInput)
        #expect(
            outcome
                == .released(
                    "Operational notes about rotating a credential for a billing service; mail [email].", .userInput))
    }
}
