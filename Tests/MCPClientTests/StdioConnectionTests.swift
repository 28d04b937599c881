import Foundation
import MCPClient
import Switchyard
import SwitchyardTesting
import Testing

/// The client side of MCP against the reference Python SDK's servers on stdio: what they list
/// and answer, and what becomes of a server that floods, hangs, crashes or asks for what the
/// environment holds.
@Suite struct StdioConnectionTests {
    let directory: TemporaryDirectory
    let log: String

    init() throws {
        directory = try TemporaryDirectory("mcp-connection")
        log = directory.path + "/calls.jsonl"
    }

    func peer(timeout: Duration = .seconds(30), environment: [String: String] = [:]) async throws -> StdioConnection {
        let server = MCPServerSpec(
            name: "peer", command: [try await MCPPeers.python(), MCPPeers.peerScript, log], timeout: timeout)
        var base = ProcessInfo.processInfo.environment
        base.merge(environment) { _, given in given }
        return StdioConnection(server: server, workspace: directory.path, environment: base)
    }

    /// The calls the peer logged, as `tool: arguments` lines.
    func logged() throws -> String {
        (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    }

    @Test func listsAndCallsTheServersTools() async throws {
        let connection = try await peer()
        let catalogue = try await connection.catalogue()
        #expect(catalogue.server == "peer 1.0")
        #expect(Set(catalogue.tools.map(\.name)).isSuperset(of: ["echo", "lookup", "flood", "hang", "crash"]))
        let echo = try #require(catalogue.tools.first { $0.name == "echo" })
        #expect(echo.description == "Answers with the text it is given.")
        #expect(echo.inputSchema["required"] == ["text"])

        let result = try await connection.call("echo", arguments: ["text": "hello"])
        #expect(result == MCPCallResult(text: "echo: hello", isError: false))
        #expect(try logged().contains(#""arguments": {"text": "hello"}"#))
    }

    @Test func callsThatArriveTogetherShareOneServer() async throws {
        let connection = try await peer()
        let pids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 { group.addTask { try await connection.call("pid", arguments: [:]).text } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(pids.count == 1, "\(pids)")
    }

    /// A server inherits none of Switchyard's open files (the trace store, a workspace file).
    @Test func theServerInheritsNoOpenFiles() async throws {
        try directory.write("held-open.txt", "secret\n")
        let held = try #require(FileHandle(forReadingAtPath: directory.path + "/held-open.txt"))
        defer { try? held.close() }
        let connection = try await peer()
        let open = try await connection.call("descriptors", arguments: [:]).text
        #expect(open.contains("pipe:"), "\(open)")
        #expect(!open.contains("held-open.txt"), "\(open)")
    }

    @Test func theServerGetsNoneOfSwitchyardsEnvironmentButWhatItsSpecGives() async throws {
        let connection = try await peer(environment: [
            "OPENAI_API_KEY": "sk-canary-should-stay", "SWITCHYARD_HOME": "/tmp/elsewhere",
        ])
        let names = try await connection.call("environment", arguments: [:]).text.split(separator: " ")
        #expect(!names.contains("OPENAI_API_KEY"))
        #expect(!names.contains("SWITCHYARD_HOME"))
        #expect(names.contains("PATH"))
    }

    @Test func aMessageOverTheLimitStopsTheServerAndTheNextCallStartsItAgain() async throws {
        let connection = try await peer()
        let error = await #expect(throws: (any Error).self) {
            try await connection.call("flood", arguments: ["size": .number(Double(StdioConnection.messageLimit + 1))])
        }
        #expect("\(error!)".contains("longer than \(StdioConnection.messageLimit) bytes"), "\(error!)")
        let result = try await connection.call("echo", arguments: ["text": "again"])
        #expect(result.text == "echo: again")
    }

    @Test func aServerThatHangsIsStoppedAtItsTimeout() async throws {
        let connection = try await peer(timeout: .seconds(2))
        let error = await #expect(throws: (any Error).self) {
            try await connection.call("hang", arguments: [:])
        }
        #expect("\(error!)".contains("did not answer within 2.0 seconds calling hang"), "\(error!)")
        #expect(try await connection.call("echo", arguments: ["text": "after"]).text == "echo: after")
    }

    @Test func aServerThatExitsMidCallFailsTheCallAtOnce() async throws {
        // The timeout is long: the call must fail because the server is gone, not because it is late.
        let connection = try await peer(timeout: .seconds(600))
        let error = await #expect(throws: (any Error).self) {
            try await connection.call("crash", arguments: [:])
        }
        #expect("\(error!)".contains("MCP server peer failed calling crash: the server closed its output"), "\(error!)")
    }

    @Test func aServerThatCannotStartSaysWhy() async throws {
        let server = MCPServerSpec(name: "gone", command: ["no-such-mcp-server-program"])
        let connection = StdioConnection(
            server: server, workspace: directory.path, environment: ["PATH": "/usr/bin:/bin"])
        let error = await #expect(throws: (any Error).self) { try await connection.catalogue() }
        #expect("\(error!)".contains("no program `no-such-mcp-server-program` on PATH"), "\(error!)")
    }

    @Test func aServerThatIsNoMCPServerFailsWithWhatItSaid() async throws {
        let server = MCPServerSpec(
            name: "liar", command: ["/bin/sh", "-c", "echo 'this is not JSON-RPC'; echo 'bad things' >&2; sleep 60"],
            timeout: .seconds(2), startTimeout: .seconds(2))
        let connection = StdioConnection(
            server: server, workspace: directory.path, environment: ["PATH": "/usr/bin:/bin"])
        let error = await #expect(throws: (any Error).self) { try await connection.catalogue() }
        #expect("\(error!)".contains("MCP server liar failed starting"), "\(error!)")
        #expect("\(error!)".contains("bad things"), "\(error!)")
    }
}
