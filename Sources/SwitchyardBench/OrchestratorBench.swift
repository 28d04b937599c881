import ArgumentParser
import Curl
import Foundation
import Switchyard
import SwitchyardTesting
import Synchronization

struct OrchestratorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchestrator",
        abstract: "Orchestration overhead per step, against a zero-latency scripted planner on loopback.",
        discussion: """
            A planned run of --steps rounds: each round the scripted server (OpenAI format, replies \
            ready in advance) plans one tool step, the executor runs it, and everything is recorded \
            in a trace store on disk. Reports the median and p99 time per round (planner request, \
            response, tool call, trace writes), the whole run, the process's peak memory, and how \
            long auditing the run takes.
            """
    )

    @Option(help: "Planner rounds, each with one tool step.") var steps = 1000

    struct Echo: Tool {
        var name: String { "echo" }
        var reads: Labels { Labels(.internal, .trusted) }
        var description: String { "Echo a text." }
        var parameters: JSONValue { ["type": "object", "properties": ["text": ["type": "string"]]] }
        func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
            ToolOutput(text: arguments.string("text") ?? "", data: .null, labels: Labels(.internal, .trusted))
        }
    }

    func run() async throws {
        let scratch = try TemporaryDirectory("orchestrator-bench")
        let server = try ScriptedModelServer()
        func reply(_ plan: JSONValue, _ id: Int) -> ScriptedReply { .openAIPlan(plan, id: id) }
        for round in 1...steps {
            server.enqueue(
                "/v1/chat/completions",
                reply(
                    ["steps": [["kind": "tool", "tool": "echo", "arguments": ["text": .string("round \(round)")]]]],
                    round))
        }
        server.enqueue("/v1/chat/completions", reply(["answer": "done"], steps + 1))

        let spec = try AgentSpec(
            text: """
                ---
                name: bench
                planner: cloud
                model: cloud
                profiles:
                  cloud: { provider: openai-compatible, base_url: "\(server.baseURL)/v1", model: m }
                tools:
                  echo: {}
                budgets: { steps: \(steps * 2 + 10), tokens: 100000000, cost_usd: 1000, wall_seconds: 3600 }
                ---
                Benchmark.
                """, file: "bench.md", hash: "bench")
        let store = try TraceStore(path: scratch.path + "/traces.db")
        let run = try await store.startRun(agent: "bench", task: "bench", header: [:], at: 0)
        let marks = Mutex<[ContinuousClock.Instant]>([])
        let orchestrator = Orchestrator(
            spec: spec,
            profiles: [
                .scripted("cloud", baseURL: server.baseURL, clearance: .internal)
            ],
            tools: [Echo()], workspace: try spec.settings.workspaceLabels(),
            effects: LiveEffects(store: store, run: run, clock: TraceStore.wallClock),
            progress: { event in
                if case .planning = event { marks.withLock { $0.append(.now) } }
            })
        let started = ContinuousClock.now
        let result = try await orchestrator.run(task: "bench")
        let total = ContinuousClock.now - started
        let instants = marks.withLock { $0 }
        let rounds = zip(instants.dropFirst(), instants).map { ($0 - $1).seconds * 1000 }.sorted()
        guard !rounds.isEmpty else { throw ValidationError("no rounds ran: \(result.stopReason)") }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let events = try await store.events(run).count
        print("rounds \(rounds.count) (\(result.stopReason)), \(events) trace events")
        print(
            "per round (plan request + tool step + trace writes): median \(format(rounds[rounds.count / 2], digits: 3)) ms, p99 \(format(rounds[min(rounds.count - 1, rounds.count * 99 / 100)], digits: 3)) ms, first 100 median \(format(Array(rounds.prefix(100)).sorted()[min(49, rounds.count - 1)], digits: 3)) ms"
        )
        print("whole run \(format(total.seconds, digits: 2)) s; peak memory \(usage.ru_maxrss / 1024) MB")
        // What `switchyard audit` does with the run: both checks, the bytes of every request.
        let recorded = try await store.events(run, resolvingBlobs: true)
        let auditStarted = ContinuousClock.now
        let audit = Audit(events: recorded, task: "bench", header: RunHeader())
        let auditTime = ContinuousClock.now - auditStarted
        print(
            "audit of the run: \(format(auditTime.seconds * 1000, digits: 1)) ms for \(audit.egress.count) egress, \(audit.leaks.count) leaks"
        )
    }
}
