import Foundation

/// A run's lifetime in the store, in one place: it starts, `body` works in it, and it ends
/// exactly once — with the status `body` returns, `interrupted` when the task was cancelled
/// (it resumes like a run whose process died), or `failed` when `body` throws (the error goes
/// on to the caller). Shaped like swift-subprocess's `run(…) { execution in … }`: the
/// run cannot outlive the call, and no path forgets to end it.
extension TraceStore {
    /// The time now, in milliseconds since 1970, as the store records times: the clock of
    /// live runs.
    public static let wallClock: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// Starts a run and ends it when `body` returns or throws.
    public func withRun<Result>(
        agent: String, task: String, header: JSONValue, parent: RunID? = nil,
        clock: @escaping @Sendable () -> Int64, isolation: isolated (any Actor)? = #isolation,
        _ body: (RunID) async throws -> (result: Result, status: RunStatus)
    ) async throws -> Result {
        let run = try await startRun(agent: agent, task: task, header: header, parent: parent, at: clock())
        return try await ending(run, clock: clock, body)
    }

    /// Takes over an interrupted or failed run (``reopen(_:)``) and ends it when `body`
    /// returns or throws.
    public func withReopenedRun<Result>(
        _ run: RunID, clock: @escaping @Sendable () -> Int64, isolation: isolated (any Actor)? = #isolation,
        _ body: (RunID) async throws -> (result: Result, status: RunStatus)
    ) async throws -> Result {
        try await reopen(run)
        return try await ending(run, clock: clock, body)
    }

    private func ending<Result>(
        _ run: RunID, clock: @escaping @Sendable () -> Int64, isolation: isolated (any Actor)? = #isolation,
        _ body: (RunID) async throws -> (result: Result, status: RunStatus)
    ) async throws -> Result {
        let outcome: (result: Result, status: RunStatus)
        do {
            outcome = try await body(run)
        } catch {
            let status: RunStatus = Task.isCancelled || error is CancellationError ? .interrupted : .failed
            try? await finish(run, status: status, at: clock())
            throw error
        }
        try await finish(run, status: outcome.status, at: clock())
        return outcome.result
    }
}
