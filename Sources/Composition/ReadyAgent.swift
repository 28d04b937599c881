public import Switchyard

/// An agent made ready to run, as every command that starts one makes it: its spec, found by
/// name (``AgentSpec/locate(_:workspace:environment:)``) and loaded with the `--set`s; the
/// workspace's and the user's settings, with the `--set`s over them; and its tools and
/// providers (``AgentSetup``, by ``StandardAssembly``), each provider asked its context window.
public struct ReadyAgent: Sendable {
    public var spec: AgentSpec
    public var setup: AgentSetup

    /// `labels` are what the tools' results carry (the spec's workspace labels, unless given);
    /// with `readOnly` the tools may not change the work tree. `notice` hears each profile the
    /// agent goes without, and why.
    public init(
        _ agent: String, workspace: String, environment: [String: String], overrides: [String],
        labels: Labels? = nil, readOnly: String? = nil, notice: (String) -> Void
    ) async throws {
        spec = try AgentSpec.load(
            path: try AgentSpec.locate(agent, workspace: workspace, environment: environment), overrides: overrides)
        setup = try await AgentSetup(
            spec: spec,
            settings: try Settings.load(workspace: workspace, environment: environment, overrides: overrides),
            workspace: workspace, environment: environment, labels: labels, readOnly: readOnly,
            assembly: StandardAssembly(environment: environment))
        setup.warnings.forEach(notice)
        setup.bindings = await ProfileBinding.askingWindows(setup.bindings)
    }
}
