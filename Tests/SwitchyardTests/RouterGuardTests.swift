import Switchyard
import Testing

@Suite struct RouterTests {
    let router = Router(
        clearances: ["local": .secret, "cloud": .internal],
        routing: AgentSpec.Routing(
            rules: [
                .init(role: "reasoning", use: "cloud", origin: "t:1"),
                .init(minimumContextTokens: 20000, use: "cloud", origin: "t:2"),
            ], fallback: ["local"]),
        defaultProfile: "local")

    @Test func rulesChooseWithinClearance() {
        let publicReasoning = router.route(.init(inputLabels: Labels(.public, .trusted), role: "reasoning"))
        #expect(publicReasoning.profiles == ["cloud", "local"])
        #expect(publicReasoning.reason.hasPrefix("rule 1 (role reasoning) → cloud"))
        let long = router.route(.init(inputLabels: Labels(.internal, .trusted), estimatedTokens: 30000))
        #expect(long.profiles == ["cloud", "local"])
        let plain = router.route(.init(inputLabels: Labels(.public, .trusted)))
        #expect(plain.profiles == ["local"])
    }

    @Test func aCostRuleSendsOnlyCheapStepsToThePricedProfile() {
        var rule = AgentSpec.Routing.Rule(use: "cloud", origin: "t:1")
        rule.maximumCostUSD = 0.01
        let router = Router(
            clearances: ["local": .secret, "cloud": .internal],
            prices: ["cloud": .init(inputPerMillion: 2.0, outputPerMillion: 8.0)],
            routing: .init(rules: [rule], fallback: ["local"]), defaultProfile: "local")
        // 4,000 tokens at $2/M is $0.008: within the limit. 10,000 is $0.02: not.
        let cheap = router.route(.init(inputLabels: .userInput, estimatedTokens: 4000))
        #expect(cheap.profiles.first == "cloud")
        #expect(cheap.reason.contains("~$0.0080 on cloud ≤ $0.0100"))
        #expect(router.route(.init(inputLabels: .userInput, estimatedTokens: 10000)).profiles == ["local"])
    }

    @Test func privateInputNeverGoesToTheCloudWhateverTheRules() {
        let decision = router.route(.init(inputLabels: Labels(.private, .trusted), role: "reasoning"))
        #expect(decision.profiles == ["local"])
        #expect(decision.reason.contains("cloud is cleared for internal and the input is private"))
        // And with only the cloud left, the step fails closed.
        let cloudOnly = Router(clearances: ["cloud": .internal], routing: .init(), defaultProfile: "cloud")
        let closed = cloudOnly.route(.init(inputLabels: Labels(.private, .trusted)))
        #expect(closed.profiles.isEmpty)
        #expect(closed.reason.contains("failing closed"))
    }
}

@Suite struct GuardTests {
    @Test func contentNeverGoesAboveItsDestinationsClearance() {
        let guardian = RunGuard(allowExfiltration: false)
        let request = Egress(kind: .model, destination: "https://api.openai.com/v1/chat/completions", source: "$3")
        #expect(
            guardian.check(request, carrying: Labels(.private, .trusted), destinationClearance: .internal).outcome
                != .allow)
        #expect(
            guardian.check(request, carrying: Labels(.internal, .trusted), destinationClearance: .internal).outcome
                == .allow)
        #expect(guardian.decisions.map(\.allowed) == [false, true])
    }

    @Test func theLethalTrifectaNeedsAnExplicitAllowance() async {
        let guardian = RunGuard(allowExfiltration: false)
        let post = Egress(
            kind: .http, destination: "https://example.com/collect", payload: Array("x".utf8), source: "http_fetch")
        // Public content out: fine while the run holds nothing private.
        guardian.observe(Labels(.public, .untrusted))
        #expect(await guardian.forStep(carrying: Labels(.public, .trusted)).check(post) == .allow)
        // Private data read as well: every HTTP egress is refused, even of public-looking content.
        guardian.observe(Labels(.private, .trusted))
        #expect(await guardian.forStep(carrying: Labels(.public, .trusted)).check(post) != .allow)
        let allowing = RunGuard(allowExfiltration: true)
        allowing.observe(Labels(.private, .untrusted))
        #expect(await allowing.forStep(carrying: Labels(.public, .trusted)).check(post) == .allow)
        // But never private content to the internet, allowance or not.
        #expect(await allowing.forStep(carrying: Labels(.private, .trusted)).check(post) != .allow)
    }

    @Test func aSenderThatReadsThePrivateWorkspaceNeedsAnAllowance() async {
        let command = Egress(kind: .shell, destination: "make fetch", source: "shell", reach: .workspace)
        let strict = RunGuard(allowExfiltration: false, workspace: Labels(.private, .trusted))
        let refused = strict.check(command, carrying: .userInput, destinationClearance: .public)
        #expect(!refused.allowed)
        #expect(refused.reason.contains("can read private files"))
        #expect(refused.json["may_read"]?["confidentiality"] == "private")
        // In a public workspace a sandboxed command can read nothing private and goes ahead; one
        // outside any sandbox can read the host's files and does not.
        let open = RunGuard(allowExfiltration: false, workspace: Labels(.public, .trusted))
        #expect(open.check(command, carrying: .userInput, destinationClearance: .public).allowed)
        var unsandboxed = command
        unsandboxed.reach = .host
        let host = open.check(unsandboxed, carrying: .userInput, destinationClearance: .public)
        #expect(!host.allowed)
        #expect(host.reason.contains("the host's"))
        // A spec that allows it does.
        let allowing = RunGuard(allowExfiltration: true, workspace: Labels(.private, .trusted))
        #expect(allowing.check(command, carrying: .userInput, destinationClearance: .public).allowed)
        // Senders that cannot read the workspace are judged by what they carry.
        let post = Egress(kind: .http, destination: "https://example.com/", source: "http_fetch")
        #expect(strict.check(post, carrying: .userInput, destinationClearance: .public).allowed)
    }
}

@Suite struct ArtifactTests {
    @Test func thePlannerSeesContentOnlyWithinItsClearance() {
        var store = ArtifactStore()
        let task = store.add(kind: "task", labels: .userInput, text: "Where is the parser?")
        let code = store.add(
            kind: "tool:read", labels: Labels(.private, .trusted), text: "let apiKey = load()\nparse()\n",
            data: ["total_lines": 2])
        #expect(task.handle == "$1" && code.handle == "$2")
        #expect(task.view(clearance: .internal)["content"] == "Where is the parser?")
        let withheld = code.view(clearance: .internal)
        #expect(withheld["content"] == nil)
        #expect(!withheld.canonicalText.contains("apiKey"))
        #expect(code.view(clearance: .secret)["content"] != nil)
        // Coarse metadata, when asked for: powers of two, never the exact size.
        #expect(code.view(clearance: .internal, metadata: true)["metadata"]?["bytes_at_most"] == 32)
    }

    /// What a reader may not see looks the same whatever it holds: a short note, a long one,
    /// a failure. Nothing of the view depends on the content unless coarse metadata is asked for.
    @Test func aWithheldViewIsTheSameForEveryContentAndForAFailure() {
        let labels = Labels(.private, .trusted)
        let views = [
            Artifact(handle: "$2", kind: "tool:read", labels: labels, text: "a"),
            Artifact(
                handle: "$2", kind: "tool:read", labels: labels, text: String(repeating: "line\n", count: 900),
                data: ["lines": .array(Array(repeating: "x", count: 900)), "status": 1]),
            Artifact(handle: "$2", kind: "tool:read", labels: labels, text: "tool:read step failed: no", failed: true),
        ].map { $0.view(clearance: .internal).canonicalText }
        #expect(Set(views).count == 1, "\(views)")
        let coarse = Artifact(handle: "$2", kind: "tool:read", labels: labels, text: "x", failed: true)
        #expect(coarse.view(clearance: .internal, metadata: true)["metadata"]?["status"] == "failed")
    }

    /// The answer's handles are found by the same scanner: `$2` ending anywhere is replaced,
    /// other spellings and handles that name no result are left as written.
    @Test func theAnswerSubstitutesExactHandlesOnly() {
        var store = ArtifactStore()
        store.add(kind: "task", labels: .userInput, text: "t")
        store.add(kind: "tool:read", labels: Labels(.private, .trusted), text: "NOTE")
        #expect(
            store.substitute(inText: "It says $2. Not $02, $20, $+2 or $ 2; $2$2.")
                == "It says NOTE. Not $02, $20, $+2 or $ 2; NOTENOTE.")
    }

    /// One grammar: whatever is substituted for a handle is among the handles found, in any
    /// spelling a planner tries.
    @Test(arguments: ["$2", "$+2", "$02", "$2.0", " $2", "$٢", "$-2", "$2 ", "$0", "$99999999999"])
    func everythingSubstitutedIsAHandleTheLabelsCounted(spelling: String) {
        var store = ArtifactStore()
        store.add(kind: "task", labels: .userInput, text: "t")
        store.add(kind: "tool:read", labels: Labels(.private, .trusted), text: "CANARY")
        let substituted = store.substitute(["value": .string(spelling)])
        let mentioned = ArtifactHandle.mentions(in: ["value": .string(spelling)])
        if substituted.canonicalText.contains("CANARY") {
            #expect(mentioned.contains(ArtifactHandle(index: 2)), "\(spelling)")
        }
        // Only the exact spelling is substituted.
        #expect(substituted.canonicalText.contains("CANARY") == (spelling == "$2"), "\(spelling)")
        // And a spelling with the digit 2 after a `$` is counted, whatever surrounds it.
        if spelling.contains("$2") || spelling.contains("$02") {
            #expect(mentioned.contains(ArtifactHandle(index: 2)), "\(spelling)")
        }
    }

    @Test func derivedContentGetsTheJoinOfItsInputs() throws {
        var store = ArtifactStore()
        store.add(kind: "task", labels: .userInput, text: "t")
        store.add(kind: "tool:http_fetch", labels: Labels(.public, .untrusted), text: "page")
        store.add(kind: "tool:read", labels: Labels(.private, .trusted), text: "code")
        let handles = ArtifactHandle.mentions(in: ["query": "compare $2 with $3", "n": 1, "list": ["$2"]])
        #expect(handles == [ArtifactHandle(index: 2), ArtifactHandle(index: 3)])
        #expect(try store.labels(of: handles) == Labels(.private, .untrusted))
        #expect(throws: PlanError.self) { try store.labels(of: [ArtifactHandle(index: 9)]) }
    }
}
