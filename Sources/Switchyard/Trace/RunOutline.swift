/// A recorded run as a person debugging it reads it: each planner round with the steps it
/// planned under it, and for every step what it did, where its model calls went and why,
/// tokens, cost, time, what came of it, and anything refused or failed.
public struct RunOutline: Sendable {
    public struct Step: Sendable {
        /// `plan-2`, `$4`, `decide`, …
        public var name: String
        /// `tool:read`, `model`, `agent`, `declassified`, `plan`, … (what its end recorded).
        public var kind: String?
        /// What the step was asked to do: a tool call, an instruction, a plan.
        public var what: [String] = []
        /// Where its model calls were routed, and why.
        public var route: String?
        public var modelCalls = 0
        public var profiles: [String] = []
        public var inputTokens = 0
        public var outputTokens = 0
        /// When the profiles' prices are known.
        public var costUSD: Double?
        public var started: Int64
        public var ended: Int64
        /// What came of it: its result's labels and size.
        public var outcome: String?
        /// Refusals, errors and failures, in order.
        public var problems: [String] = []
        /// The steps a planner round planned.
        public var children: [Step] = []
        /// What each problem said, so one cause reported by several events is shown once
        /// (a guard's refusal, then the tool's error quoting it, then the step's failure).
        private var causes: [String] = []

        mutating func report(_ problem: String, cause: String) {
            guard !causes.contains(where: { !$0.isEmpty && cause.contains($0) }) else { return }
            causes.append(cause)
            problems.append(problem)
        }

        init(name: String, at time: Int64) {
            self.name = name
            self.started = time
            self.ended = time
        }
    }

    public var steps: [Step] = []
    /// How the run ended (`run.finished`): its reason and answer.
    public var ending: (reason: String, answer: String)?

    /// Builds the outline from a run's events; `prices` (USD per million input and output
    /// tokens, by profile) give costs.
    /// The outline of a run with `header`, whose profiles' recorded prices give its costs.
    public init(events: [TraceEvent], header: RunHeader) {
        self.init(events: events, prices: (header.profiles ?? [:]).compactMapValues(\.price))
    }

    public init(events: [TraceEvent], prices: [String: ModelProfile.Price] = [:]) {
        var order: [String] = []
        var steps: [String: Step] = [:]
        var profileOfRequest: [Int: String] = [:]
        var planned: [JSONValue] = []
        for event in events {
            guard let name = event.step else {
                if event.kind == .runFinished {
                    ending = (
                        event.payload["reason"]?.stringValue ?? "", event.payload["answer"]?.stringValue ?? ""
                    )
                }
                continue
            }
            if steps[name] == nil {
                order.append(name)
                steps[name] = Step(name: name, at: event.time)
            }
            steps[name]!.ended = max(steps[name]!.ended, event.time)
            Self.apply(event, to: &steps[name]!, profileOfRequest: &profileOfRequest, prices: prices)
            if event.kind == .plan { planned += event.payload["steps"]?.arrayValue ?? [] }
        }
        // Planned steps get handles in plan order from $2 ($1 is the task).
        for (offset, item) in planned.enumerated() {
            guard var step = steps["$\(offset + 2)"], step.what.isEmpty else { continue }
            step.what = [Self.describe(planned: item)]
            steps["$\(offset + 2)"] = step
        }
        // A step belongs to the planner round it first appeared after.
        var round: String?
        for name in order {
            let step = steps[name]!
            if name.hasPrefix("plan-") {
                round = name
                self.steps.append(step)
            } else if name.hasPrefix("$"), let round, let index = self.steps.lastIndex(where: { $0.name == round }) {
                self.steps[index].children.append(step)
            } else {
                self.steps.append(step)
            }
        }
    }

    private static func apply(
        _ event: TraceEvent, to step: inout Step, profileOfRequest: inout [Int: String],
        prices: [String: ModelProfile.Price]
    ) {
        let payload = event.payload
        switch event.kind {
        case .modelRequest:
            let profile = payload["profile"]?.stringValue ?? "?"
            profileOfRequest[event.sequence] = profile
            step.modelCalls += 1
            if !step.profiles.contains(profile) { step.profiles.append(profile) }
        case .modelResponse:
            let input = payload["usage"]?["input"]?.intValue ?? 0
            let output = payload["usage"]?["output"]?.intValue ?? 0
            step.inputTokens += input
            step.outputTokens += output
            if let profile = event.parent.flatMap({ profileOfRequest[$0] }), let price = prices[profile] {
                step.costUSD = (step.costUSD ?? 0) + price.cost(of: Usage(inputTokens: input, outputTokens: output))
            }
        case .modelError:
            let message = payload["message"]?.stringValue ?? ""
            step.report("model error: \(payload["code"]?.stringValue ?? "error"): \(message)", cause: message)
        case .toolCall where event.parent == nil:
            step.what.append(
                "\(payload["name"]?.stringValue ?? "?") \(clip(payload["arguments"]?.canonicalText ?? "{}", 90))")
        case .toolError:
            let message = payload["message"]?.stringValue ?? ""
            step.report("tool failed: \(message)", cause: message)
        case .route:
            let profiles = payload["profiles"]?.arrayValue?.compactMap(\.stringValue) ?? []
            step.route =
                "\(profiles.isEmpty ? "nowhere" : profiles.joined(separator: ", ")) (\(payload["reason"]?.stringValue ?? ""))"
        case .routeFallback:
            let error = payload["error"]?.stringValue ?? ""
            step.report("\(payload["profile"]?.stringValue ?? "?") failed, fell back: \(error)", cause: error)
        case .guardDecision where payload["decision"] != "allow":
            let reason = payload["reason"]?.stringValue ?? ""
            step.report(
                "refused \(payload["kind"]?.stringValue ?? "") to \(payload["destination"]?.stringValue ?? "?"): \(reason)",
                cause: reason)
        case .declassify:
            if payload["released"] == .null {
                let reason = payload["reason"]?.stringValue ?? ""
                step.report("release refused: \(reason)", cause: reason)
            }
        case .plan:
            step.kind = "plan"
            let count = payload["steps"]?.arrayValue?.count ?? 0
            if count > 0 { step.what.append("planned \(count) step\(count == 1 ? "" : "s")") }
            if let answer = payload["answer"]?.stringValue, count == 0 {
                step.what.append("answered: \(clip(answer, 100))")
            }
        case .stepFinished:
            step.kind = payload["kind"]?.stringValue
            step.outcome =
                "\(label(payload["labels"])), \(payload["bytes"]?.intValue ?? 0) B"
        case .stepFailed:
            step.kind = step.kind ?? payload["kind"]?.stringValue
            let error = payload["error"]?.stringValue ?? ""
            step.report("failed: \(error)", cause: error)
        case .modelRefused:
            let message = payload["message"]?.stringValue ?? ""
            step.report("not sent: \(message)", cause: message)
        case .triageInvalid:
            let problem = payload["problem"]?.stringValue ?? ""
            step.report("invalid answer: \(problem)", cause: problem)
        case .triageCut:
            if let cut = try? payload.decoded(as: TriageDecision.Cut.self) {
                step.what.append("ticket cut to \(cut.keptCharacters) of \(cut.characters) characters")
            }
        case .triageDecision:
            step.outcome = clip(payload.canonicalText, 120)
        default:
            break
        }
    }

    private static func describe(planned item: JSONValue) -> String {
        let kind = item["kind"]?.stringValue ?? "?"
        let inputs = item["inputs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let reading = inputs.isEmpty ? "" : " reading \(inputs.joined(separator: ", "))"
        switch kind {
        case "tool":
            return
                "\(item["tool"]?.stringValue ?? "?") \(clip(item["arguments"]?.canonicalText ?? "{}", 90))"
        case "agent":
            let tools = item["tools"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return
                "agent: \(clip(item["instruction"]?.stringValue ?? "", 90))\(reading)\(tools.isEmpty ? "" : " with \(tools.joined(separator: ", "))")"
        default:
            return "\(kind): \(clip(item["instruction"]?.stringValue ?? "", 90))\(reading)"
        }
    }

    private static func label(_ labels: JSONValue?) -> String {
        "\(labels?["confidentiality"]?.stringValue ?? "?")/\(labels?["integrity"]?.stringValue ?? "?")"
    }

    /// `text` on one line, cut at `limit` characters.
    public static func clip(_ text: String, _ limit: Int = 100) -> String {
        let flat = text.replacing("\n", with: "⏎")
        return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
    }
}

extension RunOutline {
    /// One line on what `event` recorded: a request's messages and tools and where it went,
    /// an answer's text or calls, a tool call and its result or error.
    public static func describe(_ event: TraceEvent) -> String {
        switch event.kind {
        case .modelRequest:
            let request = event.payload["request"]
            let messages = request?["messages"]?.arrayValue ?? []
            let tools = request?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            let last = messages.last?["content"]?.stringValue ?? ""
            let sent = event.payload["wire"].map { wire in
                " → \(wire["body"]?["model"]?.stringValue ?? "?") at \(wire["url"]?.stringValue ?? "?")"
            }
            return
                "\(messages.count) message(s)\(tools.isEmpty ? "" : ", tools: \(tools.joined(separator: ", "))"): \(Self.clip(last))\(sent ?? "")"
        case .modelResponse:
            let payload = event.payload
            let text = payload["text"]?.stringValue ?? ""
            let calls = (payload["tool_calls"]?.arrayValue ?? []).map { call in
                "\(call["name"]?.stringValue ?? "?")(\(Self.clip(call["arguments"]?.stringValue ?? "", 60)))"
            }
            let finish = payload["finish"]?.stringValue ?? "?"
            let usage =
                payload["usage"].map { tokens in
                    ", tokens \(tokens["input"]?.intValue ?? 0) in / \(tokens["output"]?.intValue ?? 0) out"
                } ?? ""
            let body = calls.isEmpty ? "\"\(Self.clip(text))\"" : "calls " + calls.joined(separator: ", ")
            return "\(body) — finish \(finish)\(usage)"
        case .toolCall:
            let name = event.payload["name"]?.stringValue ?? "?"
            return "\(name)(\(Self.clip(event.payload["arguments"]?.canonicalText ?? "{}", 80)))"
        case .toolResult:
            return Self.clip(event.payload["output"]?.canonicalText ?? "null")
        case .toolError:
            return "failed: \(Self.clip(event.payload["message"]?.stringValue ?? ""))"
        case .modelError:
            return
                "\(event.payload["code"]?.stringValue ?? "error"): \(Self.clip(event.payload["message"]?.stringValue ?? ""))"
        default:
            return Self.clip(event.payload.canonicalText)
        }
    }
}
