/// Where live effects write what a run does: the writing half of a trace store, one small
/// protocol under ``LiveEffects`` as swift-log's `LogHandler` sits under `Logger`.
/// ``TraceStore`` is one; ``NullSink`` keeps nothing (a run with `--no-record`); a store on
/// another backend is another, and the loops above the effects do not change.
public protocol TraceSink: Sendable {
    /// Commits the intent of an effect — a request about to be made, a tool about to run —
    /// before the effect begins; its sequence number.
    func begin(run: RunID, kind: EventKind, step: String?, parent: Int?, payload: JSONValue, at milliseconds: Int64)
        async throws -> Int

    /// Records the outcome of the effect whose intent is event `intent`, durable before
    /// anything the outcome causes leaves the process.
    func conclude(run: RunID, kind: EventKind, step: String?, intent: Int, payload: JSONValue, at milliseconds: Int64)
        async throws

    /// Appends an event, committed before this returns; its sequence number.
    @discardableResult
    func append(run: RunID, kind: EventKind, step: String?, parent: Int?, payload: JSONValue, at milliseconds: Int64)
        async throws -> Int

    /// Records an event that need not be durable before the run goes on (a decision, a
    /// reading of the clock): committed with the next event at the latest.
    func post(run: RunID, kind: EventKind, step: String?, parent: Int?, payload: JSONValue, at milliseconds: Int64)
        async throws
}

extension TraceStore: TraceSink {}

/// A sink that keeps nothing: the effects of a run that is not recorded.
public struct NullSink: TraceSink {
    public init() {}

    public func begin(
        run: RunID, kind: EventKind, step: String?, parent: Int?, payload: JSONValue, at milliseconds: Int64
    ) async throws -> Int { 0 }

    public func conclude(
        run: RunID, kind: EventKind, step: String?, intent: Int, payload: JSONValue, at milliseconds: Int64
    ) async throws {}

    public func append(
        run: RunID, kind: EventKind, step: String?, parent: Int?, payload: JSONValue, at milliseconds: Int64
    ) async throws -> Int { 0 }

    public func post(
        run: RunID, kind: EventKind, step: String?, parent: Int?, payload: JSONValue, at milliseconds: Int64
    ) async throws {}
}
