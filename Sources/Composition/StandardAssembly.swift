public import Foundation
import MCPClient
public import Switchyard

/// The tools and providers `switchyard` has: tool names made into tools by ``Toolbox``, and
/// profiles into the providers of their kind, MCP servers into processes on stdio.
public struct StandardAssembly: AgentAssembly {
    /// Where the vector tools find their store (`SWITCHYARD_HOME`, `HOME`).
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func tools(
        named names: Set<String>, workspace: String, settings: Settings, labels: Labels, readOnly: String?
    ) throws -> [any Tool] {
        try Toolbox.make(
            workspacePath: workspace, settings: settings, labels: labels, only: names, readOnly: readOnly,
            environment: environment)
    }

    public func provider(for profile: ModelProfile, apiKey: String?) throws -> any ModelProvider {
        try profile.chatProvider(apiKey: apiKey)
    }

    public func connection(to server: MCPServerSpec, workspace: String) -> any MCPConnection {
        StdioConnection(server: server, workspace: workspace, environment: environment)
    }
}
