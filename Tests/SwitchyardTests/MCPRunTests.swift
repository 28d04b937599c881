import Composition
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// An agent with MCP servers, the reference Python SDK's: the published time server and a
/// scripted one that logs every call it receives. A hostile planner reads a private note and
/// hands it to a server cleared only for public data; the guard refuses, the server never
/// hears of it, and the run is recorded, audited, replayed without the servers and forked live.
@Suite struct MCPRunTests {
    static let canary = "CANARY-6061"

    func tool(_ name: String, _ arguments: JSONValue) -> JSONValue {
        ["kind": "tool", "tool": .string(name), "arguments": arguments]
    }

    /// The planner's rounds after the first: the note, the note to `echo`, the answer.
    func scriptTheRest(_ cloud: ScriptedModelServer, from id: Int) {
        cloud.enqueue(
            "/v1/chat/completions", .openAIPlan(["steps": [tool("read", ["path": "notes/secret.txt"])]], id: id))
        cloud.enqueue(
            "/v1/chat/completions", .openAIPlan(["steps": [tool("mcp__peer__echo", ["text": "$4"])]], id: id + 1))
        cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "done"], id: id + 2))
    }

    @Test func anAgentUsesMCPServersUnderTheGuardAndReplaysWithoutThem() async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let fixture = try AgentRunFixture("mcp-run", apiKey: "sk-test-mcp")
        let directory = fixture.directory
        let logs = try TemporaryDirectory("mcp-run-calls")
        let log = logs.path + "/peer.jsonl"
        try directory.write("notes/secret.txt", "\(Self.canary) the merger closes on May 9.\n")
        try directory.write(
            "agents/tracker.md",
            plannedAgent(
                "tracker", local: local, cloud: cloud, tools: ["read: {}"],
                rest: """
                    mcp:
                      time: { command: \(try await MCPPeers.timeCommand()), returns: { confidentiality: public } }
                      peer: { command: \(try await MCPPeers.peerCommand(log: log)), tools: [echo, lookup] }
                    budgets: { steps: 10 }
                    """,
                prompt: "You look things up."))
        cloud.enqueue(
            "/v1/chat/completions",
            .openAIPlan(
                [
                    "steps": [
                        tool("mcp__time__get_current_time", ["timezone": "UTC"]),
                        tool("mcp__peer__lookup", ["key": "ABC-1"]),
                    ]
                ], id: 1))
        scriptTheRest(cloud, from: 2)

        let (run, result) = try await fixture.run("tracker", "Where is ABC-1?")
        #expect(result.status == .finished, "\(result.stopReason)")
        #expect(result.answer == "done")
        func calls() -> [JSONValue] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        }
        // The server heard the lookup and nothing else: not the note.
        #expect(calls() == [["tool": "lookup", "arguments": ["key": "ABC-1"]]])
        #expect(!cloud.requests.map(\.text).joined().contains(Self.canary))
        // The planner was offered the allowed tools of each server, under their servers' names.
        let offered = try #require(cloud.requests.first?.text)
        #expect(offered.contains("mcp__peer__lookup") && offered.contains("mcp__time__get_current_time"))
        #expect(!offered.contains("mcp__peer__flood") && !offered.contains("mcp__peer__environment"))

        // Each call an egress, decided and audited; the note's was refused.
        let decisions = result.guardDecisions.filter { $0.egress.kind == .mcp }
        // (The round's two calls run side by side, in either order.)
        let decided = Dictionary(decisions.map { ($0.egress.destination, $0.allowed) }, uniquingKeysWith: { $0 && $1 })
        #expect(decisions.count == 3)
        #expect(decided == ["mcp:time/get_current_time": true, "mcp:peer/lookup": true, "mcp:peer/echo": false])
        let audit = try await Audit(of: run, in: fixture.store)
        #expect(audit.clean)
        let refused = try #require(audit.egress.first { $0["decision"] == "refuse" })
        #expect(refused["kind"] == "mcp")
        #expect(refused["destination"] == "mcp:peer/echo")
        #expect(refused["labels"]?["confidentiality"] == "private")

        // The calls' results are recorded, as are the servers' catalogues.
        let events = try await fixture.events(run)
        let results = events.filter { $0.kind == .toolResult }.map(\.payload.canonicalText)
        #expect(results.contains { $0.contains("open, assigned to the platform team") })
        #expect(results.contains { $0.contains("UTC") })
        let header = try await fixture.store.runHeader(run)
        #expect(header.mcp?["peer"]?.server == "peer 1.0")
        #expect(header.mcp?["time"]?.tools.map(\.name).contains("get_current_time") == true)

        // The run replays exactly with no server to start: their commands point nowhere.
        let asked = cloud.requests.count
        let replay = try await Replayer(
            store: fixture.store, assembly: StandardAssembly(environment: fixture.environment),
            environment: fixture.environment,
            overrides: ["mcp.peer.command=[/nonexistent/mcp-peer]", "mcp.time.command=[/nonexistent/mcp-time]"]
        ).replay(run)
        #expect(replay.divergence == nil)
        #expect(cloud.requests.count == asked)
        #expect(calls().count == 1)

        // A fork from the lookup calls the server again, live, under the guard.
        scriptTheRest(cloud, from: 5)
        let fork = try await fixture.replayer.fork(run, at: "$3")
        #expect(fork.answer == "done")
        #expect(calls().map { $0["tool"] } == ["lookup", "lookup"])
        #expect(!cloud.requests.map(\.text).joined().contains(Self.canary))
        let forkRefusals = try await Audit(of: fork.child, in: fixture.store).egress.filter {
            $0["decision"] == "refuse"
        }
        #expect(forkRefusals.map { $0["destination"] } == ["mcp:peer/echo"])
    }
}
