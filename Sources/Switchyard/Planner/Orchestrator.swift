import Foundation

/// Why a run ended.
public enum StopReason: Sendable, Hashable, CustomStringConvertible {
    /// The agent gave its answer.
    case finished
    /// A budget or the guard stopped the run first; the reason says which and how far.
    case stopped(String)

    /// As the trace records it: `finished`, or `stopped: ` and the reason.
    public var description: String {
        switch self {
        case .finished: "finished"
        case .stopped(let reason): "stopped: \(reason)"
        }
    }
}

/// How a run ended.
public struct RunResult: Sendable {
    public var answer: String
    public var stopReason: StopReason
    public var artifacts: [Artifact]
    public var steps: Int
    public var tokens: Int
    public var costUSD: Double
    /// Tokens and cost by profile.
    public var usage: [String: ProfileUsage]
    public var guardDecisions: [RunGuard.Decision]

    /// The workspace lines the run's steps read, merged per file: where to check the answer.
    public var sources: [SourceLocation] {
        SourceLocation.merged(artifacts.flatMap(SourceLocation.shown(by:)))
    }
}

/// The plan–execute loop: the planner proposes steps, the executor runs them (independent
/// steps at once), keeps every result as a labelled artifact, and shows the planner its view
/// of them; failures are observations; budgets stop the run with a reason. Every model
/// call, tool call and decision goes through the run's effects, so the run replays.
public actor Orchestrator {
    public let spec: AgentSpec
    private let tools: [String: any Tool]
    private let effects: any Effects
    private let progress: @Sendable (RunProgress) -> Void
    private let router: Router
    /// The plan tool of the first round (steps only) and of the later ones.
    private let planTools: (first: ToolSpec, later: ToolSpec)
    public let runGuard: RunGuard

    private var artifacts = ArtifactStore()
    private let models: ModelGateway
    private var steps = 0
    private var started: Int64 = 0
    /// The withheld results whose coarse metadata the planner has been shown (each once).
    private var metadataShown: Set<String> = []

    /// An orchestrator for `spec` with the tools and profiles of its `setup`.
    public init(
        spec: AgentSpec, setup: AgentSetup, effects: any Effects,
        progress: @escaping @Sendable (RunProgress) -> Void = { _ in }
    ) {
        self.init(
            spec: spec, profiles: setup.bindings, tools: setup.tools, workspace: setup.workspaceLabels,
            effects: effects, progress: progress)
    }

    /// An orchestrator for `spec` with `tools` and `profiles`, in a workspace whose files carry
    /// `workspace` (what the guard takes a sender that reads them on its own to hold).
    public init(
        spec: AgentSpec, profiles: [ProfileBinding], tools: [any Tool], workspace: Labels, effects: any Effects,
        progress: @escaping @Sendable (RunProgress) -> Void = { _ in }
    ) {
        self.spec = spec
        self.tools = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0) })
        let sorted = tools.sorted { $0.name < $1.name }
        self.planTools = (Self.planTool(tools: sorted, first: true), Self.planTool(tools: sorted, first: false))
        self.effects = effects
        self.progress = progress
        self.router = Router(profiles: profiles, routing: spec.routing, defaultProfile: spec.model)
        self.runGuard = RunGuard(allowExfiltration: spec.privacy.allowExfiltration, workspace: workspace)
        self.models = ModelGateway(
            profiles: profiles, runGuard: runGuard, effects: effects,
            budgets: spec.budgets, progress: progress)
    }

    /// The planner's answer: steps to run next, or the answer. Each step kind is its own
    /// schema, and each tool step names one of the run's tools with that tool's own
    /// arguments, so a backend that constrains tool calls to their schema (llama.cpp's
    /// grammars) can only produce steps the executor can run. The first round must plan
    /// steps: an agent with a planner is for work that takes some (one that needs none
    /// does without a planner and answers in its tool-calling loop).
    static func planTool(tools: [any Tool], first: Bool) -> ToolSpec {
        func step(_ kind: String, _ properties: [String: JSONValue], required: [String]) -> JSONValue {
            var properties = properties
            properties["kind"] = ["const": .string(kind)]
            return [
                "type": "object", "properties": .object(properties),
                "required": .array((["kind"] + required).map(JSONValue.string)), "additionalProperties": false,
            ]
        }
        let inputs: JSONValue = [
            "type": "array", "items": ["type": "string"],
            "description": "Handles ($N) of earlier results the step reads.",
        ]
        let instruction: JSONValue = ["type": "string", "description": "What to do."]
        let names = JSONValue.array(tools.map { .string($0.name) })
        var kinds: [JSONValue] = tools.map { tool in
            var arguments = tool.parameters.objectValue ?? [:]
            arguments["description"] = "The tool's arguments; the string \"$N\" stands for an earlier result."
            return step(
                "tool", ["tool": ["const": .string(tool.name)], "arguments": .object(arguments)],
                required: ["tool", "arguments"])
        }
        kinds += [
            step(
                "model",
                [
                    "instruction": instruction, "inputs": inputs,
                    "role": ["type": "string", "description": "reasoning, code, summary, …"],
                ], required: ["instruction"]),
            step(
                "agent",
                [
                    "instruction": instruction, "inputs": inputs,
                    "tools": ["type": "array", "items": ["enum": names], "description": "The tools it may use."],
                ], required: ["instruction"]),
            step("declassify", ["inputs": inputs, "instruction": instruction], required: ["inputs"]),
        ]
        return ToolSpec(
            name: "plan",
            description:
                "Say what to do next: steps to run now (they run at the same time), or finish with the answer.",
            parameters: first
                ? [
                    "type": "object",
                    "properties": ["steps": ["type": "array", "items": ["anyOf": .array(kinds)], "minItems": 1]],
                    "required": ["steps"], "additionalProperties": false,
                ]
                : [
                    "type": "object",
                    "properties": [
                        "steps": ["type": "array", "items": ["anyOf": .array(kinds)]],
                        "answer": [
                            "type": "string",
                            "description": "The final answer; \"$N\" is replaced by that result's text.",
                        ],
                    ],
                    "additionalProperties": false,
                ])
    }

    public func run(task: String) async throws -> RunResult {
        started = try await effects.now()
        artifacts.add(kind: "task", labels: .userInput, text: task)
        if let planner = spec.planner {
            return try await planLoop(planner: planner)
        }
        let (answer, reason) = try await agentStep(
            handle: "$2", instruction: task, inputs: [], toolNames: Array(tools.keys).sorted(), carrying: .userInput)
        return try await finish(answer: answer.text, reason: reason)
    }

    // MARK: The planner

    private func planLoop(planner: String) async throws -> RunResult {
        guard let binding = models.profiles[planner] else {
            throw PlanError("the planner profile \(planner) is not available")
        }
        var round = 0
        var correction: String?
        while true {
            if let reason = try await exhaustedBudget() { return try await finish(answer: "", reason: reason) }
            round += 1
            progress(.planning(round: round))
            let step = "plan-\(round)"
            // Each round the planner gets the task and the state of the run — not the whole
            // conversation so far, which would grow without bound.
            var messages: [ChatMessage] = [
                .system(spec.systemPrompt + "\n\n" + plannerInstructions()),
                .user("Task ($1): \(artifacts["$1"]!.text)"),
            ]
            if artifacts.artifacts.count > 1 {
                messages.append(.user(try await observations(clearance: binding.clearance, step: step)))
            }
            if let correction { messages.append(.user(correction)) }
            correction = nil
            // What the planner reads in full, and so what its request carries — and what
            // everything it writes back carries too.
            let labels = artifacts.artifacts.filter { $0.labels.confidentiality <= binding.clearance }
                .reduce(Labels.userInput) { $0.join($1.labels) }
            // Until a step has run, the planner is asked for steps.
            let planTool = artifacts.artifacts.count == 1 ? planTools.first : planTools.later
            let request = ModelRequest(messages: messages, tools: [planTool], toolChoice: .tool("plan"))
            let response: ModelResponse
            do {
                response = try await models.call(request, binding: binding, labels: labels, step: step)
            } catch let error as RefusedEgress {
                return try await finish(answer: "", reason: .stopped(error.reason))
            } catch let error as BudgetSpent {
                return try await finish(answer: "", reason: .stopped(error.reason))
            }
            steps += 1
            guard let call = response.toolCalls.first(where: { $0.name == "plan" }),
                let plan = try? JSONValue(parsing: call.arguments)
            else {
                correction = "Your last answer was not a call of the plan tool. Call plan with steps or an answer."
                continue
            }
            try await effects.note(.plan, step: step, payload: plan)
            let planned = plan["steps"]?.arrayValue ?? []
            if planned.isEmpty {
                if let answer = plan["answer"]?.stringValue {
                    return try await finish(answer: answer, reason: .finished)
                }
                correction = "Your last plan had no steps and no answer."
                continue
            }
            // A round runs no more steps than the budget has left.
            let granted = reserveSteps(planned.count)
            if granted < planned.count {
                try await effects.note(
                    .budget, step: step,
                    payload: [
                        "planned": .number(Double(planned.count)), "run": .number(Double(granted)),
                        "reason": .string("the step budget (\(spec.budgets.steps)) has \(granted) steps left"),
                    ])
            }
            // Handles are given in plan order, before anything runs, so they do not depend on
            // which step finishes first.
            let first = artifacts.artifacts.count + 1
            let outcomes = await Self.concurrently(granted) { offset in
                await self.execute(planned[offset], written: labels, handle: "$\(first + offset)")
            }
            for outcome in outcomes {
                artifacts.add(
                    kind: outcome.kind, labels: outcome.labels, text: outcome.text, data: outcome.data,
                    failed: outcome.failed)
                runGuard.observe(outcome.labels)
            }
        }
    }

    /// `body` of each of `0..<count` at once, results in that order: several run each in a
    /// task of its own, a lone one (most turns make one call) in this task, which costs no
    /// task and no hand-over between threads.
    private static func concurrently<Result: Sendable>(
        _ count: Int, _ body: @escaping @Sendable (Int) async -> Result
    ) async -> [Result] {
        if count == 1 { return [await body(0)] }
        return await withTaskGroup(of: (Int, Result).self) { group in
            for index in 0..<count { group.addTask { (index, await body(index)) } }
            var collected: [(Int, Result)] = []
            for await outcome in group { collected.append(outcome) }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// Takes up to `wanted` steps from the budget; how many it gave.
    private func reserveSteps(_ wanted: Int) -> Int {
        let granted = max(0, min(wanted, spec.budgets.steps - steps))
        steps += granted
        return granted
    }

    /// The results so far as the planner may see them: the most recent in full (within its
    /// clearance), older ones by handle and kind. Nothing about a withheld result depends on
    /// its content unless the spec opts in to coarse metadata, whose every release is recorded.
    private func observations(clearance: Confidentiality, step: String) async throws -> String {
        let all = artifacts.artifacts.dropFirst()
        let recent = all.suffix(Self.recentResults)
        let older = all.prefix(all.count - recent.count)
        let listed = older.suffix(Self.listedResults)
        var lines = ["Results so far:"]
        if listed.count < older.count, let first = older.first, let last = older.dropLast(listed.count).last {
            var counts: [String: Int] = [:]
            for artifact in older.dropLast(listed.count) { counts[artifact.kind, default: 0] += 1 }
            let summary = counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            lines.append("\(first.handle)–\(last.handle): \(older.count - listed.count) older results (\(summary))")
        }
        for artifact in listed {
            lines.append("\(artifact.handle) \(artifact.kind) (older; pass the handle on to read it)")
        }
        let coarse = spec.privacy.plannerMetadata == .coarse
        for artifact in recent {
            let view = artifact.view(clearance: clearance, metadata: coarse)
            if coarse, view["metadata"] != nil, metadataShown.insert(artifact.handle).inserted {
                let metadata = artifact.coarseMetadata
                try await effects.note(
                    .plannerMetadata, step: step,
                    payload: [
                        "handle": .string(artifact.handle), "metadata": metadata.json, "bits": .number(metadata.bits),
                    ])
            }
            lines.append(view.canonicalText)
        }
        return lines.joined(separator: "\n")
    }

    /// How many of the latest results the planner sees in full, and how many before those
    /// it sees listed one by one; older ones are counted by kind.
    static let recentResults = 12
    static let listedResults = 100

    private func plannerInstructions() -> String {
        let catalog = tools.keys.sorted().map { name in "- \(name): \(tools[name]!.description)" }.joined(
            separator: "\n")
        return """
            You plan; an executor runs your steps. Call the plan tool with steps that can run at the same time, \
            or with an answer when you are done. Step kinds: tool (a tool with arguments), model (an instruction \
            for a model, reading inputs by handle), agent (a sub-task a model works through with some tools), \
            declassify (ask for a releasable version of one withheld input, if the spec allows it). \
            Every result gets a handle ($1 is the task, then $2, $3, … in order); refer to results by handle. \
            Results you are not cleared to read are shown as their handle and kind only: pass the handle on \
            to a model or agent step instead of asking for the content.
            Tools:
            \(catalog)
            """
    }

    // MARK: Steps

    /// Runs one planned step, written by a planner that had read `written`; whatever happens
    /// becomes an artifact. A failure is labelled like the result it did not produce — by what
    /// the step read and what its tools can read — since its message may quote any of it.
    private func execute(_ item: JSONValue, written: Labels, handle: String) async -> Artifact {
        let step: PlannedStep
        do {
            step = try PlannedStep(parsing: item, written: written)
        } catch {
            let labels = written.join(artifacts.knownLabels(of: ArtifactHandle.mentions(in: item)))
            return await failure(
                handle: handle, kind: PlannedStep.plannedKind(of: item), labels: labels, error: error)
        }
        do {
            // What the step carries into its tool or model: what its author read, and every
            // result it names (its inputs must exist).
            let carried = step.written.join(try artifacts.labels(of: step.inputs))
                .join(artifacts.knownLabels(of: step.mentions))
            switch step.action {
            case .tool(let name, let arguments):
                return try await toolStep(handle: handle, name: name, arguments: arguments, carrying: carried)
            case .model(let instruction, let inputs, let role):
                return try await modelStep(
                    handle: handle, instruction: instruction, inputs: inputs, role: role, carrying: carried)
            case .declassify(let input, let focus):
                return try await declassifyStep(handle: handle, input: input, focus: focus, written: written)
            case .agent(let instruction, let inputs, let names):
                return try await agentStep(
                    handle: handle, instruction: instruction, inputs: inputs,
                    toolNames: names ?? Array(tools.keys).sorted(), carrying: carried
                ).0
            }
        } catch {
            return await failure(handle: handle, kind: step.kind, labels: failureLabels(of: step), error: error)
        }
    }

    /// The labels of what `step` would have produced: what it was written from, what it
    /// names, and what its tools can read.
    private func failureLabels(of step: PlannedStep) -> Labels {
        var labels = step.written.join(artifacts.knownLabels(of: step.mentions))
        switch step.action {
        case .tool(let name, _):
            labels = labels.join(tools[name]?.reads ?? .userInput)
        case .agent(_, _, let names):
            for name in names ?? Array(tools.keys) { labels = labels.join(tools[name]?.reads ?? .userInput) }
        case .model, .declassify:
            break
        }
        return labels
    }

    private func failure(handle: String, kind: String, labels: Labels, error: any Error) async -> Artifact {
        // Recorded like any result, so `trace show` says why; a failure to record it
        // surfaces as the run's error on the next effect.
        try? await effects.note(
            .stepFailed, step: handle,
            payload: ["kind": .string(kind), "labels": labels.json, "error": .string("\(error)")])
        progress(.failed(handle: handle, reason: "\(error)", labels: labels))
        return Artifact(
            handle: handle, kind: kind, labels: labels, text: "\(kind) step failed: \(error)", failed: true)
    }

    /// A tool step whose arguments carry `labels`.
    private func toolStep(handle: String, name: String, arguments: JSONValue, carrying labels: Labels) async throws
        -> Artifact
    {
        guard let tool = tools[name] else {
            throw PlanError("no tool is called \(name); the tools are \(tools.keys.sorted().joined(separator: ", "))")
        }
        let resolved = artifacts.substitute(arguments)
        progress(.step(handle: handle, kind: "tool:\(name)", detail: resolved.canonicalText))
        let context = ToolContext(
            egressGuard: runGuard.forStep(carrying: labels, recordingIn: effects, step: handle), inputLabels: labels)
        let output = try await effects.tool(name, arguments: resolved, step: handle) {
            try await tool.invoke(resolved, context: context).json
        }
        let artifact = Artifact(
            handle: handle, kind: "tool:\(name)",
            labels: Labels(recorded: output["labels"]).join(tool.reads).join(labels),
            text: output["text"]?.stringValue ?? "", data: output["data"] ?? .null)
        try await recordFinished(artifact)
        return artifact
    }

    /// A model step whose prompt carries `labels`: its instruction, and the text of `inputs`.
    private func modelStep(
        handle: String, instruction: String, inputs: [ArtifactHandle], role: String?, carrying labels: Labels
    ) async throws -> Artifact {
        var prompt = instruction
        for input in inputs {
            let artifact = artifacts[input]!
            prompt += "\n\n\(input) (\(artifact.kind)):\n\(artifact.text)"
        }
        let order = try await route(
            step: handle, Router.Request(inputLabels: labels, role: role, estimatedTokens: prompt.utf8.count / 4))
        let request = ModelRequest(messages: [
            .system("You carry out one step of a larger task. Answer the instruction from the inputs given."),
            .user(prompt),
        ])
        progress(.step(handle: handle, kind: "model", detail: String(instruction.prefix(80))))
        let response = try await models.callWithFallback(request, order: order, labels: labels, step: handle)
        let artifact = Artifact(handle: handle, kind: "model", labels: labels, text: response.text)
        try await recordFinished(artifact)
        return artifact
    }

    /// Releases a version of a withheld artifact the planner may read, as the spec's policy
    /// says (see `Declassification`). The focus is the planner's, labelled like it; a refusal
    /// tells the planner only that nothing was released (its recorded reason may quote the
    /// source), and is itself a release of that one bit, recorded.
    private func declassifyStep(handle: String, input: ArtifactHandle, focus: String?, written: Labels) async throws
        -> Artifact
    {
        guard let source = artifacts[input] else { throw PlanError("there is no artifact \(input)") }
        let planner = spec.planner.flatMap { models.profiles[$0] }
        let clearance = planner?.clearance ?? .internal
        let declassification = Declassification(
            policy: spec.privacy.declassify, router: router, models: models, effects: effects)
        switch try await declassification.release(
            source.text, labels: source.labels, source: input.description, to: planner?.name,
            clearance: clearance, focus: focus.map { Labelled($0, written) }, step: handle)
        {
        case .refused(let reason):
            let labels = Labels(min(source.labels.confidentiality, clearance), source.labels.integrity).join(written)
            return await failure(handle: handle, kind: "declassify", labels: labels, error: PlanError(reason))
        case .released(let text, let labels):
            let artifact = Artifact(handle: handle, kind: "declassified", labels: labels, text: text)
            try await recordFinished(artifact)
            return artifact
        }
    }

    /// A sub-task as a tool-calling loop on one model: the calls of each turn run at once,
    /// until the model answers or the step budget ends. What it writes carries everything it
    /// could read: its inputs, its instruction's author, and whatever its tools can read.
    private func agentStep(
        handle: String, instruction: String, inputs: [ArtifactHandle], toolNames: [String], carrying: Labels
    ) async throws -> (Artifact, StopReason) {
        let offered = toolNames.compactMap { tools[$0] }
        let labels = offered.reduce(carrying) { $0.join($1.reads) }
        var prompt = instruction
        for input in inputs {
            prompt += "\n\n\(input) (\(artifacts[input]!.kind)):\n\(artifacts[input]!.text)"
        }
        let order = try await route(
            step: handle,
            Router.Request(
                inputLabels: labels, role: "agent", estimatedTokens: prompt.utf8.count / 4, needsTools: !offered.isEmpty
            ))
        var messages: [ChatMessage] = [.system(spec.systemPrompt), .user(prompt)]
        var turn = 0
        var seen = labels
        while true {
            if let reason = try await exhaustedBudget() {
                let artifact = Artifact(handle: handle, kind: "agent", labels: seen, text: messages.last?.content ?? "")
                return (artifact, reason)
            }
            turn += 1
            let request = ModelRequest(messages: messages, tools: offered.map(\.spec))
            progress(.step(handle: handle, kind: "agent", detail: "turn \(turn)"))
            let response: ModelResponse
            do {
                response = try await models.callWithFallback(request, order: order, labels: seen, step: handle)
            } catch let error as BudgetSpent {
                let artifact = Artifact(handle: handle, kind: "agent", labels: seen, text: messages.last?.content ?? "")
                return (artifact, .stopped(error.reason))
            }
            steps += 1
            if response.toolCalls.isEmpty {
                let artifact = Artifact(handle: handle, kind: "agent", labels: seen, text: response.text)
                try await recordFinished(artifact)
                return (artifact, .finished)
            }
            messages.append(ChatMessage(role: .assistant, content: response.text, toolCalls: response.toolCalls))
            // Every call is a step: a turn runs no more of them than the budget has left.
            let calls = response.toolCalls
            let granted = reserveSteps(calls.count)
            let currentTurn = turn
            let seenSoFar = seen
            let results = await Self.concurrently(calls.count) { index in
                guard index < granted else { return ("error: not run: the step budget is spent", Labels.userInput) }
                return await self.agentToolCall(
                    calls[index], allowed: toolNames, seen: seenSoFar, step: "\(handle).\(currentTurn).\(index + 1)")
            }
            for (index, (text, resultLabels)) in results.enumerated() {
                let call = response.toolCalls[index]
                messages.append(ChatMessage(role: .tool, content: text, toolCallID: call.id, toolName: call.name))
                seen = seen.join(resultLabels)
                runGuard.observe(resultLabels)
            }
            // A model may read only what its clearance allows: past that, the loop stops.
            if let first = order.first, let clearance = models.profiles[first]?.clearance,
                seen.confidentiality > clearance
            {
                throw PlanError(
                    "the tools returned \(seen.confidentiality) content that \(first) is not cleared to read")
            }
        }
    }

    /// One tool call of an agent's turn; its arguments may carry anything the agent has
    /// `seen`, so that is what the guard weighs. An error is labelled like the tool's output.
    private func agentToolCall(_ call: ToolCall, allowed: [String], seen: Labels, step: String) async -> (
        String, Labels
    ) {
        guard allowed.contains(call.name), let tool = tools[call.name] else {
            return ("error: no tool \(call.name) in this step", Labels.userInput)
        }
        guard let arguments = try? JSONValue(parsing: call.arguments.isEmpty ? "{}" : call.arguments) else {
            return ("error: the arguments of \(call.name) are not valid JSON; call it again with a JSON object", seen)
        }
        let context = ToolContext(
            egressGuard: runGuard.forStep(carrying: seen, recordingIn: effects, step: step), inputLabels: seen)
        do {
            let output = try await effects.tool(call.name, arguments: arguments, step: step) {
                try await tool.invoke(arguments, context: context).json
            }
            return (output["text"]?.stringValue ?? "", Labels(recorded: output["labels"]).join(tool.reads))
        } catch {
            return ("error: \(error)", tool.reads)
        }
    }

    // MARK: Models, routes and the guard

    private func route(step: String, _ request: Router.Request) async throws -> [String] {
        let decision = router.route(request)
        try await effects.note(.route, step: step, payload: decision.json)
        progress(.route(step: step, profile: decision.profiles.first, reason: decision.reason))
        guard !decision.profiles.isEmpty else { throw PlanError(decision.reason) }
        return decision.profiles
    }

    private func exhaustedBudget() async throws -> StopReason? {
        let elapsed = try await effects.now() - started
        return spec.budgets.spent(steps: steps, used: models.total, elapsed: elapsed).map(StopReason.stopped)
    }

    private func recordFinished(_ artifact: Artifact) async throws {
        try await effects.note(
            .stepFinished, step: artifact.handle,
            payload: [
                "kind": .string(artifact.kind), "labels": artifact.labels.json,
                "bytes": .number(Double(artifact.text.utf8.count)),
            ])
        progress(.finished(handle: artifact.handle, kind: artifact.kind, labels: artifact.labels))
    }

    private func finish(answer: String, reason: StopReason) async throws -> RunResult {
        let text = artifacts.substitute(inText: answer)
        let used = models.total
        try await effects.record(
            .runFinished, step: nil,
            payload: [
                "answer": .string(text), "reason": .string(reason.description), "steps": .number(Double(steps)),
                "tokens": .number(Double(used.tokens)),
            ])
        return RunResult(
            answer: text, stopReason: reason, artifacts: artifacts.artifacts, steps: steps, tokens: used.tokens,
            costUSD: used.costUSD, usage: models.usageByProfile, guardDecisions: runGuard.decisions)
    }
}
