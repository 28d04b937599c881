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
        let command = Egress(kind: .shell, destination: "make fetch", source: "shell", readsWorkspace: true)
        let strict = RunGuard(allowExfiltration: false, workspace: Labels(.private, .trusted))
        let refused = strict.check(command, carrying: .userInput, destinationClearance: .public)
        #expect(!refused.allowed)
        #expect(refused.reason.contains("can read the private workspace"))
        #expect(refused.json["may_read"]?["confidentiality"] == "private")
        // A public workspace, or a spec that allows it, lets the command out.
        let open = RunGuard(allowExfiltration: false, workspace: Labels(.public, .trusted))
        #expect(open.check(command, carrying: .userInput, destinationClearance: .public).allowed)
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
        #expect(withheld["metadata"]?["lines"] == 2)
        #expect(!withheld.canonicalText.contains("apiKey"))
        #expect(code.view(clearance: .secret)["content"] != nil)
    }

    @Test func derivedContentGetsTheJoinOfItsInputs() throws {
        var store = ArtifactStore()
        store.add(kind: "task", labels: .userInput, text: "t")
        store.add(kind: "tool:http_fetch", labels: Labels(.public, .untrusted), text: "page")
        store.add(kind: "tool:read", labels: Labels(.private, .trusted), text: "code")
        #expect(try store.labels(of: ["$2", "$3"]) == Labels(.private, .untrusted))
        #expect(ArtifactStore.handles(in: ["query": "compare $2 with $3", "n": 1, "list": ["$2"]]) == ["$2", "$3"])
        #expect(throws: PlanError.self) { try store.labels(of: ["$9"]) }
    }
}
