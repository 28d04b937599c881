import Curl
import Git
import SQLite
public import Switchyard

/// Where a run ran, as its header records it: the workspace and its git state, and the
/// versions of Switchyard and of the C libraries it was built with.
public enum Provenance {
    /// `header`, as a run of `command` in `workspace` records it.
    public static func stamp(_ header: RunHeader, workspace: String, command: String) -> RunHeader {
        var header = header
        var git: RunHeader.Workspace.Git?
        if let repository = try? Repository(path: workspace, discover: true) {
            let head = try? repository.head()
            git = RunHeader.Workspace.Git(
                head: head?.commit?.hex, branch: head?.branchName, dirty: try? repository.isDirty())
        }
        header.workspace = RunHeader.Workspace(path: workspace, git: git)
        header.command = command
        header.switchyard = Switchyard.version
        header.libraries = [
            "libcurl": CurlLibrary.version, "libgit2": Repository.libraryVersion, "sqlite": Database.libraryVersion,
        ]
        return header
    }
}

/// Runs `body` as a run of `agent` on `task` recorded in `store`, its header stamped with where
/// it ran, and says the run's id; without a store, runs it with effects that record nothing.
/// `started` hears the id as soon as there is one.
func recordingRun<Result>(
    in store: TraceStore?, agent: String, task: String, header: RunHeader, workspace: String,
    started: (RunID) -> Void = { _ in }, isolation: isolated (any Actor)? = #isolation,
    _ body: (LiveEffects) async throws -> (result: Result, status: RunStatus)
) async throws -> (run: RunID?, result: Result) {
    guard let store else { return (nil, try await body(.unrecorded()).result) }
    let clock = TraceStore.wallClock
    let stamped = Provenance.stamp(header, workspace: workspace, command: agent)
    var id: RunID?
    let result = try await store.withRun(agent: agent, task: task, header: stamped.json, clock: clock) { run in
        id = run
        started(run)
        return try await body(LiveEffects(store: store, run: run, clock: clock))
    }
    return (id, result)
}
