import Foundation

/// What a recorded run is, from its summary and header.
public enum RunKind: Sendable, Hashable {
    /// `switchyard chat`: one model request.
    case chat
    /// An agent on a task (`switchyard run`).
    case agent
    /// A triage batch: it decides nothing itself; each of its tickets is a run of its own.
    case batch
    /// One ticket of a triage batch.
    case ticket
    /// A run recorded by something that is neither.
    case other(String)

    public init(summary: RunSummary, header: RunHeader) {
        switch header.command {
        case RunHeader.ticketCommand: self = .ticket
        case RunHeader.batchCommand: self = .batch
        default:
            if summary.agent == RunHeader.chatCommand {
                self = .chat
            } else if header.agent != nil {
                self = .agent
            } else {
                self = .other(summary.agent)
            }
        }
    }
}

/// Replays, forks and resumes recorded runs.
///
/// A replay performs nothing: every result comes from the trace, and every request the run
/// makes again is checked against the recorded one. A fork replays up to a step and goes on
/// live from it, recorded as a new run whose parent is the replayed one. A resume serves
/// what an interrupted run completed and performs the rest, appending to the same run. What
/// a run was made with — its workspace, settings, `--set`s and spec — comes from its header;
/// `agent` and `overrides` change them (what-if).
public struct Replayer: Sendable {
    public let store: TraceStore
    public var assembly: any AgentAssembly
    public var environment: [String: String]
    /// What-if: the spec file to use instead of the recorded one.
    public var agent: String?
    /// What-if: settings to change on top of the run's own.
    public var overrides: [String]
    /// Hears what the caller should be told, such as a spec that changed since the run.
    public var notice: @Sendable (String) -> Void
    /// The progress of a fork's or resume's live steps.
    public var progress: @Sendable (RunProgress) -> Void
    public var clock: @Sendable () -> Int64

    public init(
        store: TraceStore, assembly: any AgentAssembly, environment: [String: String], agent: String? = nil,
        overrides: [String] = [], notice: @escaping @Sendable (String) -> Void = { _ in },
        progress: @escaping @Sendable (RunProgress) -> Void = { _ in },
        clock: @escaping @Sendable () -> Int64 = TraceStore.wallClock
    ) {
        self.store = store
        self.assembly = assembly
        self.environment = environment
        self.agent = agent
        self.overrides = overrides
        self.notice = notice
        self.progress = progress
        self.clock = clock
    }

    /// How a replay went.
    public struct Outcome: Sendable {
        public var run: RunID
        public var events: Int
        /// The first place the replay parted from the record; nil when it never did.
        public var divergence: Divergence?
        /// An agent run's answer, when it did not diverge.
        public var answer: String?
        /// A chat run's answer text, when it did not diverge.
        public var text: String?
    }

    /// How a fork went: the new run, and its answer or where it parted from the record before
    /// its step (then it stopped there).
    public struct Fork: Sendable {
        public var run: RunID
        public var child: RunID
        public var answer: String?
        public var divergence: Divergence?
    }

    /// What a resumed run ended with.
    public enum Resumed: Sendable {
        case chat(ModelResponse)
        case agent(RunResult)
    }

    // MARK: Replay

    /// Replays run `id`; for a chat run, `prompt` and `profile` are what-ifs of its inputs.
    public func replay(_ id: RunID, prompt: String? = nil, profile: String? = nil) async throws -> Outcome {
        let (summary, header) = try await intactRun(id, "replayed")
        switch RunKind(summary: summary, header: header) {
        case .ticket:
            let divergence = try await replayTicket(id, header: header)
            return Outcome(run: id, events: summary.eventCount, divergence: divergence)
        case .agent:
            let (result, divergence) = try await replayAgent(id, summary: summary, header: header)
            return Outcome(run: id, events: summary.eventCount, divergence: divergence, answer: result?.answer ?? "")
        case .chat:
            return try await replayChat(id, header: header, prompt: prompt, profile: profile)
        case .batch:
            throw TraceError("run \(id) is a triage batch, which decides nothing itself; replay its tickets' runs")
        case .other(let recorder):
            throw TraceError("run \(id) was recorded by '\(recorder)', which replay does not know")
        }
    }

    private func replayChat(_ id: RunID, header: RunHeader, prompt: String?, profile: String?) async throws -> Outcome {
        let events = try await store.events(id, resolvingBlobs: true)
        guard let intent = events.first(where: { $0.kind == .modelRequest }),
            let recordedRequest = intent.payload["request"]
        else { throw TraceError("run \(id) has no model request to replay") }
        var request = ModelRequest(recorded: recordedRequest)
        if let prompt, let last = request.messages.lastIndex(where: { $0.role == .user }) {
            request.messages[last].content = prompt
        }
        let chatProfile = try chatProfile(
            profile ?? intent.payload["profile"]?.stringValue ?? "", header: header, overrides: overrides)
        let effects = try await RecordedEffects(replaying: id, in: store)
        do {
            let response = try await effects.model(
                request, profile: chatProfile.name,
                provider: RecordedOnly(rendering: try assembly.provider(for: chatProfile, apiKey: nil)),
                step: intent.step)
            return Outcome(run: id, events: events.count, text: response.text)
        } catch let divergence as Divergence {
            return Outcome(run: id, events: events.count, divergence: divergence)
        }
    }

    /// Re-decides a triaged ticket on its recorded effects; the divergence, if there is one.
    private func replayTicket(_ id: RunID, header: RunHeader) async throws -> Divergence? {
        guard let record = header.ticket else { throw TraceError("run \(id) has no ticket") }
        let (spec, setup) = try await recordedSetup(id, header: header, labels: Ticket.labels, providers: .recordedOnly)
        let effects = try await RecordedEffects(replaying: id, in: store)
        let triager = try Triager(spec: spec, profiles: setup.bindings, tools: setup.tools, effects: effects)
        do {
            _ = try await triager.decide(try Ticket(record: record, origin: "run \(id)"))
            return await effects.unreached
        } catch let divergence as Divergence {
            return divergence
        }
    }

    /// Re-runs an agent run on its recorded effects; the divergence, if there is one.
    private func replayAgent(_ id: RunID, summary: RunSummary, header: RunHeader) async throws -> (
        RunResult?, Divergence?
    ) {
        let (spec, setup) = try await recordedSetup(id, header: header, providers: .recordedOnly)
        let effects = try await RecordedEffects(replaying: id, in: store)
        let orchestrator = Orchestrator(spec: spec, setup: setup, effects: effects)
        do {
            let result = try await orchestrator.run(task: summary.task)
            return (result, await effects.unreached)
        } catch let divergence as Divergence {
            return (nil, divergence)
        }
    }

    // MARK: Fork

    /// Forks run `id` at `step` into a new run: recorded effects up to the step (which must
    /// match), live models and tools from it on.
    public func fork(_ id: RunID, at step: String) async throws -> Fork {
        let (summary, header) = try await intactRun(id, "forked")
        let kind = RunKind(summary: summary, header: header)
        guard kind == .agent || kind == .ticket else {
            throw TraceError("only agent runs and triaged tickets can be forked; run \(id) is a \(summary.agent) run")
        }
        let (spec, setup) = try await recordedSetup(id, header: header, labels: kind == .ticket ? Ticket.labels : nil)
        var childHeader = header
        childHeader.forkedFrom = RunHeader.Fork(run: id, step: step)
        childHeader.settingsOverrides = (header.settingsOverrides ?? []) + overrides
        childHeader.agent?.file = spec.file
        childHeader.agent?.specSHA256 = spec.hash
        var child: RunID?
        do {
            return try await store.withRun(
                agent: summary.agent, task: summary.task, header: childHeader.json, parent: id, clock: clock
            ) { run in
                child = run
                let effects = try await RecordedEffects(forking: id, at: step, into: run, in: store, clock: clock)
                let answer: String
                if kind == .ticket, let record = header.ticket {
                    let triager = try Triager(
                        spec: spec, profiles: setup.bindings, tools: setup.tools, effects: effects)
                    answer = try await triager.decide(try Ticket(record: record, origin: "run \(id)")).json
                        .canonicalText
                } else {
                    answer = try await Orchestrator(spec: spec, setup: setup, effects: effects, progress: progress)
                        .run(task: summary.task).answer
                }
                return (Fork(run: id, child: run, answer: answer), .finished)
            }
        } catch let divergence as Divergence {
            guard let child else { throw divergence }
            return Fork(run: id, child: child, divergence: divergence)
        }
    }

    // MARK: Resume

    /// Finishes an interrupted (or failed) chat or agent run: what it recorded is served, and
    /// from the first effect without a result on it runs live, appending to the run.
    public func resume(_ id: RunID) async throws -> Resumed {
        let (summary, header) = try await intactRun(id, "resumed")
        switch RunKind(summary: summary, header: header) {
        case .chat:
            return .chat(try await resumeChat(id, header: header))
        case .agent:
            return .agent(try await resumeAgent(id, summary: summary, header: header))
        case .batch, .ticket:
            throw TraceError(
                "run \(id) is part of a triage batch; run the same switchyard triage again: decided tickets are skipped and the rest decided"
            )
        case .other(let recorder):
            throw TraceError("run \(id) was recorded by '\(recorder)', which resume does not know")
        }
    }

    private func resumeChat(_ id: RunID, header: RunHeader) async throws -> ModelResponse {
        guard
            let intent = try await store.events(id, resolvingBlobs: true).first(where: { $0.kind == .modelRequest }),
            let recordedRequest = intent.payload["request"],
            let name = intent.payload["profile"]?.stringValue
        else { throw TraceError("run \(id) has no model request") }
        let profile = try chatProfile(name, header: header, overrides: overrides)
        let provider = try assembly.provider(for: profile, apiKey: try profile.apiKey(environment))
        return try await store.withReopenedRun(id, clock: clock) { run in
            let effects = try await RecordedEffects(resuming: run, in: store, clock: clock)
            let response = try await effects.model(
                ModelRequest(recorded: recordedRequest), profile: name, provider: provider, step: intent.step)
            return (response, .finished)
        }
    }

    private func resumeAgent(_ id: RunID, summary: RunSummary, header: RunHeader) async throws -> RunResult {
        guard summary.status == .interrupted || summary.status == .failed else {
            throw TraceError("run \(id) is \(summary.status.rawValue); only interrupted or failed runs resume")
        }
        var replayer = self
        replayer.agent = nil
        let (spec, setup) = try await replayer.recordedSetup(id, header: header)
        do {
            return try await store.withReopenedRun(id, clock: clock) { run in
                let effects = try await RecordedEffects(resuming: run, in: store, clock: clock)
                let result = try await Orchestrator(spec: spec, setup: setup, effects: effects, progress: progress)
                    .run(task: summary.task)
                return (result, result.status)
            }
        } catch let divergence as Divergence {
            throw TraceError(
                "run \(id) cannot resume: it no longer does what was recorded (has its spec or workspace changed?)\n\(divergence.description)"
            )
        }
    }

    // MARK: What a run was made with

    /// The run's summary and header, if its hash chain holds: otherwise what would be
    /// replayed (or resumed) is not what was recorded.
    private func intactRun(_ id: RunID, _ what: String) async throws -> (RunSummary, RunHeader) {
        guard let summary = try await store.run(id) else { throw TraceError("no run \(id)") }
        let chain = try await store.verify(id)
        guard chain.holds else { throw TraceError("run \(id) is not \(what): its hash chain is \(chain)") }
        return (summary, try await store.runHeader(id))
    }

    /// Profile `name` as the chat run with `header` saw it: the settings of the run's
    /// workspace with the run's `--set` assignments, then — for the profile it called — the
    /// provider, model and base URL its header recorded (the settings file may have changed
    /// since), then `overrides`.
    func chatProfile(_ name: String, header: RunHeader, overrides: [String]) throws -> ModelProfile {
        var settings = try Settings.load(
            workspace: header.workspace?.path ?? FileManager.default.currentDirectoryPath, environment: environment)
        var assignments = header.settingsOverrides ?? []
        if let recorded = header.profile, recorded.name == name {
            assignments += [
                "profiles.\(name).provider=\(recorded.provider)", "profiles.\(name).model=\(recorded.model)",
                "profiles.\(name).base_url=\(recorded.baseURL)",
            ]
        }
        for assignment in assignments + overrides { try settings.set(assignment) }
        return try ModelProfile.named(name, in: settings, environment: environment)
    }

    /// The spec and settings run `id` was made with — `agent` instead of its spec file and
    /// `overrides` on top of its settings, when given — and the tools and profiles they give.
    func recordedSetup(
        _ id: RunID, header: RunHeader, labels: Labels? = nil, providers: AgentSetup.Providers = .live
    ) async throws -> (AgentSpec, AgentSetup) {
        guard let recordedFile = header.agent?.file, let workspace = header.workspace?.path else {
            throw TraceError("run \(id)'s header does not name its agent spec and workspace")
        }
        let recordedOverrides = header.settingsOverrides ?? []
        let spec = try AgentSpec.load(path: agent ?? recordedFile, overrides: recordedOverrides + overrides)
        if agent == nil, let recorded = header.agent?.specSHA256, recorded != spec.hash {
            notice("\(recordedFile) has changed since the run; using it as it is now")
        }
        var settings = try Settings.load(workspace: workspace, environment: environment)
        for assignment in recordedOverrides + overrides { try settings.set(assignment) }
        // A run recorded without --apply had a read-only work tree; one from before --apply
        // existed could change it.
        var setup = try await AgentSetup(
            spec: spec, settings: settings, workspace: workspace, environment: environment, labels: labels,
            readOnly: header.apply == false ? AgentSetup.readOnlyReason : nil, providers: providers,
            assembly: assembly, recorded: header.mcp)
        setup.warnings.forEach(notice)
        // A window the run asked its server for is the one it had; the settings' own win.
        for index in setup.bindings.indices where setup.bindings[index].contextWindow == nil {
            setup.bindings[index].contextWindow = header.profiles?[setup.bindings[index].name]?.contextWindow
        }
        return (spec, setup)
    }
}

extension RunResult {
    /// The status its run ends with: finished only when the agent finished.
    public var status: RunStatus { stopReason == .finished ? .finished : .failed }
}
