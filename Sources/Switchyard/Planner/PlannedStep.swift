/// One step of a plan, parsed once from what the planner wrote. Everything in it was
/// written by a model that had read ``written``: its arguments, instruction and focus carry
/// those labels besides the labels of the handles they name.
public struct PlannedStep: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// A tool with its arguments; a string that is exactly a handle stands for that result.
        case tool(name: String, arguments: JSONValue)
        case model(instruction: String, inputs: [ArtifactHandle], role: String?)
        /// A sub-task a model works through with `tools` (all of the run's when `nil`).
        case agent(instruction: String, inputs: [ArtifactHandle], tools: [String]?)
        /// A releasable version of `input`; `focus` steers a summary.
        case declassify(input: ArtifactHandle, focus: String?)
    }

    public var action: Action
    /// The labels of everything the planner could read when it wrote the step.
    public var written: Labels

    public init(_ action: Action, written: Labels) {
        self.action = action
        self.written = written
    }

    /// The kind an artifact of this step has: `tool:NAME`, `model`, `agent`, `declassify`.
    public var kind: String {
        switch action {
        case .tool(let name, _): "tool:\(name)"
        case .model: "model"
        case .agent: "agent"
        case .declassify: "declassify"
        }
    }

    /// The results the step reads by name (a model's, an agent's, a declassification's
    /// inputs): they must exist.
    public var inputs: [ArtifactHandle] {
        switch action {
        case .tool: []
        case .model(_, let inputs, _), .agent(_, let inputs, _): inputs
        case .declassify(let input, _): [input]
        }
    }

    /// Every earlier result the step draws on: its inputs, and every handle its arguments,
    /// instruction or focus mention in any spelling the substitution could read.
    public var mentions: [ArtifactHandle] {
        let written: [ArtifactHandle] =
            switch action {
            case .tool(_, let arguments): ArtifactHandle.mentions(in: arguments)
            case .model(let instruction, _, _), .agent(let instruction, _, _): ArtifactHandle.mentions(in: instruction)
            case .declassify(_, let focus): ArtifactHandle.mentions(in: focus ?? "")
            }
        return inputs + written.filter { !inputs.contains($0) }
    }

    /// Parses one item of a plan's `steps`, written by a planner that had read `written`.
    public init(parsing item: JSONValue, written: Labels) throws(PlanError) {
        self.written = written
        func string(_ key: String) -> String? { item[key]?.stringValue }
        func inputs() throws(PlanError) -> [ArtifactHandle] {
            guard let values = item["inputs"] else { return [] }
            guard let array = values.arrayValue else { throw PlanError("inputs must be a list of handles ($N)") }
            var handles: [ArtifactHandle] = []
            for value in array {
                guard let text = value.stringValue, let handle = ArtifactHandle(text) else {
                    throw PlanError("inputs must be handles such as $2; \(value.canonicalText) is not one")
                }
                if !handles.contains(handle) { handles.append(handle) }
            }
            return handles
        }
        switch string("kind") {
        case "tool":
            guard let name = string("tool") else { throw PlanError("a tool step needs a tool") }
            action = .tool(name: name, arguments: item["arguments"] ?? [:])
        case "model":
            guard let instruction = string("instruction") else { throw PlanError("a model step needs an instruction") }
            action = .model(instruction: instruction, inputs: try inputs(), role: string("role"))
        case "agent":
            guard let instruction = string("instruction") else {
                throw PlanError("an agent step needs an instruction")
            }
            action = .agent(
                instruction: instruction, inputs: try inputs(),
                tools: item["tools"]?.arrayValue.map { $0.compactMap(\.stringValue) })
        case "declassify":
            guard let input = try inputs().first else { throw PlanError("a declassify step needs one input") }
            action = .declassify(input: input, focus: string("instruction"))
        case let kind:
            throw PlanError("unknown step kind '\(kind ?? "")'; use tool, model, agent or declassify")
        }
    }

    /// The kind a step that could not be parsed is shown as.
    static func plannedKind(of item: JSONValue) -> String {
        switch item["kind"]?.stringValue {
        case "tool": "tool:\(item["tool"]?.stringValue ?? "?")"
        case let kind?: kind
        case nil: "step"
        }
    }
}
