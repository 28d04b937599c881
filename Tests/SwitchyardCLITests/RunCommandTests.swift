import Foundation
import Subprocess
import Switchyard
import SwitchyardTesting
import Testing

@Suite struct RunCommandTests {
    let binary = BuiltProducts.executable("switchyard")

    /// The command line of a run and of what reads it: `run --json`, `audit` (its JSON and its
    /// verdict), `trace show` (the outline, the timeline), `replay` and its what-if and fork,
    /// with their exit statuses. What the run does is the core's tests' (AgentRunTests).
    @Test func aRunPrintsItsAnswerAndIsAuditedShownAndReplayedFromTheCommandLine() async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let exfil = try LoopbackHTTPServer { _, writer in writer.respond(status: 200, text: "thanks") }
        defer { exfil.stop() }
        let directory = try TemporaryDirectory("run")
        try NotesWorkspace.writeReachingLoopback(into: directory, cloud: cloud, local: local)
        NotesWorkspace.scriptHostilePlanner(cloud: cloud, local: local, port: exfil.port)

        let environment = cliEnvironment(home: directory.path, ["OPENAI_API_KEY": "sk-test-cli"])
        let result = try await runProgram(
            binary, ["run", "helper", "When does the acquisition close?", "--workspace", directory.path, "--json"],
            environment: environment)
        #expect(result.status == 0, "\(result.standardError)")
        let output = try JSONValue(parsing: result.standardOutput)
        #expect(output["answer"] == "It closes in May.")

        let run = try #require(output["run"]?.stringValue)
        let audit = try await runProgram(binary, ["audit", run, "--json"], environment: environment)
        #expect(audit.status == 0, "\(audit.standardError)")
        #expect(try JSONValue(parsing: audit.standardOutput)["above_clearance"] == false)
        let human = try await runProgram(binary, ["audit", run], environment: environment)
        #expect(
            human.standardOutput.contains(
                "Nothing above a destination's clearance left the machine: by the guard's decisions and by the bytes sent."
            ))

        // trace show: each round with the steps it planned, routes, refusals, results.
        let shown = try await runProgram(binary, ["trace", "show", run], environment: environment)
        let tree = shown.standardOutput.split(separator: "\n").map(String.init)
        let round2 = try #require(tree.firstIndex { $0.hasPrefix("plan-2  ") })
        #expect(tree.contains { $0.hasPrefix("plan-1  ") && $0.hasSuffix("planned 1 step") })
        #expect(tree.contains { $0.hasPrefix("  $2  ") && $0.hasSuffix(#"read {"path":"notes/secret.txt"}"#) })
        let fetch = try #require(tree.firstIndex { $0.hasPrefix("  $3  ") })
        #expect(fetch > round2)
        #expect(tree[fetch].contains("http_fetch"))
        // The guard's refusal, once (the tool's error and the step's failure quote it).
        #expect(tree[fetch + 2].contains("! refused http to http://127.0.0.1:"), "\(shown.standardOutput)")
        #expect(tree.filter { $0.contains("private content may not go") }.count == 1)
        let model = try #require(tree.firstIndex { $0.hasPrefix("  $4  ") })
        #expect(tree[model].hasSuffix("model: When does it close? reading $2"))
        #expect(tree[model + 1].contains("→ local ("))
        #expect(tree[model + 1].contains("result private/"))
        #expect(tree.contains("finished: It closes in May."))
        let timeline = try await runProgram(binary, ["trace", "show", run, "--events"], environment: environment)
        #expect(timeline.standardOutput.contains("  └ tool.result"))

        // The run replays exactly, and no server hears of it.
        let asked = cloud.requests.count + local.requests.count
        let replay = try await runProgram(binary, ["replay", run], environment: environment)
        #expect(replay.status == 0, "\(replay.standardOutput)\(replay.standardError)")
        #expect(replay.standardOutput.contains("no divergence"))
        #expect(cloud.requests.count + local.requests.count == asked)
        // What-if: one word of the prompt changed; the first planner request diverges there.
        let edited = try directory.read("agents/helper.md").replacing(
            "You help with notes.", with: "You help with files.")
        try directory.write("edited/helper.md", edited)
        let whatIf = try await runProgram(
            binary, ["replay", run, "--agent", directory.path + "/edited/helper.md", "--json"], environment: environment
        )
        #expect(whatIf.status == 6)
        let divergence = try JSONValue(parsing: whatIf.standardOutput)["divergence"]
        #expect(divergence?["step"] == "plan-1")
        #expect(divergence?["path"]?.stringValue?.hasPrefix("request.messages[0].content") == true)
        // A fork from $4: its answer, and the new run's id.
        local.enqueue("/v1/chat/completions", .openAIText("In May."))
        cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "$4"], id: 4))
        let fork = try await runProgram(
            binary, ["replay", run, "--live-from", "$4", "--json"], environment: environment)
        #expect(fork.status == 0, "\(fork.standardError)")
        let forked = try JSONValue(parsing: fork.standardOutput)
        #expect(forked["answer"] == "In May.")
        #expect(forked["fork"]?.stringValue?.isEmpty == false)
        let nowhere = try await runProgram(binary, ["replay", run, "--live-from", "$42"], environment: environment)
        #expect(nowhere.status == 1)
        #expect(nowhere.standardError.hasPrefix("switchyard: "))
    }

    @Test func aSpecWithAnUnknownToolDoesNotRun() async throws {
        let directory = try TemporaryDirectory("run-bad")
        try directory.write(
            "agents/bad.md",
            "---\nname: bad\nprofiles:\n  local: { provider: ollama, model: m }\ntools:\n  teleport: {}\n---\nHi\n")
        let result = try await runProgram(
            binary, ["run", "bad", "task", "--workspace", directory.path, "--no-record"],
            environment: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": directory.path,
            ])
        #expect(result.status == 2)
        #expect(result.standardError.contains("bad.md:6: unknown tool 'teleport'"))
    }

    /// A run killed while a model step waits for its answer resumes where it stopped: the
    /// planner's rounds and the fetch that completed come from the trace (neither server
    /// hears them again), the unanswered request is asked again, the run finishes in place
    /// and replays exactly.
    @Test func aKilledRunResumesWithoutRepeatingWhatCompleted() async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let site = try LoopbackHTTPServer { _, writer in writer.respond(status: 200, text: "Release train: Thursday.") }
        defer { site.stop() }
        let directory = try TemporaryDirectory("resume")
        try directory.write(
            "agents/helper.md",
            plannedAgent(
                "helper", local: local, cloud: cloud,
                tools: [#"http_fetch: { allow_hosts: ["127.0.0.1"], allow_addresses: ["127.0.0.1"] }"#],
                prompt: "You help."))
        let url = "http://127.0.0.1:\(site.port)/schedule"
        cloud.enqueue(
            "/v1/chat/completions",
            .openAIPlan(["steps": [["kind": "tool", "tool": "http_fetch", "arguments": ["url": .string(url)]]]], id: 1))
        cloud.enqueue(
            "/v1/chat/completions",
            .openAIPlan(["steps": [["kind": "model", "instruction": "When is the release?", "inputs": ["$2"]]]], id: 2))
        // The model step's answer never comes: the run is killed while it waits.
        local.enqueue("/v1/chat/completions", ScriptedReply(parts: ["", ""], pause: .seconds(60)))
        let environment = cliEnvironment(home: directory.path, ["OPENAI_API_KEY": "sk-test-cli"])
        let configuration = processConfiguration(
            binary, ["run", "helper", "When is the release?", "--workspace", directory.path], environment: environment)
        let killed = try await Subprocess.run(configuration, input: .none, output: .discarded, error: .discarded) {
            execution in
            let deadline = ContinuousClock.now + .seconds(30)
            while local.requests.isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            try execution.send(signal: .kill)
        }
        #expect(!killed.terminationStatus.isSuccess)
        #expect(site.requestCount == 1)
        let listed = try await runProgram(binary, ["trace", "ls", "--json"], environment: environment)
        let entry = try #require(try JSONValue(parsing: listed.standardOutput).arrayValue?.first)
        #expect(entry["status"] == "interrupted")
        let run = try #require(entry["id"]?.stringValue)

        local.enqueue("/v1/chat/completions", .openAIText("On Thursday."))
        cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "$3"], id: 3))
        let resumed = try await runProgram(binary, ["resume", run], environment: environment)
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardOutput.hasPrefix("On Thursday."))
        #expect(site.requestCount == 1)  // the fetch completed before the kill: not repeated
        #expect(cloud.requests.count == 3)  // rounds 1 and 2 from the trace, round 3 live
        #expect(local.requests.count == 2)  // the unanswered request, asked again
        let after = try JSONValue(
            parsing: try await runProgram(binary, ["trace", "ls", "--json"], environment: environment).standardOutput)
        #expect(after.arrayValue?.count == 1)
        #expect(after.arrayValue?.first?["status"] == "finished")
        let replay = try await runProgram(binary, ["replay", run], environment: environment)
        #expect(replay.status == 0, "\(replay.standardOutput)\(replay.standardError)")
        #expect(replay.standardOutput.contains("no divergence"))
        #expect(cloud.requests.count == 3)

        let again = try await runProgram(binary, ["resume", run], environment: environment)
        #expect(again.status == 1)
        #expect(again.standardError.contains("only interrupted or failed runs resume"))
    }
}
