import Composition
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

@Suite struct AgentSpecTests {
    static let valid = """
        ---
        name: helper
        description: Helps.
        planner: cloud
        profiles:
          local: { provider: ollama, model: llama3.2 }
          cloud: { provider: openai, model: gpt-4.1-mini }
        tools:
          search: {}
          shell: { allow: ["ls*"], network: false }
        routing:
          rules:
            - { role: reasoning, use: cloud }
            - { min_context_tokens: 20000, needs_tools: false, use: cloud }
          fallback: [local]
        privacy:
          workspace: { confidentiality: secret }
          declassify: allow
        budgets: { steps: 12, cost_usd: 0.25 }
        ---
        You help.
        """

    func spec(_ text: String, name: String = "helper") throws -> AgentSpec {
        try AgentSpec(text: text, file: "agents/\(name).md", hash: "test")
    }

    @Test func aValidSpecIsReadWhole() throws {
        let spec = try spec(Self.valid)
        #expect(spec.name == "helper")
        #expect(spec.planner == "cloud")
        #expect(spec.model == "local")
        #expect(spec.systemPrompt == "You help.")
        #expect(spec.tools.keys.sorted() == ["search", "shell"])
        #expect(spec.routing.rules.map(\.use) == ["cloud", "cloud"])
        #expect(spec.routing.rules[1].minimumContextTokens == 20000)
        #expect(spec.routing.rules[1].needsTools == false)
        #expect(spec.routing.fallback == ["local"])
        #expect(try spec.settings.workspaceLabels() == Labels(.secret, .trusted))
        #expect(spec.privacy.declassify == .allow)
        #expect(!spec.privacy.allowExfiltration)
        #expect(spec.budgets.steps == 12)
        #expect(spec.budgets.costUSD == 0.25)
        #expect(spec.budgets.tokens == 500_000)
    }

    @Test func aTriageSectionAndSetOverridesAreRead() throws {
        let text = """
            ---
            name: helper
            profiles:
              local: { provider: ollama, model: m }
              cloud: { provider: openai, model: g }
            triage:
              components: [billing, auth]
              labels: [bug]
              escalate_to: cloud
            ---
            Triage.
            """
        let spec = try AgentSpec(
            text: text, file: "agents/helper.md", hash: "h",
            overrides: ["triage.escalate_below=0.8", "budgets.steps=3", "profiles.local.model=other"])
        let triage = try #require(spec.triage)
        #expect(triage.components == ["billing", "auth"])
        #expect(triage.priorities == ["P0", "P1", "P2", "P3"])
        #expect(triage.escalateTo == "cloud")
        #expect(triage.escalateBelow == 0.8)
        #expect(spec.budgets.steps == 3)
        #expect(spec.settings["profiles.local.model"]?.value == "m")  // profiles are the user's settings' business
    }

    /// Each broken spec, and the line and words its error must carry.
    @Test(arguments: [
        ("name: helper\n", "", "agents/helper.md:1: an agent spec starts with '---'"),
        ("---\nname: helper\n", "", "agents/helper.md:1: the front matter has no closing '---'"),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\ntoolz: {}\n---\nHi\n", "",
            "agents/helper.md:5: unknown key 'toolz'"
        ),
        (
            "---\nname: other\nprofiles:\n  local: { provider: ollama, model: m }\n---\nHi\n", "",
            "agents/helper.md:2: name 'other' does not match"
        ),
        (
            "---\nname: helper\nplanner: cloud\nprofiles:\n  local: { provider: ollama, model: m }\n---\nHi\n", "",
            "agents/helper.md:3: no profile 'cloud'"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: olama, model: m }\n---\nHi\n", "",
            "agents/helper.md:4: unknown provider 'olama'"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\nbudgets:\n  steps: -3\n---\nHi\n",
            "", "agents/helper.md:6: budgets.steps: expected a positive number"
        ),
        // Numbers too large to count with are refused, not trapped on.
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\nbudgets: { steps: 1e30 }\n---\nHi\n",
            "", "agents/helper.md:5: budgets.steps: expected a positive number up to 1000000"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\nbudgets:\n  wall_seconds: 1e30\n---\nHi\n",
            "", "agents/helper.md:6: budgets.wall_seconds: expected a positive number up to 31536000"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\nbudgets:\n  tokens: .inf\n---\nHi\n",
            "", "agents/helper.md:6: budgets.tokens: expected a positive number"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\nprivacy:\n  declassify: sometimes\n---\nHi\n",
            "", "agents/helper.md:6: declassify: expected never, redacted-summary or allow"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\nrouting:\n  rules:\n    - { rol: x, use: local }\n---\nHi\n",
            "", "unknown key 'rol'"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\n---\n\n", "",
            "the system prompt (the Markdown after the front matter) is empty"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\nrouting:\n  rules:\n    - { max_cost_usd: cheap, use: local }\n---\nHi\n",
            "", "agents/helper.md:7: routing.rules: max_cost_usd must be a number of dollars"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\ntriage:\n  labels: [bug]\n---\nHi\n",
            "", "triage.components is missing"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\ntriage:\n  components: [a]\n  labels: [bug]\n  escalate_below: 2\n---\nHi\n",
            "", "agents/helper.md:8: triage.escalate_below: expected a number from 0 to 1"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\ntriage:\n  components: [a]\n  labels: [bug]\n  escalate_to: cloud\n---\nHi\n",
            "", "agents/helper.md:8: no profile 'cloud'"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\ntriage:\n  components: [a, a]\n  labels: [bug]\n---\nHi\n",
            "", "triage.components: expected a list of distinct names"
        ),
        // YAML's own errors: one line, at the file's line (the front matter starts on line 2).
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\ntools:\n  search: {\n---\nHi\n", "",
            "agents/helper.md:7: not valid YAML: did not find expected node content, while parsing a flow node from line 7"
        ),
        (
            "---\nname: helper\nprofiles:\n  local: { provider: ollama, model: m }\n  bad: x: y\n---\nHi\n", "",
            "agents/helper.md:5: not valid YAML: mapping values are not allowed in this context"
        ),
        (
            "---\nname: helper\nname: again\nprofiles:\n  local: { provider: ollama, model: m }\n---\nHi\n", "",
            "agents/helper.md:2: a mapping repeats name"
        ),
    ])
    func brokenSpecsSayWhereAndWhat(text: String, _: String, expected: String) throws {
        #expect {
            _ = try spec(text)
        } throws: { error in
            "\(error)".contains(expected) && !"\(error)".contains("\n")
        }
    }

    /// A spec saved with CRLF line ends reads as the same spec, and its errors count the same lines.
    @Test func crlfSpecsReadAsLFSpecs() throws {
        let crlf = try spec(Self.valid.replacingOccurrences(of: "\n", with: "\r\n"))
        let lf = try spec(Self.valid)
        #expect(crlf.settings.entries == lf.settings.entries)
        #expect(crlf.systemPrompt == "You help.")
        let broken = "---\r\nname: helper\r\nprofiles:\r\n  local: { provider: olama, model: m }\r\n---\r\nHi\r\n"
        #expect {
            _ = try spec(broken)
        } throws: { error in
            "\(error)".hasPrefix("agents/helper.md:4: unknown provider 'olama'")
        }
    }

    /// Every spec the repository ships loads, and its tools' options are ones the tools take.
    @Test func everyShippedSpecIsValid() throws {
        let agents = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("agents").path
        let paths = AgentSpec.paths(in: agents)
        #expect(paths.count >= 2, "\(paths)")
        for path in paths {
            let spec = try AgentSpec.load(path: path)
            #expect(!spec.tools.isEmpty, "\(path)")
            _ = try Toolbox.options(spec.settings)
        }
    }
}

/// The one budget check both loops make before their next step.
@Suite struct BudgetsTests {
    @Test func eachBudgetIsSpentAtItsLimitAndNotBefore() {
        var budgets = AgentSpec.Budgets()
        (budgets.steps, budgets.tokens, budgets.costUSD, budgets.wallTime) = (3, 1000, 0.5, .seconds(10))
        var used = ProfileUsage()
        #expect(budgets.spent(steps: 2, used: used, elapsed: 9_999) == nil)
        #expect(budgets.spent(steps: 3, used: used, elapsed: 0) == "the step budget (3) is spent")
        used.inputTokens = 600
        used.outputTokens = 400
        #expect(budgets.spent(steps: 0, used: used, elapsed: 0) == "the token budget (1000) is spent (1000 used)")
        used.outputTokens = 0
        used.costUSD = 0.5
        #expect(budgets.spent(steps: 0, used: used, elapsed: 0) == "the cost budget ($0.50) is spent ($0.5000)")
        used.costUSD = 0
        #expect(budgets.spent(steps: 0, used: used, elapsed: 10_000) == "the wall-time budget (10 s) is spent")
    }
}
