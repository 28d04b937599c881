import Foundation

/// A model profile as a run uses it: its provider, how far it is trusted, what it costs.
public struct ProfileBinding: Sendable {
    public var name: String
    public var provider: any ModelProvider
    public var clearance: Confidentiality
    /// Where requests go, for the guard and `audit`.
    public var destination: String
    public var price: ModelProfile.Price?

    public init(
        name: String, provider: any ModelProvider, clearance: Confidentiality, destination: String,
        price: ModelProfile.Price? = nil
    ) {
        self.name = name
        self.provider = provider
        self.clearance = clearance
        self.destination = destination
        self.price = price
    }
}

/// What a run reports as it goes, for a progress display.
public enum RunProgress: Sendable {
    case planning(round: Int)
    case step(handle: String, kind: String, detail: String)
    case route(step: String, profile: String?, reason: String)
    case finished(handle: String, kind: String, labels: Labels)
    /// A step failed; the planner sees why (when it is cleared for the step's inputs).
    case failed(handle: String, reason: String, labels: Labels)
    case tokens(profile: String, input: Int, output: Int)
}

/// How a run ended.
public struct RunResult: Sendable {
    public var answer: String
    /// `finished`, or why a budget stopped it.
    public var stopReason: String
    public var artifacts: [Artifact]
    public var steps: Int
    public var tokens: Int
    public var costUSD: Double
    /// Tokens and cost by profile.
    public var usage: [String: ModelGateway.Usage]
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

    public init(
        spec: AgentSpec, profiles: [ProfileBinding], tools: [any Tool], effects: any Effects,
        progress: @escaping @Sendable (RunProgress) -> Void = { _ in }
    ) {
        self.spec = spec
        self.tools = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0) })
        let sorted = tools.sorted { $0.name < $1.name }
        self.planTools = (Self.planTool(tools: sorted, first: true), Self.planTool(tools: sorted, first: false))
        self.effects = effects
        self.progress = progress
        self.router = Router(profiles: profiles, routing: spec.routing, defaultProfile: spec.model)
        self.runGuard = RunGuard(allowExfiltration: spec.privacy.allowExfiltration, workspace: spec.privacy.workspace)
        self.models = ModelGateway(profiles: profiles, runGuard: runGuard, effects: effects, progress: progress)
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
            handle: "$2", instruction: task, inputs: [], toolNames: Array(tools.keys).sorted())
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
            if artifacts.artifacts.count > 1 { messages.append(.user(observations(clearance: binding.clearance))) }
            if let correction { messages.append(.user(correction)) }
            correction = nil
            // What the planner reads in full, and so what its request carries.
            let labels = artifacts.artifacts.filter { $0.labels.confidentiality <= binding.clearance }
                .reduce(Labels.userInput) { $0.join($1.labels) }
            // Until a step has run, the planner is asked for steps.
            let planTool = artifacts.artifacts.count == 1 ? planTools.first : planTools.later
            let request = ModelRequest(messages: messages, tools: [planTool], toolChoice: .tool("plan"))
            let response: ModelResponse
            do {
                response = try await models.call(request, binding: binding, labels: labels, step: step)
            } catch let error as RefusedEgress {
                return try await finish(answer: "", reason: "stopped: \(error.reason)")
            }
            steps += 1
            guard let call = response.toolCalls.first(where: { $0.name == "plan" }),
                let plan = try? JSONValue(parsing: call.arguments)
            else {
                correction = "Your last answer was not a call of the plan tool. Call plan with steps or an answer."
                continue
            }
            try await effects.note("plan", step: step, payload: plan)
            let planned = plan["steps"]?.arrayValue ?? []
            if planned.isEmpty {
                if let answer = plan["answer"]?.stringValue {
                    return try await finish(answer: answer, reason: "finished")
                }
                correction = "Your last plan had no steps and no answer."
                continue
            }
            // Handles are given in plan order, before anything runs, so they do not depend on
            // which step finishes first.
            let first = artifacts.artifacts.count + 1
            let outcomes = await withTaskGroup(of: (Int, Artifact).self) { group in
                for (offset, item) in planned.enumerated() {
                    let handle = "$\(first + offset)"
                    group.addTask { (offset, await self.execute(item, handle: handle)) }
                }
                var collected: [(Int, Artifact)] = []
                for await outcome in group { collected.append(outcome) }
                return collected.sorted { $0.0 < $1.0 }.map(\.1)
            }
            for outcome in outcomes {
                artifacts.add(kind: outcome.kind, labels: outcome.labels, text: outcome.text, data: outcome.data)
                runGuard.observe(outcome.labels)
                steps += 1
            }
        }
    }

    /// The results so far as the planner may see them: the most recent in full (within its
    /// clearance), older ones by handle, kind and size.
    private func observations(clearance: Confidentiality) -> String {
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
            lines.append(
                "\(artifact.handle) \(artifact.kind), \(artifact.text.utf8.count) bytes (older; pass the handle on to read it)"
            )
        }
        for artifact in recent { lines.append(artifact.view(clearance: clearance).canonicalText) }
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
            Results you are not cleared to read are shown as their handle, kind and size only: pass the handle on \
            to a model or agent step instead of asking for the content.
            Tools:
            \(catalog)
            """
    }

    // MARK: Steps

    /// Runs one planned step; whatever happens becomes an artifact (a failure too).
    private func execute(_ item: JSONValue, handle: String) async -> Artifact {
        let kind = item["kind"]?.stringValue ?? ""
        let inputs = item["inputs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        // What a failure's message may echo: the step's inputs, and results named in its arguments.
        let sources = inputs + ArtifactStore.handles(in: item["arguments"] ?? .null)
        do {
            switch kind {
            case "tool":
                guard let name = item["tool"]?.stringValue else { throw PlanError("a tool step needs a tool") }
                return try await toolStep(handle: handle, name: name, arguments: item["arguments"] ?? [:])
            case "model":
                guard let instruction = item["instruction"]?.stringValue else {
                    throw PlanError("a model step needs an instruction")
                }
                return try await modelStep(
                    handle: handle, instruction: instruction, inputs: inputs, role: item["role"]?.stringValue)
            case "declassify":
                guard let input = inputs.first else { throw PlanError("a declassify step needs one input") }
                return try await declassifyStep(
                    handle: handle, input: input, instruction: item["instruction"]?.stringValue)
            case "agent":
                guard let instruction = item["instruction"]?.stringValue else {
                    throw PlanError("an agent step needs an instruction")
                }
                let names = item["tools"]?.arrayValue?.compactMap(\.stringValue) ?? Array(tools.keys).sorted()
                return try await agentStep(handle: handle, instruction: instruction, inputs: inputs, toolNames: names).0
            default:
                throw PlanError("unknown step kind '\(kind)'; use tool, model, agent or declassify")
            }
        } catch {
            let labels = sources.compactMap { artifacts[$0]?.labels }.reduce(Labels.userInput) { $0.join($1) }
            let artifact = Artifact(
                handle: handle, kind: "error", labels: labels, text: "\(kind) step failed: \(error)")
            // Recorded like any result, so `trace show` says why; a failure to record it
            // surfaces as the run's error on the next effect.
            try? await effects.note(
                "step.failed", step: handle,
                payload: ["kind": .string(kind), "labels": labels.json, "error": .string("\(error)")])
            progress(.failed(handle: handle, reason: "\(error)", labels: labels))
            return artifact
        }
    }

    private func toolStep(handle: String, name: String, arguments: JSONValue) async throws -> Artifact {
        guard let tool = tools[name] else {
            throw PlanError("no tool is called \(name); the tools are \(tools.keys.sorted().joined(separator: ", "))")
        }
        let inputs = ArtifactStore.handles(in: arguments)
        let labels = try artifacts.labels(of: inputs)
        let resolved = substitute(arguments)
        progress(.step(handle: handle, kind: "tool:\(name)", detail: resolved.canonicalText))
        let context = ToolContext(egressGuard: runGuard.forStep(carrying: labels, recordingIn: effects, step: handle))
        let output = try await effects.tool(name, arguments: resolved, step: handle) {
            try await tool.invoke(resolved, context: context).json
        }
        let artifact = Artifact(
            handle: handle, kind: "tool:\(name)", labels: Labels(recorded: output["labels"]).join(labels),
            text: output["text"]?.stringValue ?? "", data: output["data"] ?? .null)
        try await recordFinished(artifact)
        return artifact
    }

    private func modelStep(handle: String, instruction: String, inputs: [String], role: String?) async throws
        -> Artifact
    {
        let labels = try artifacts.labels(of: inputs)
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
    /// says (see `Declassification`).
    private func declassifyStep(handle: String, input: String, instruction: String?) async throws -> Artifact {
        guard let source = artifacts[input] else { throw PlanError("there is no artifact \(input)") }
        let planner = spec.planner.flatMap { models.profiles[$0] }
        let declassification = Declassification(
            policy: spec.privacy.declassify, router: router, models: models, effects: effects)
        switch try await declassification.release(
            source.text, labels: source.labels, source: input, to: planner?.name,
            clearance: planner?.clearance ?? .internal, focus: instruction, step: handle)
        {
        case .refused(let reason):
            throw PlanError(reason)
        case .released(let text, let labels):
            let artifact = Artifact(handle: handle, kind: "declassified", labels: labels, text: text)
            try await recordFinished(artifact)
            return artifact
        }
    }

    /// A sub-task as a tool-calling loop on one model: the calls of each turn run at once,
    /// until the model answers or the step budget ends.
    private func agentStep(handle: String, instruction: String, inputs: [String], toolNames: [String]) async throws
        -> (Artifact, String)
    {
        let offered = toolNames.compactMap { tools[$0] }
        // The model will read what the tools return: route for the workspace's labels too.
        var labels = try artifacts.labels(of: inputs)
        if !offered.isEmpty { labels = labels.join(spec.privacy.workspace) }
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
            let response = try await models.callWithFallback(request, order: order, labels: seen, step: handle)
            steps += 1
            if response.toolCalls.isEmpty {
                let artifact = Artifact(handle: handle, kind: "agent", labels: seen, text: response.text)
                try await recordFinished(artifact)
                return (artifact, "finished")
            }
            messages.append(ChatMessage(role: .assistant, content: response.text, toolCalls: response.toolCalls))
            let calls = response.toolCalls
            let currentTurn = turn
            let seenSoFar = seen
            let results = await withTaskGroup(of: (Int, String, Labels).self) { group in
                for (index, call) in calls.enumerated() {
                    let step = "\(handle).\(currentTurn).\(index + 1)"
                    group.addTask {
                        let outcome = await self.agentToolCall(call, allowed: toolNames, seen: seenSoFar, step: step)
                        return (index, outcome.0, outcome.1)
                    }
                }
                var collected: [(Int, String, Labels)] = []
                for await result in group { collected.append(result) }
                return collected.sorted { $0.0 < $1.0 }
            }
            for (index, text, resultLabels) in results {
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
    /// `seen`, so that is what the guard weighs.
    private func agentToolCall(_ call: ToolCall, allowed: [String], seen: Labels, step: String) async -> (
        String, Labels
    ) {
        guard allowed.contains(call.name), let tool = tools[call.name] else {
            return ("error: no tool \(call.name) in this step", Labels.userInput)
        }
        let arguments = (try? JSONValue(parsing: call.arguments)) ?? .object([:])
        let context = ToolContext(egressGuard: runGuard.forStep(carrying: seen, recordingIn: effects, step: step))
        do {
            let output = try await effects.tool(call.name, arguments: arguments, step: step) {
                try await tool.invoke(arguments, context: context).json
            }
            return (output["text"]?.stringValue ?? "", Labels(recorded: output["labels"]))
        } catch {
            return ("error: \(error)", Labels.userInput)
        }
    }

    // MARK: Models, routes and the guard

    private func route(step: String, _ request: Router.Request) async throws -> [String] {
        let decision = router.route(request)
        try await effects.note("route", step: step, payload: decision.json)
        progress(.route(step: step, profile: decision.profiles.first, reason: decision.reason))
        guard !decision.profiles.isEmpty else { throw PlanError(decision.reason) }
        return decision.profiles
    }

    private func exhaustedBudget() async throws -> String? {
        let budgets = spec.budgets
        if steps >= budgets.steps { return "stopped: the step budget (\(budgets.steps)) is spent" }
        let used = models.total
        let tokens = used.tokens
        let cost = used.costUSD
        if tokens >= budgets.tokens { return "stopped: the token budget (\(budgets.tokens)) is spent (\(tokens) used)" }
        if cost >= budgets.costUSD {
            return String(format: "stopped: the cost budget ($%.2f) is spent ($%.4f)", budgets.costUSD, cost)
        }
        let elapsed = try await effects.now() - started
        if Double(elapsed) / 1000 >= Double(budgets.wallTime.components.seconds) {
            return "stopped: the wall-time budget (\(budgets.wallTime.components.seconds) s) is spent"
        }
        return nil
    }

    private func recordFinished(_ artifact: Artifact) async throws {
        try await effects.note(
            "step.finished", step: artifact.handle,
            payload: [
                "kind": .string(artifact.kind), "labels": artifact.labels.json,
                "bytes": .number(Double(artifact.text.utf8.count)),
            ])
        progress(.finished(handle: artifact.handle, kind: artifact.kind, labels: artifact.labels))
    }

    /// Arguments with every string that is exactly a handle replaced by that result's text.
    private func substitute(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            if let artifact = artifacts[text] { return .string(artifact.text) }
            return value
        case .array(let items): return .array(items.map(substitute))
        case .object(let object): return .object(object.mapValues(substitute))
        default: return value
        }
    }

    private func finish(answer: String, reason: String) async throws -> RunResult {
        var text = answer
        for artifact in artifacts.artifacts.reversed() where text.contains(artifact.handle) {
            text = text.replacingOccurrences(of: artifact.handle, with: artifact.text)
        }
        let used = models.total
        try await effects.record(
            "run.finished", step: nil,
            payload: [
                "answer": .string(text), "reason": .string(reason), "steps": .number(Double(steps)),
                "tokens": .number(Double(used.tokens)),
            ])
        return RunResult(
            answer: text, stopReason: reason, artifacts: artifacts.artifacts, steps: steps, tokens: used.tokens,
            costUSD: used.costUSD, usage: models.usageByProfile, guardDecisions: runGuard.decisions)
    }
}
