public import Foundation
public import Switchyard
public import VectorStore

/// A run of an agent on a task, put together as `switchyard run` puts it: the spec found by
/// name and loaded with its `--set`s, the settings of the workspace and the user laid over
/// it, its tools and providers made, each provider asked its context window, the workspace
/// indexed first for an agent with `vector_search`, and the run recorded (with where it ran)
/// in `store` — or not recorded, without one. The command line parses into one of these and
/// prints what it reports; a server would do the same.
public struct AgentRun: Sendable {
    /// The agent: a spec file, or a name looked up as ``AgentSpec/locate(_:workspace:environment:)`` does.
    public var agent: String
    /// Where the agent works, and where `switchyard.yaml` is read from.
    public var workspace: String
    /// Where API keys, `SWITCHYARD_HOME` (the vector store) and the user's settings come from.
    public var environment: [String: String]
    /// `KEY=VALUE` settings laid over everything else.
    public var overrides: [String]
    /// Whether the agent may change the work tree and the checked-out branch (else it can only
    /// propose changes, committed on a new branch).
    public var apply: Bool
    /// Whether an agent with `vector_search` gets its workspace's index brought up to date first.
    public var refreshesIndex: Bool
    /// Where the run is recorded; nil records nothing.
    public var store: TraceStore?

    public init(
        agent: String, workspace: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [String] = [], apply: Bool = false, refreshesIndex: Bool = true, store: TraceStore?
    ) {
        self.agent = agent
        self.workspace = workspace
        self.environment = environment
        self.overrides = overrides
        self.apply = apply
        self.refreshesIndex = refreshesIndex
        self.store = store
    }

    /// What a run reports before and as it goes, for a display.
    public enum Event: Sendable {
        /// Something the user should hear: a profile the agent goes without, an index that failed.
        case notice(String)
        /// The index before the run, part way.
        case indexing(WorkspaceIndexer.Progress)
        /// The index before the run, brought up to date.
        case indexed(collection: String, WorkspaceIndexer.Summary)
        /// The run itself.
        case progress(RunProgress)
    }

    /// How a run ended: its id (nil when it was not recorded) and its result.
    public struct Outcome: Sendable {
        public var run: RunID?
        public var result: RunResult
    }

    /// Runs the agent on `task`. `started` hears the run's id as soon as it has one; `events`
    /// hears what the run reports. A spec or setting that is wrong throws before anything is
    /// recorded; a run that fails once started is recorded as failed, and the error thrown.
    public func run(
        _ task: String, started: (RunID) -> Void = { _ in }, events: @escaping @Sendable (Event) -> Void = { _ in }
    ) async throws -> Outcome {
        let agent = try await ReadyAgent(
            self.agent, workspace: workspace, environment: environment, overrides: overrides,
            readOnly: apply ? nil : AgentSetup.readOnlyReason
        ) { events(.notice($0)) }
        let (spec, setup) = (agent.spec, agent.setup)
        var header = setup.header(spec: spec, overrides: overrides)
        header.apply = apply
        if spec.tools["vector_search"] != nil, refreshesIndex {
            header.index = await refreshIndex(settings: setup.settings, events: events)
        }
        let (run, result) = try await recordingRun(
            in: store, agent: spec.name, task: task, header: header, workspace: workspace, started: started
        ) { effects in
            let result = try await Orchestrator(spec: spec, setup: setup, effects: effects) {
                events(.progress($0))
            }.run(task: task)
            return (result, result.status)
        }
        return Outcome(run: run, result: result)
    }

    /// Indexes the workspace for `vector_search` on first use, and brings the index up to
    /// date (only changed files are embedded) on every run after, and says what the header
    /// records of it. A workspace that cannot be indexed (no embedding profile, or none
    /// cleared for it) is reported, and the run goes on: `vector_search` then finds what was
    /// indexed before, or nothing. The workspace carries the labels `settings` give it, as the
    /// run's tools do: only an embedder cleared for them is sent its files.
    private func refreshIndex(settings: Settings, events: @escaping @Sendable (Event) -> Void) async -> JSONValue {
        do {
            let (collection, summary) = try await Toolbox.index(
                workspace, settings: settings, collection: try Toolbox.options(settings).collection,
                environment: environment
            ) { events(.indexing($0)) }
            events(.indexed(collection: collection, summary))
            return summary.header(collection: collection)
        } catch {
            events(.notice("the workspace was not indexed for vector_search: \(error)"))
            return ["error": .string("\(error)")]
        }
    }
}

extension AgentRun.Event: CustomStringConvertible {
    /// One line for a progress display (a part-way index is a meter's, not a line's).
    public var description: String {
        switch self {
        case .notice(let message): message
        case .indexing(let progress): "index   \(progress.files)/\(progress.totalFiles) files"
        case .indexed(let collection, let summary):
            "index   \(collection): \(summary.indexed) files embedded, \(summary.unchanged) unchanged, \(summary.removed) removed (\(String(format: "%.1f", summary.elapsed.seconds)) s)"
        case .progress(let progress): progress.description
        }
    }
}
