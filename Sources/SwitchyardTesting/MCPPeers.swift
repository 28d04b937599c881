import Foundation

/// The MCP servers the tests drive (`Tests/Peers/mcp-servers`): the reference Python SDK's
/// published time server and a scripted server on the same SDK (`Tests/Peers/mcp-peer.py`)
/// that logs the arguments of every call it receives.
public enum MCPPeers {
    /// The Python of the peers' environment, installed on first use.
    public static func python() async throws -> String {
        try await installed.value
    }

    /// The scripted server; run it as `python mcp-peer.py LOG`.
    public static var peerScript: String { peersDirectory + "/mcp-peer.py" }

    /// The command line of the scripted server, logging to `log`, as an agent spec's YAML list.
    public static func peerCommand(log: String) async throws -> String {
        "[\"\(try await python())\", \"\(peerScript)\", \"\(log)\"]"
    }

    /// The command line of the time server (`mcp-server-time`, in UTC), as a YAML list.
    public static func timeCommand() async throws -> String {
        "[\"\(try await python())\", \"-m\", \"mcp_server_time\", \"--local-timezone\", \"UTC\"]"
    }

    private static var peersDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Peers").path
    }

    private static let installed = Task<String, any Error>.detached {
        let script = peersDirectory + "/mcp-servers"
        let environment = ProcessInfo.processInfo.environment
        let install = try await runProgram(script, ["install"], environment: environment)
        guard install.status == 0 else {
            throw PeerError(description: "\(script) install failed: \(install.standardError)")
        }
        let python = try await runProgram(script, ["python"], environment: environment)
        return python.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
