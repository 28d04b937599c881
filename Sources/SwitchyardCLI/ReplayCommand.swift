import ArgumentParser
import Composition
import Foundation
import Switchyard

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run a recorded run on its recorded effects, and report where it first diverges.",
        discussion: """
            No model or tool is called: every result comes from the trace. Each request the run \
            makes is compared with the recorded one (as canonical JSON, so key order never \
            matters), and so is the HTTP body it would send (where it would be sent is not); the \
            first difference is reported with its event, field path, and the old and new values. \
            What-if: --set KEY=VALUE replays with a changed setting (a profile's model, an option); \
            for a chat run, --prompt and --profile change its inputs; for an agent run, --agent \
            FILE replays with an edited spec. --live-from STEP forks an agent or ticket run: \
            recorded effects up to that step (which must match), live models and tools from it on, \
            all of it recorded as a new run whose parent is this one. Exit status 3 means the run \
            diverged.
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "What-if: ask this instead of the recorded prompt.") var prompt: String?
    @Option(help: "What-if: name this profile instead of the recorded one.") var profile: String?
    @Option(help: ArgumentHelp("What-if: replay an agent run with this spec instead.", valueName: "FILE"))
    var agent: String?
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("What-if: replay with this setting changed.", valueName: "KEY=VALUE"))
    var overrides: [String] = []
    @Option(
        help: ArgumentHelp(
            "Fork: replay up to this step (plan-3, $4, decide, …), run live from it on, and record the result as a new run linked to this one.",
            valueName: "STEP"))
    var liveFrom: String?
    @Flag(help: "Print the outcome as JSON.") var json = false
    @Argument(help: "The run id, or its first characters.") var run: String

    func run() async throws {
        let path = try storeOptions.path
        let outcome: JSONValue
        let diverged: Bool
        do {
            let store = try TraceStore(path: path)
            let id = try await store.resolve(run)
            guard let summary = try await store.run(id) else { throw TraceError("no run \(id)") }
            try await Self.requireIntact(id, store: store)
            let header = try await store.header(id)
            if let liveFrom {
                try await fork(id, summary: summary, header: header, at: liveFrom, store: store)
                return
            }
            if header["command"] == "triage-ticket" {
                let divergence = try await replayTicket(id, header: header, store: store)
                try report(id, events: summary.eventCount, divergence: divergence, answer: nil)
                return
            }
            if summary.agent != "chat" {
                guard header["agent"] != nil else {
                    throw TraceError("run \(id) was recorded by '\(summary.agent)', which replay does not know")
                }
                let (result, divergence) = try await replayAgent(id, summary: summary, header: header, store: store)
                try report(id, events: summary.eventCount, divergence: divergence, answer: result?.answer ?? "")
                return
            }
            let events = try await store.events(id, resolvingBlobs: true)
            guard let intent = events.first(where: { $0.kind == "model.request" }),
                let recordedRequest = intent.payload["request"]
            else { throw TraceError("run \(id) has no model request to replay") }
            var request = ModelRequest(recorded: recordedRequest)
            if let prompt, let last = request.messages.lastIndex(where: { $0.role == .user }) {
                request.messages[last].content = prompt
            }
            let chatProfile = try Self.chatProfile(
                profile ?? intent.payload["profile"]?.stringValue ?? "", header: header, overrides: overrides)
            let effects = try await RecordedEffects(replaying: id, in: store)
            do {
                let response = try await effects.model(
                    request, profile: chatProfile.name,
                    provider: try RecordedOnly(chatProfile), step: intent.step)
                diverged = false
                outcome = [
                    "run": .string(id.rawValue), "diverged": false, "events": .number(Double(events.count)),
                    "text": .string(response.text),
                ]
            } catch let divergence as Divergence {
                diverged = true
                outcome = ["run": .string(id.rawValue), "diverged": true, "divergence": divergence.json]
                if !json { print(divergence.description) }
            }
            if !json, !diverged {
                print("replayed \(id): \(events.count) events, no divergence")
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error)
        }
        if json { printJSON(outcome) }
        if diverged { throw ExitCode(3) }
    }
}

extension ReplayCommand {
    /// Prints how a replay went; exit status 3 when it diverged.
    func report(_ id: RunID, events: Int, divergence: Divergence?, answer: String?) throws {
        if let divergence {
            if json {
                printJSON(["run": .string(id.rawValue), "diverged": true, "divergence": divergence.json])
            } else {
                print(divergence.description)
            }
            throw ExitCode(3)
        }
        if json {
            var outcome: JSONValue = [
                "run": .string(id.rawValue), "diverged": false, "events": .number(Double(events)),
            ]
            if let answer, case .object(var object) = outcome {
                object["answer"] = .string(answer)
                outcome = .object(object)
            }
            printJSON(outcome)
        } else {
            print("replayed \(id): \(events) events, no divergence")
        }
    }

    /// Refuses a run whose chain does not hold: what would be replayed (or resumed) is not
    /// what was recorded.
    static func requireIntact(_ id: RunID, store: TraceStore) async throws {
        let chain = try await store.verify(id)
        guard chain.holds else { throw TraceError("run \(id) is not replayed: its hash chain is \(chain)") }
    }

    /// Profile `name` as the chat run with `header` saw it: the settings of the run's
    /// workspace with the run's `--set` assignments, then — for the profile it called — the
    /// provider, model and base URL its header recorded (the settings file may have changed
    /// since), then `overrides`.
    static func chatProfile(_ name: String, header: JSONValue, overrides: [String]) throws -> ModelProfile {
        let environment = ProcessInfo.processInfo.environment
        var settings = try Settings.load(
            workspace: header["workspace"]?["path"]?.stringValue ?? FileManager.default.currentDirectoryPath,
            environment: environment)
        var assignments = header["settings_overrides"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let recorded = header["profile"], recorded["name"]?.stringValue == name {
            for key in ["provider", "model", "base_url"] {
                if let value = recorded[key]?.stringValue { assignments.append("profiles.\(name).\(key)=\(value)") }
            }
        }
        for assignment in assignments + overrides { try settings.set(assignment) }
        return try ModelProfile.named(name, in: settings, environment: environment)
    }

    /// The spec and settings a recorded run was made with (or the what-if ones), and the
    /// tools and profiles they give, with providers that render requests but are never called.
    func recordedSetup(
        _ id: RunID, header: JSONValue, labels: Labels? = nil,
        provider: (ModelProfile) throws -> any ModelProvider = RecordedOnly.init
    ) throws -> (AgentSpec, [any Tool], [ProfileBinding]) {
        try Self.recordedSetup(
            id, header: header, agent: agent, overrides: overrides, labels: labels, provider: provider)
    }

    /// The spec and settings run `id` was made with — `agent` instead of its spec file and
    /// `overrides` on top of its settings, when given — and the tools and profiles they give.
    static func recordedSetup(
        _ id: RunID, header: JSONValue, agent: String?, overrides: [String], labels: Labels? = nil,
        provider: (ModelProfile) throws -> any ModelProvider
    ) throws -> (AgentSpec, [any Tool], [ProfileBinding]) {
        let environment = ProcessInfo.processInfo.environment
        guard let recordedFile = header["agent"]?["file"]?.stringValue,
            let workspace = header["workspace"]?["path"]?.stringValue
        else { throw TraceError("run \(id)'s header does not name its agent spec and workspace") }
        let recordedOverrides = header["settings_overrides"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let spec = try AgentSpec.load(path: agent ?? recordedFile, overrides: recordedOverrides + overrides)
        if agent == nil, let recorded = header["agent"]?["spec_sha256"]?.stringValue, recorded != spec.hash {
            FileHandle.standardError.write(
                Data("switchyard: \(recordedFile) has changed since the run; using it as it is now\n".utf8))
        }
        var settings = try Settings.load(workspace: workspace, environment: environment)
        for assignment in recordedOverrides + overrides { try settings.set(assignment) }
        // A run recorded without --apply had a read-only work tree; one from before --apply
        // existed could change it.
        var (tools, bindings) = try AgentSetup.make(
            spec: spec, settings: settings, workspace: workspace, environment: environment, labels: labels,
            readOnly: header["apply"] == false ? AgentSetup.readOnlyReason : nil, provider: provider)
        // A window the run asked its server for is the one it had; the settings' own win.
        for index in bindings.indices where bindings[index].contextWindow == nil {
            bindings[index].contextWindow = ContextWindow(
                recorded: header["profiles"]?[bindings[index].name]?["context_window"])
        }
        return (spec, tools, bindings)
    }

    /// Forks run `id` at `step` into a new run: recorded up to the step, live from it.
    func fork(_ id: RunID, summary: RunSummary, header: JSONValue, at step: String, store: TraceStore) async throws {
        let environment = ProcessInfo.processInfo.environment
        let ticket = header["command"] == "triage-ticket"
        guard ticket || header["agent"] != nil, summary.agent != "chat" else {
            throw TraceError("only agent runs and triaged tickets can be forked; run \(id) is a \(summary.agent) run")
        }
        let (spec, tools, bindings) = try recordedSetup(
            id, header: header, labels: ticket ? Ticket.labels : nil,
            provider: { profile in try profile.chatProvider(environment: environment) })
        var childHeader = header.objectValue ?? [:]
        childHeader["forked_from"] = ["run": .string(id.rawValue), "step": .string(step)]
        childHeader["settings_overrides"] = .array(
            ((header["settings_overrides"]?.arrayValue ?? []) + overrides.map(JSONValue.string)))
        if var agentHeader = header["agent"]?.objectValue {
            agentHeader["file"] = .string(spec.file)
            agentHeader["spec_sha256"] = .string(spec.hash)
            childHeader["agent"] = .object(agentHeader)
        }
        let child = try await store.startRun(
            agent: summary.agent, task: summary.task, header: .object(childHeader), parent: id, at: now())
        let effects = try await RecordedEffects(forking: id, at: step, into: child, in: store, clock: now)
        let answer: String
        do {
            if ticket, let record = header["ticket"]?.objectValue {
                let triager = try Triager(spec: spec, profiles: bindings, tools: tools, effects: effects)
                answer = try await triager.decide(try Ticket(record: record, origin: "run \(id)")).canonicalText
            } else {
                answer = try await Orchestrator(spec: spec, profiles: bindings, tools: tools, effects: effects)
                    .run(task: summary.task).answer
            }
            try await store.finish(child, status: .finished, at: now())
        } catch let divergence as Divergence {
            try? await store.finish(child, status: .failed, at: now())
            if json {
                printJSON([
                    "run": .string(id.rawValue), "fork": .string(child.rawValue), "diverged": true,
                    "divergence": divergence.json,
                ])
            } else {
                print("the fork diverged before \(step), so it stopped there:")
                print(divergence.description)
            }
            throw ExitCode(3)
        } catch {
            try? await store.finish(child, status: .failed, at: now())
            throw error
        }
        if json {
            printJSON([
                "run": .string(id.rawValue), "fork": .string(child.rawValue), "diverged": false,
                "answer": .string(answer),
            ])
        } else {
            print(answer)
            FileHandle.standardError.write(
                Data("\nforked \(id) at \(step) into run \(child): recorded up to \(step), live after\n".utf8))
        }
    }

    /// Re-decides a triaged ticket on its recorded effects; the divergence, if there is one.
    func replayTicket(_ id: RunID, header: JSONValue, store: TraceStore) async throws -> Divergence? {
        guard let record = header["ticket"]?.objectValue else { throw TraceError("run \(id) has no ticket") }
        let (spec, tools, bindings) = try recordedSetup(id, header: header, labels: Ticket.labels)
        let effects = try await RecordedEffects(replaying: id, in: store)
        let triager = try Triager(spec: spec, profiles: bindings, tools: tools, effects: effects)
        do {
            _ = try await triager.decide(try Ticket(record: record, origin: "run \(id)"))
            return await effects.unreached
        } catch let divergence as Divergence {
            return divergence
        }
    }

    /// Re-runs an agent run on its recorded effects; the divergence, if there is one.
    func replayAgent(_ id: RunID, summary: RunSummary, header: JSONValue, store: TraceStore) async throws -> (
        RunResult?, Divergence?
    ) {
        let (spec, tools, bindings) = try recordedSetup(id, header: header)
        let effects = try await RecordedEffects(replaying: id, in: store)
        let orchestrator = Orchestrator(spec: spec, profiles: bindings, tools: tools, effects: effects)
        do {
            let result = try await orchestrator.run(task: summary.task)
            return (result, await effects.unreached)
        } catch let divergence as Divergence {
            return (nil, divergence)
        }
    }
}

/// The provider a replay hands to its effects: it renders what the profile's provider
/// would send, for the replay to compare with what was sent, and must never be called.
struct RecordedOnly: ModelProvider {
    var rendering: any ModelProvider

    /// Renders as `profile`'s provider would, without its API key.
    init(_ profile: ModelProfile) throws {
        rendering = try profile.chatProvider(apiKey: nil)
    }

    func wire(_ request: ModelRequest) -> WireRequest { rendering.wire(request) }

    func stream(_ request: ModelRequest) -> ModelEventStream {
        ModelEventStream { _ in
            throw ModelError(code: .badRequest, message: "a replay must not call a model")
        }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Finish an interrupted run: completed effects come from the trace, the rest run live.",
        discussion: """
            A run whose process died (a crash, a kill) is marked interrupted when the store is next \
            opened. Resuming serves every effect whose result was recorded, without repeating it, \
            and performs the rest, appending to the same run. A model request made but never \
            answered is made again; a tool call that began but has no recorded result is not \
            repeated (tools are not assumed idempotent) and stops the resume.
            Chat runs and agent runs (switchyard run) resume; the workspace, its settings, the \
            run's --set assignments and an agent's spec come from the run's header (--workspace \
            is not used), and --set can change a profile (say, a moved base_url). The wall-time budget counts from the run's start, time it was down \
            included. A triage batch resumes by running triage again: decided tickets are skipped.
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var settings: SettingsOptions
    @Argument(help: "The run id, or its first characters.") var run: String

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let path = try storeOptions.path
        do {
            let store = try TraceStore(path: path)
            let id = try await store.resolve(run)
            guard let summary = try await store.run(id) else { throw TraceError("no run \(id)") }
            try await ReplayCommand.requireIntact(id, store: store)
            let header = try await store.header(id)
            if summary.agent != "chat" {
                try await resumeAgent(id, summary: summary, header: header, store: store)
                return
            }
            guard
                let intent = try await store.events(id, resolvingBlobs: true).first(where: {
                    $0.kind == "model.request"
                }),
                let recordedRequest = intent.payload["request"],
                let name = intent.payload["profile"]?.stringValue
            else { throw TraceError("run \(id) has no model request") }
            let profile = try ReplayCommand.chatProfile(name, header: header, overrides: settings.overrides)
            let provider = try profile.chatProvider(environment: environment)
            try await store.reopen(id)
            let effects = try await RecordedEffects(resuming: id, in: store, clock: now)
            do {
                let response = try await effects.model(
                    ModelRequest(recorded: recordedRequest), profile: name, provider: provider, step: intent.step)
                try await store.finish(id, status: .finished, at: now())
                if !response.text.isEmpty { print(response.text) }
                for call in response.toolCalls { print("[tool call] \(call.name) \(call.arguments)") }
                FileHandle.standardError.write(Data("(resumed run \(id); it is finished)\n".utf8))
            } catch {
                try? await store.finish(id, status: .failed, at: now())
                throw error
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error)
        }
    }
}

extension ResumeCommand {
    /// Finishes an interrupted agent run: the orchestrator runs again on the recorded
    /// effects, and from the first one without a result on, live, appending to the run.
    func resumeAgent(_ id: RunID, summary: RunSummary, header: JSONValue, store: TraceStore) async throws {
        if ["triage", "triage-ticket"].contains(header["command"]?.stringValue) {
            throw TraceError(
                "run \(id) is part of a triage batch; run the same switchyard triage again: decided tickets are skipped and the rest decided"
            )
        }
        guard header["agent"] != nil else {
            throw TraceError("run \(id) was recorded by '\(summary.agent)', which resume does not know")
        }
        guard summary.status == .interrupted || summary.status == .failed else {
            throw TraceError("run \(id) is \(summary.status.rawValue); only interrupted or failed runs resume")
        }
        let environment = ProcessInfo.processInfo.environment
        let (spec, tools, bindings) = try ReplayCommand.recordedSetup(
            id, header: header, agent: nil, overrides: settings.overrides,
            provider: { profile in try profile.chatProvider(environment: environment) })
        try await store.reopen(id)
        let effects = try await RecordedEffects(resuming: id, in: store, clock: now)
        let result: RunResult
        do {
            result = try await Orchestrator(
                spec: spec, profiles: bindings, tools: tools, effects: effects,
                progress: { event in RunCommand.show(event) }
            ).run(task: summary.task)
            try await store.finish(id, status: result.stopReason == "finished" ? .finished : .failed, at: now())
        } catch let divergence as Divergence {
            try? await store.finish(id, status: .failed, at: now())
            throw TraceError(
                "run \(id) cannot resume: it no longer does what was recorded (has its spec or workspace changed?)\n\(divergence.description)"
            )
        } catch {
            try? await store.finish(id, status: .failed, at: now())
            throw error
        }
        print(result.answer)
        FileHandle.standardError.write(
            Data("\n(resumed run \(id) — \(result.stopReason); \(result.steps) steps, \(result.tokens) tokens)\n".utf8))
        if result.stopReason != "finished" { throw ExitCode(3) }
    }
}
