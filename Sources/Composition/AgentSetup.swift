import Foundation
public import Switchyard

/// What a run of an agent needs besides its spec: its tools and its profiles' providers.
public enum AgentSetup {
    /// The spec's tools (options from the spec, under the user's settings) and a binding for
    /// every profile whose provider can be made; the others are reported on stderr.
    /// `labels` are what the tools' results carry (the workspace's, unless given); with
    /// `readOnly` the tools may not change the work tree (see `Toolbox.make`).
    public static func make(
        spec: AgentSpec, settings: Settings, workspace: String, environment: [String: String], labels: Labels? = nil,
        readOnly: String? = nil, provider: (ModelProfile) throws -> any ModelProvider
    ) throws -> ([any Tool], [ProfileBinding]) {
        let merged = try spec.settings.overlaid(by: settings)
        let tools = try Toolbox.make(
            workspacePath: workspace, settings: merged, labels: labels ?? spec.privacy.workspace,
            only: Set(spec.tools.keys), readOnly: readOnly)
        var bindings: [ProfileBinding] = []
        for (name, profile) in try ModelProfile.all(from: merged, environment: environment).sorted(by: {
            $0.key < $1.key
        }) {
            do {
                bindings.append(
                    ProfileBinding(
                        name: name, provider: try provider(profile), clearance: profile.clearance,
                        destination: profile.baseURL, price: profile.price, contextWindow: profile.contextWindow))
            } catch {
                // The profiles the agent cannot run without stop it here, saying why; a
                // router's alternative only warns.
                if name == spec.model || name == spec.planner { throw error }
                FileHandle.standardError.write(Data("switchyard: profile \(name) is unavailable: \(error)\n".utf8))
            }
        }
        return (tools, bindings)
    }

    /// What the agent is told when it tries to change the work tree of a run without `--apply`.
    public static let readOnlyReason =
        "the work tree is read-only in this run: propose the change as a patch committed on a new branch (git_commit with patch), or the user can rerun with --apply"

    /// What a run's header says about its agent: the spec (and its hash, so replay knows
    /// when it changed), where each profile's requests go, the tools and the `--set`s.
    public static func header(spec: AgentSpec, tools: [any Tool], bindings: [ProfileBinding], overrides: [String])
        -> [String: JSONValue]
    {
        [
            "agent": [
                "name": .string(spec.name), "file": .string(spec.file), "spec_sha256": .string(spec.hash),
                "planner": spec.planner.map(JSONValue.string) ?? .null, "model": .string(spec.model),
            ],
            "profiles": .object(
                Dictionary(
                    uniqueKeysWithValues: bindings.map {
                        (
                            $0.name,
                            profileHeader($0)
                        )
                    })),
            "tools": .array(tools.map(\.name).sorted().map(JSONValue.string)),
            // What each tool can read: `audit` labels what it returned by this, whatever the run said.
            "tool_labels": .object(Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0.reads.json) })),
            "settings_overrides": .array(overrides.map(JSONValue.string)),
        ]
    }
}

/// What a run's header records of a profile: how far it is trusted, where its requests go,
/// and its price (so `trace show` can give costs).
public func profileHeader(_ binding: ProfileBinding) -> JSONValue {
    var header: [String: JSONValue] = [
        "clearance": .string(binding.clearance.description), "destination": .string(binding.destination),
    ]
    if let price = binding.price { header["price"] = price.json }
    if let window = binding.contextWindow {
        header["context_window"] = ["tokens": .number(Double(window.tokens)), "source": .string(window.source)]
    }
    return .object(header)
}

extension ContextWindow {
    /// A window as a run's header recorded it.
    public init?(recorded json: JSONValue?) {
        guard let tokens = json?["tokens"]?.intValue, let source = json?["source"]?.stringValue else { return nil }
        self.init(tokens: tokens, source: source)
    }
}
