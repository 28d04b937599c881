public import Foundation
public import Switchyard

/// One model called directly, as `switchyard chat` calls it: the profile named in the
/// workspace's and the user's settings (with `--set`s over them), its provider, and the call
/// recorded as a run of its own (with where it ran) in `store` — or not, without one.
public struct ChatRun: Sendable {
    /// The profile to call.
    public var profile: String
    /// Where `switchyard.yaml` is read from.
    public var workspace: String
    /// Where API keys and the user's settings come from.
    public var environment: [String: String]
    /// `KEY=VALUE` settings laid over everything else.
    public var overrides: [String]
    /// Where the call is recorded; nil records nothing.
    public var store: TraceStore?

    public init(
        profile: String, workspace: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [String] = [], store: TraceStore?
    ) {
        self.profile = profile
        self.workspace = workspace
        self.environment = environment
        self.overrides = overrides
        self.store = store
    }

    /// How a call ended: its run (nil when it was not recorded) and the model's response.
    public struct Outcome: Sendable {
        public var run: RunID?
        public var response: ModelResponse
    }

    /// Sends `request`, recorded as a run whose task is `prompt`; `observe` hears the
    /// response as it streams. A profile that is wrong throws before anything is recorded; a
    /// call that fails is recorded as failed, and the error thrown.
    public func run(
        _ request: ModelRequest, prompt: String, observe: @escaping @Sendable (ModelEvent) -> Void = { _ in }
    ) async throws -> Outcome {
        let settings = try Settings.load(workspace: workspace, environment: environment, overrides: overrides)
        let profile = try ModelProfile.named(self.profile, in: settings, environment: environment)
        let provider = try profile.chatProvider(environment: environment)
        var header = RunHeader()
        header.profile = profile.header
        header.settingsOverrides = overrides
        let (run, response) = try await recordingRun(
            in: store, agent: RunHeader.chatCommand, task: prompt, header: header, workspace: workspace
        ) { effects in
            let response = try await effects.model(
                request, profile: profile.name, provider: provider, step: "$1", observe: observe)
            return (response, .finished)
        }
        return Outcome(run: run, response: response)
    }
}
