import Foundation

/// Every source of nondeterminism a run has — model calls, tool calls, the clock, ids —
/// goes through one of these. Live effects perform and record; replayed effects serve
/// what was recorded and check each request against it.
public protocol Effects: Sendable {
    /// Calls a model through `provider`; `observe` sees each event as it arrives.
    func model(
        _ request: ModelRequest, profile: String, provider: any ModelProvider, step: String?,
        observe: @Sendable (ModelEvent) -> Void
    ) async throws -> ModelResponse
    /// Runs a tool: `perform` does the work when live.
    func tool(
        _ name: String, arguments: JSONValue, step: String?, perform: @Sendable () async throws -> JSONValue
    ) async throws -> JSONValue
    /// Milliseconds since 1970.
    func now() async throws -> Int64
    /// Records something the orchestrator decided (a plan, a route, a guard decision); a
    /// replay checks that it decides the same.
    func record(_ kind: EventKind, step: String?, payload: JSONValue) async throws
    /// Records a decision that need not be durable before the run goes on (a plan, a
    /// route, a step's end, a guard decision that an intent follows): it is committed with
    /// the next effect's intent at the latest. Replayed like `record`.
    func note(_ kind: EventKind, step: String?, payload: JSONValue) async throws
}

extension Effects {
    public func note(_ kind: EventKind, step: String?, payload: JSONValue) async throws {
        try await record(kind, step: step, payload: payload)
    }
}

/// Performs effects and records them: each request is committed before it is made (its
/// intent), its outcome after — at once while other effects run, else with the next intent
/// (`TraceStore.conclude`).
///
/// A cancelled run records nothing more: an effect cut short by the cancellation keeps its
/// intent without an outcome (so a resume makes a model request again, and refuses to repeat
/// a tool call that may have happened), and no effect starts after it. What a run would
/// otherwise go on to record — a fallback, a failed step — is what the cancellation did, not
/// what the world did, and a resume would find it diverge.
public struct LiveEffects: Effects {
    public let sink: any TraceSink
    public let run: RunID
    private let clock: @Sendable () -> Int64

    public init(store: any TraceSink, run: RunID, clock: @escaping @Sendable () -> Int64) {
        self.sink = store
        self.run = run
        self.clock = clock
    }

    /// Effects that perform and record nothing: a run with `--no-record`.
    public static func unrecorded(clock: @escaping @Sendable () -> Int64 = TraceStore.wallClock) -> LiveEffects {
        LiveEffects(store: NullSink(), run: RunID(rawValue: "unrecorded"), clock: clock)
    }

    public func model(
        _ request: ModelRequest, profile: String, provider: any ModelProvider, step: String?,
        observe: @Sendable (ModelEvent) -> Void
    ) async throws -> ModelResponse {
        try Task.checkCancellation()
        // The body is rendered once: what is recorded is what is sent.
        let wire = provider.wire(request)
        let intent = try await sink.begin(
            run: run, kind: .modelRequest, step: step, parent: nil,
            payload: modelRequestPayload(request, profile: profile, wire: wire), at: clock())
        return try await performModel(
            request, sending: wire, provider: provider, step: step, intent: intent, observe: observe)
    }

    /// Makes the model call whose intent is event `intent` by sending `wire`, and records its
    /// result.
    func performModel(
        _ request: ModelRequest, sending wire: WireRequest, provider: any ModelProvider, step: String?, intent: Int,
        observe: @Sendable (ModelEvent) -> Void
    ) async throws -> ModelResponse {
        let response: ModelResponse
        let shape: StreamShape
        do {
            (response, shape) = try await Self.collect(request, sending: wire, from: provider, observe)
        } catch {
            try Task.checkCancellation()
            let payload = (error as? ModelError)?.json ?? ["message": .string("\(error)")]
            try await sink.conclude(
                run: run, kind: .modelError, step: step, intent: intent, payload: payload, at: clock())
            throw error
        }
        try await sink.conclude(
            run: run, kind: .modelResponse, step: step, intent: intent,
            payload: response.recorded(stream: shape), at: clock())
        return response
    }

    /// The whole response to `request`, and the shape of the stream it came in.
    static func collect(
        _ request: ModelRequest, sending wire: WireRequest, from provider: any ModelProvider,
        _ observe: (ModelEvent) -> Void
    ) async throws -> (ModelResponse, StreamShape) {
        var response = ModelResponse()
        var shape = StreamShape()
        try await provider.stream(request, sending: wire).forEach { event in
            observe(event)
            response.apply(event)
            shape.append(event)
        }
        return (response, shape)
    }

    public func tool(
        _ name: String, arguments: JSONValue, step: String?, perform: @Sendable () async throws -> JSONValue
    ) async throws -> JSONValue {
        try Task.checkCancellation()
        let intent = try await sink.begin(
            run: run, kind: .toolCall, step: step, parent: nil,
            payload: ["name": .string(name), "arguments": arguments],
            at: clock())
        do {
            // What is recorded while the tool runs (a guard decision) belongs to this call.
            let output = try await EnclosingEffect.$intent.withValue(intent) { try await perform() }
            try await sink.conclude(
                run: run, kind: .toolResult, step: step, intent: intent, payload: ["output": output], at: clock())
            return output
        } catch {
            try Task.checkCancellation()
            try await sink.conclude(
                run: run, kind: .toolError, step: step, intent: intent, payload: ["message": .string("\(error)")],
                at: clock())
            throw error
        }
    }

    /// The time, recorded (without waiting: a clock reading is not an effect on the world).
    public func now() async throws -> Int64 {
        try Task.checkCancellation()
        let time = clock()
        try await sink.post(
            run: run, kind: .clock, step: nil, parent: nil, payload: ["ms": .number(Double(time))], at: time)
        return time
    }

    public func record(_ kind: EventKind, step: String?, payload: JSONValue) async throws {
        try Task.checkCancellation()
        try await sink.append(
            run: run, kind: kind, step: step, parent: EnclosingEffect.intent, payload: payload, at: clock())
    }

    public func note(_ kind: EventKind, step: String?, payload: JSONValue) async throws {
        try Task.checkCancellation()
        try await sink.post(
            run: run, kind: kind, step: step, parent: EnclosingEffect.intent, payload: payload, at: clock())
    }
}

/// What a model request is recorded as: the profile it went to, the request, and the HTTP
/// request the provider sent for it (its URL and body).
func modelRequestPayload(_ request: ModelRequest, profile: String, wire: WireRequest) -> JSONValue {
    ["profile": .string(profile), "request": request.json, "wire": wire.json]
}

/// The tool call being performed on this task, if any: an event recorded during it is its
/// child, part of what the call did. A replay serves the call's result without performing it,
/// so it neither makes nor expects those events.
enum EnclosingEffect {
    @TaskLocal static var intent: Int?
}

/// Serves a recorded run's effects in order and checks each request against the
/// recorded one: the first that differs is a `Divergence`.
///
/// Replaying, nothing is performed: a request past the end of the record is a divergence.
/// Resuming an interrupted run, completed effects are served (never performed twice) and
/// from the first effect without a recorded result on, effects run live and are appended
/// to the same run: an unanswered model request is made again; a tool call that began
/// but has no recorded result is not repeated, since tools are not assumed idempotent.
/// Forking, the record is cut where a step begins: what came before is served and copied
/// into a new run, and from that step on effects run live in the new run.
public actor RecordedEffects: Effects {
    private let store: TraceStore
    private let events: [TraceEvent]
    /// Each step's events that start something (those without a parent), in order: steps
    /// that ran concurrently are matched each on its own, whatever order they finished in.
    private var queues: [String: [Int]] = [:]
    /// The result recorded for each event, by the event's sequence number.
    private var results: [Int: Int] = [:]
    /// What was recorded while each effect ran (a guard decision inside a tool call), by the
    /// effect's sequence number: a fork copies it with the effect.
    private var during: [Int: [Int]] = [:]
    /// Where effects go once the record is used up; `nil` when replaying.
    private let live: LiveEffects?
    /// Forking: the new run, which gets a copy of every effect served.
    private let copy: LiveEffects?
    /// The latest model requests matched: their growing arrays as replayed (before
    /// redaction) and as recorded, found equal item by item.
    private var matchedRequests: [(replayed: [[JSONValue]?], recorded: [[JSONValue]?])] = []

    /// Replays `run`: no model or tool is called.
    public init(replaying run: RunID, in store: TraceStore) async throws {
        try await self.init(store: store, events: store.events(run), live: nil)
    }

    /// Resumes `run`, appending to it once the record is used up.
    public init(resuming run: RunID, in store: TraceStore, clock: @escaping @Sendable () -> Int64) async throws {
        try await self.init(
            store: store, events: store.events(run), live: LiveEffects(store: store, run: run, clock: clock))
    }

    /// Forks `run` at `step`: effects begun before the step's first event are served from
    /// the record — whole, with what a concurrent step recorded during them or as their result
    /// after that event — the rest performed; all of them are recorded in `child`.
    public init(
        forking run: RunID, at step: String, into child: RunID, in store: TraceStore,
        clock: @escaping @Sendable () -> Int64
    ) async throws {
        let events = try await store.events(run)
        guard let cut = events.first(where: { $0.step == step }) else {
            let steps = Array(Set(events.compactMap(\.step))).sorted()
            throw TraceError(
                "run \(run) has no step \(step); its steps are \(steps.prefix(40).joined(separator: ", "))")
        }
        let live = LiveEffects(store: store, run: child, clock: clock)
        let served = events.filter { $0.sequence < cut.sequence || ($0.parent ?? .max) < cut.sequence }
        self.init(store: store, events: served, live: live, copy: live)
    }

    private init(store: TraceStore, events: [TraceEvent], live: LiveEffects?, copy: LiveEffects? = nil) {
        self.store = store
        self.events = events
        self.live = live
        self.copy = copy
        for (index, event) in events.enumerated() {
            if let parent = event.parent {
                if event.kind.isOutcome {
                    results[parent] = index
                } else {
                    during[parent, default: []].append(index)
                }
            } else {
                queues[event.step ?? "", default: []].append(index)
            }
        }
        for (step, queue) in queues { queues[step] = Array(queue.reversed()) }
    }

    /// Whether every recorded event was used.
    public var isComplete: Bool { queues.values.allSatisfy(\.isEmpty) }

    /// The earliest recorded event a replay did not reach, as a divergence: the replayed
    /// run stopped short of the recorded one. `nil` when every event was used.
    public var unreached: Divergence? {
        guard let index = queues.values.compactMap(\.last).min() else { return nil }
        let event = events[index]
        return Divergence(
            sequence: event.sequence, kind: event.kind, step: event.step, path: "",
            recorded: ["kind": .string(event.kind.rawValue), "payload": event.payload], replayed: nil)
    }

    /// Matches the next recorded intent against `kind` and `payload`; returns it with its
    /// result when one was recorded, or nil when the record is used up and effects go live.
    private func match(_ kind: EventKind, step: String?, payload: JSONValue, comparing: Bool = true) async throws -> (
        intent: TraceEvent, result: TraceEvent?
    )? {
        guard let index = queues[step ?? ""]?.last else {
            if live != nil { return nil }
            throw Divergence(
                sequence: (events.last?.sequence ?? 0) + 1, kind: kind, step: step, path: "", recorded: nil,
                replayed: ["kind": .string(kind.rawValue), "payload": await store.recordedForm(payload)])
        }
        let recorded = events[index]
        guard recorded.kind == kind else {
            throw Divergence(
                sequence: recorded.sequence, kind: recorded.kind, step: recorded.step, path: "",
                recorded: ["kind": .string(recorded.kind.rawValue), "payload": recorded.payload],
                replayed: ["kind": .string(kind.rawValue), "payload": await store.recordedForm(payload)])
        }
        let (mine, theirs, skipped) =
            kind == .modelRequest && comparing
            ? continuing(payload, recorded.payload) : (payload, recorded.payload, [])
        if comparing,
            let difference = Self.compared(await store.currentForm(ofRecorded: theirs)).firstDifference(
                from: Self.compared(await store.recordedForm(mine), recorded: theirs))
        {
            throw Divergence(
                sequence: recorded.sequence, kind: kind, step: recorded.step,
                path: Self.located(difference.path, skipped: skipped), recorded: difference.mine,
                replayed: difference.theirs)
        }
        queues[step ?? ""]?.removeLast()
        var result = results[recorded.sequence].map { events[$0] }
        if let copy {
            // The fork's run gets the effect as it was recorded, under its own numbering.
            let intent = try await store.append(
                run: copy.run, kind: recorded.kind, step: recorded.step, parent: EnclosingEffect.intent,
                payload: recorded.payload, at: recorded.time)
            for event in (during[recorded.sequence] ?? []).map({ events[$0] }) {
                try await store.append(
                    run: copy.run, kind: event.kind, step: event.step, parent: intent, payload: event.payload,
                    at: event.time)
            }
            if let served = result {
                try await store.append(
                    run: copy.run, kind: served.kind, step: served.step, parent: intent, payload: served.payload,
                    at: served.time)
            }
        }
        if let served = result { result?.payload = try await store.resolvingBlobs(served.payload) }
        return (recorded, result)
    }

    /// A replayed request and the recorded one, without the items of each growing array that
    /// both share with a request matched before (the same items as replayed then and as
    /// recorded then, which were found equal): only what the turn adds is redacted and
    /// compared. Returns, for each array cut, its path and how many items it lost, so that
    /// a divergence is reported at its index in the whole array. The request is then
    /// remembered as matched (if it does not match, the replay stops).
    private func continuing(_ payload: JSONValue, _ recorded: JSONValue) -> (
        JSONValue, JSONValue, skipped: [(path: String, count: Int)]
    ) {
        var (mine, theirs) = (payload, recorded)
        var skipped: [(path: String, count: Int)] = []
        var matched: (replayed: [[JSONValue]?], recorded: [[JSONValue]?]) = ([], [])
        for (index, path) in Conversation.growingPaths.enumerated() {
            guard case .array(let replayed)? = payload[path], case .array(let items)? = recorded[path] else {
                matched.replayed.append(nil)
                matched.recorded.append(nil)
                continue
            }
            matched.replayed.append(replayed)
            matched.recorded.append(items)
            // Shared with a request matched before, on both sides alike.
            guard
                let (_, shared) = Conversation.longestStart(
                    of: replayed, among: matchedRequests.map { $0.replayed[index] },
                    accepted: { earlier in
                        guard let before = matchedRequests[earlier].recorded[index] else { return false }
                        return before.count == matchedRequests[earlier].replayed[index]?.count
                            && Conversation.begins(items, with: before)
                    })
            else { continue }
            mine[path] = .array(Array(replayed[shared...]))
            theirs[path] = .array(Array(items[shared...]))
            skipped.append((path.joined(separator: "."), shared))
        }
        matchedRequests.append(matched)
        if matchedRequests.count > Conversation.remembered { matchedRequests.removeFirst() }
        return (mine, theirs, skipped)
    }

    /// A divergence's `path` in arrays compared without their first items (`skipped`), as
    /// the index in the whole array: `request.messages[2].content` of an array that skipped
    /// 40 is `request.messages[42].content`.
    static func located(_ path: String, skipped: [(path: String, count: Int)]) -> String {
        for (prefix, count) in skipped where path.hasPrefix(prefix + "[") {
            let rest = path.dropFirst(prefix.count + 1)
            guard let close = rest.firstIndex(of: "]"), let index = Int(rest[..<close]) else { continue }
            return "\(prefix)[\(index + count)]" + rest[rest.index(after: close)...]
        }
        return path
    }

    /// What of a payload a replay compares: all of it but where a model request was sent
    /// (`wire.url`: a run resumed against a server that moved still matches), and the
    /// wire only if the recorded run has it (runs recorded before requests were recorded
    /// as sent do not), nor Ollama's `truncate: false` if its request went without (runs
    /// recorded before it was sent).
    private static func compared(_ payload: JSONValue, recorded: JSONValue? = nil) -> JSONValue {
        guard case .object(var object) = payload, case .object(var wire)? = object["wire"] else { return payload }
        if let recorded, recorded["wire"] == nil {
            object["wire"] = nil
        } else {
            wire["url"] = nil
            if let recorded, recorded["wire"]?["body"]?["truncate"] == nil, case .object(var body)? = wire["body"] {
                body["truncate"] = nil
                wire["body"] = .object(body)
            }
            object["wire"] = .object(wire)
        }
        return .object(object)
    }

    public func model(
        _ request: ModelRequest, profile: String, provider: any ModelProvider, step: String?,
        observe: @Sendable (ModelEvent) -> Void
    ) async throws -> ModelResponse {
        let wire = provider.wire(request)
        guard
            let matched = try await match(
                .modelRequest, step: step, payload: modelRequestPayload(request, profile: profile, wire: wire))
        else {
            return try await live!.model(request, profile: profile, provider: provider, step: step, observe: observe)
        }
        switch (matched.result?.kind, live) {
        case (.modelResponse, _):
            let payload = matched.result!.payload
            ModelResponse.events(recorded: payload).forEach(observe)
            return ModelResponse(recorded: payload)
        case (nil, _?) where copy != nil:
            throw TraceError(
                "event #\(matched.intent.sequence): the model request was never answered in the recorded run; fork from an earlier step"
            )
        case (_, let live?) where copy == nil:
            // Resuming: asked but not answered (or answered with an error): ask again, once.
            return try await live.performModel(
                request, sending: wire, provider: provider, step: step, intent: matched.intent.sequence,
                observe: observe)
        case (.modelError, _):
            let error = matched.result!.payload
            throw ModelError(
                code: .init(rawValue: error["code"]?.stringValue ?? "server-error"), status: error["status"]?.intValue,
                message: error["message"]?.stringValue ?? "", isRetryable: false)
        default:
            throw TraceError("event #\(matched.intent.sequence): the model request has no recorded result")
        }
    }

    public func tool(
        _ name: String, arguments: JSONValue, step: String?, perform: @Sendable () async throws -> JSONValue
    ) async throws -> JSONValue {
        guard
            let matched = try await match(
                .toolCall, step: step, payload: ["name": .string(name), "arguments": arguments])
        else { return try await live!.tool(name, arguments: arguments, step: step, perform: perform) }
        switch matched.result?.kind {
        case .toolResult: return matched.result!.payload["output"] ?? .null
        case .toolError: throw TraceError(matched.result!.payload["message"]?.stringValue ?? "the tool failed")
        default:
            throw TraceError(
                "event #\(matched.intent.sequence): the call of \(name) began but its result was never recorded; it is not repeated"
            )
        }
    }

    public func now() async throws -> Int64 {
        guard let matched = try await match(.clock, step: nil, payload: .null, comparing: false) else {
            return try await live!.now()
        }
        return Int64(matched.intent.payload["ms"]?.doubleValue ?? 0)
    }

    public func record(_ kind: EventKind, step: String?, payload: JSONValue) async throws {
        if try await match(kind, step: step, payload: payload) == nil {
            try await live!.record(kind, step: step, payload: payload)
        }
    }
}

extension Effects {
    public func model(
        _ request: ModelRequest, profile: String, provider: any ModelProvider, step: String?
    ) async throws -> ModelResponse {
        try await model(request, profile: profile, provider: provider, step: step, observe: { _ in })
    }
}
