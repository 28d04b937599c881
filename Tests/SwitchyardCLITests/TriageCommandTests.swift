import Foundation
import Subprocess
import Switchyard
import SwitchyardTesting
import SystemPackage
import Testing

/// `switchyard triage` against scripted OpenAI-format servers (local chat + embeddings, and
/// the cloud), through the real HTTP stack, trace store and vector store.
struct TriageFixture {
    let local: ScriptedModelServer
    let cloud: ScriptedModelServer
    let directory: TemporaryDirectory
    let binary = BuiltProducts.executable("switchyard")

    static let components = ["billing", "auth", "api"]
    static let labels = ["bug", "question", "security"]

    init(tickets: [JSONValue], declassify: String = "redacted-summary") throws {
        local = try ScriptedModelServer()
        cloud = try ScriptedModelServer()
        directory = try TemporaryDirectory("triage")
        try directory.write("tickets.jsonl", tickets.map(\.canonicalText).joined(separator: "\n") + "\n")
        try directory.write(
            "agents/triage.md",
            """
            ---
            name: triage
            model: local
            profiles:
              local: { provider: openai-compatible, base_url: "\(local.baseURL)/v1", model: small, options: { stream: false } }
              cloud: { provider: openai-compatible, base_url: "\(cloud.baseURL)/v1", model: big, clearance: internal, options: { stream: false }, price: { input: 1, output: 2 } }
              embed: { provider: openai-compatible, base_url: "\(local.baseURL)/v1", model: e }
            tools:
              vector_search: { collection: tickets }
              vector_upsert: { collection: tickets }
            triage:
              components: [\(Self.components.joined(separator: ", "))]
              labels: [\(Self.labels.joined(separator: ", "))]
              escalate_below: 0.5
              escalate_to: cloud
              duplicate_min_score: 0.9
            privacy: { declassify: \(declassify) }
            ---
            You triage tickets.
            """)
    }

    var environment: [String: String] {
        cliEnvironment(home: directory.path)
    }

    var arguments: [String] {
        [
            "triage", directory.path + "/tickets.jsonl", "--agent", directory.path + "/agents/triage.md", "--out",
            directory.path + "/decisions.jsonl", "--workspace", directory.path,
        ]
    }

    func triage(_ extra: [String] = []) async throws -> ProgramResult {
        try await runProgram(binary, arguments + extra, environment: environment)
    }

    func run(_ arguments: [String]) async throws -> ProgramResult {
        try await runProgram(binary, arguments, environment: environment)
    }

    func embed(_ vector: [Double]) { local.enqueueEmbedding(vector) }

    /// A local reading, or `on` the cloud a second opinion.
    func decide(
        _ component: String, priority: String = "P2", confidence: Double, duplicateOf: String? = nil,
        on server: ScriptedModelServer? = nil
    ) {
        (server ?? local).enqueueTriageReading(
            component, priority: priority, confidence: confidence, duplicateOf: duplicateOf,
            secondOpinion: server != nil)
    }

    var decisions: [JSONValue] {
        get throws {
            try directory.read("decisions.jsonl").split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        }
    }

    /// The decision schema, as the spec defines it.
    func conforms(_ decision: JSONValue) -> Bool {
        guard let component = decision["component"]?.stringValue, Self.components.contains(component),
            let priority = decision["priority"]?.stringValue, ["P0", "P1", "P2", "P3"].contains(priority),
            let labels = decision["labels"]?.arrayValue,
            labels.allSatisfy({ Self.labels.contains($0.stringValue ?? "") }),
            let confidence = decision["confidence"]?.doubleValue, (0...1).contains(confidence),
            decision["summary"]?.stringValue?.isEmpty == false, decision["duplicate_of"] != nil,
            decision["ticket"]?.stringValue != nil, decision["run"]?.stringValue != nil
        else { return false }
        return true
    }
}

func ticket(_ id: String, _ title: String, _ body: String) -> JSONValue {
    ["id": .string(id), "title": .string(title), "body": .string(body)]
}

@Suite struct TriageCommandTests {
    static let tickets = [
        ticket(
            "T-1", "Invoices stuck in sending",
            "Since this morning none of our invoices leave the sending state. Contact alice@corp.example, our key sk-proj-Zx81kLmNoPqRsTuVwXyZ0123456789abcd."
        ),
        ticket(
            "T-2", "Login loop", "After the last update my colleagues and I keep getting sent back to the login page."),
        ticket("T-3", "Invoices not sent", "Our invoices are stuck and customers get nothing."),
        ticket("T-4", "Question about exports", "Which date does the payments export use?"),
    ]

    /// The command line of a batch (the batch itself is `TriageBatchTests`, in-process): the
    /// progress lines, the table, `--json`, the decisions file beside the tickets by default,
    /// `trace`, `replay` and `audit` on a ticket's run, and status 1 with the reason when a
    /// ticket fails.
    @Test func aBatchPrintsItsProgressAndTableAndItsTicketsRunsReplay() async throws {
        let fixture = try TriageFixture(tickets: [Self.tickets[1], Self.tickets[3]])
        fixture.embed([0, 1, 0])
        fixture.decide("auth", priority: "P1", confidence: 0.9)
        fixture.embed([0, 0, 1])
        fixture.local.enqueue("/v1/chat/completions", .openAIText(#"{"component":"space"}"#))
        fixture.decide("api", priority: "P3", confidence: 0.7)
        let arguments = fixture.arguments.filter { $0 != "--out" && $0 != fixture.directory.path + "/decisions.jsonl" }
        let result = try await fixture.run(arguments)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.standardError.contains("triage: 2 tickets in \(fixture.directory.path)/tickets.jsonl; batch run "))
        #expect(result.standardError.contains("] T-2: auth, P1\n"), "\(result.standardError)")
        #expect(result.standardOutput.contains("Decided 2 tickets in "))
        #expect(result.standardOutput.contains("auth            1    0      1"), "\(result.standardOutput)")
        #expect(
            result.standardOutput.contains("Duplicates found: 0 · escalated (redacted summary): 0 · needs review: 0"))
        let decisions = try fixture.directory.read("tickets.decisions.jsonl").split(separator: "\n")
        #expect(decisions.count == 2)

        let again = try await fixture.run(arguments + ["--json"])
        #expect(again.status == 0, "\(again.standardError)")
        let summary = try JSONValue(parsing: again.standardOutput)
        #expect(summary["decided"] == 2 && summary["decided_now"] == 0 && summary["skipped"] == 2)
        #expect(summary["components"]?["auth"] == 1 && summary["priorities"]?["P3"] == 1)

        let run = try #require(try JSONValue(parsing: String(decisions[0]))["run"]?.stringValue)
        let replay = try await fixture.run(["replay", run])
        #expect(replay.status == 0, "\(replay.standardOutput)\(replay.standardError)")
        #expect(replay.standardOutput.contains("no divergence"))
        let audit = try await fixture.run(["audit", run])
        #expect(audit.status == 0, "\(audit.standardOutput)")
        let shown = try await fixture.run(["trace", "show", run])
        #expect(shown.status == 0 && shown.standardOutput.contains("decide"), "\(shown.standardOutput)")

        // A ticket that fails: status 1, its reason on standard error, nothing written.
        let failing = try TriageFixture(tickets: [Self.tickets[3]])
        failing.embed([0, 0, 1])
        failing.local.enqueue("/v1/chat/completions", .openAIText(#"{"component":"space"}"#))
        let failed = try await failing.triage(["--set", "budgets.steps=1"])
        #expect(failed.status == 1)
        #expect(failed.standardError.contains("T-4: FAILED — ticket T-4: the step budget (1) is spent"))
        #expect(failed.standardOutput.contains("1 FAILED (re-run to retry them)"))
    }

    @Test func aKilledBatchResumesWithNoTicketDecidedTwiceAndNoneLost() async throws {
        let tickets = (1...6).map { ticket("K-\($0)", "Problem \($0)", "Details of problem number \($0).") }
        let fixture = try TriageFixture(tickets: tickets)
        for index in 0..<3 {
            let vector: [Double] = [index == 0 ? 1 : 0, index == 1 ? 1 : 0, index == 2 ? 1 : 0]
            fixture.embed(vector)
            fixture.decide("api", confidence: 0.9)
        }
        // K-4's decision never comes: the batch is killed while it waits.
        fixture.embed([0.5, 0.5, 0])
        fixture.local.enqueue(
            "/v1/chat/completions", ScriptedReply(parts: ["", ""], pause: .seconds(60)))
        let configuration = processConfiguration(
            fixture.binary, fixture.arguments, environment: fixture.environment)
        let killed = try await Subprocess.run(configuration, input: .none, output: .discarded, error: .sequence) {
            execution in
            var decided = 0
            for try await line in execution.standardError.strings() {
                decided += line.split(separator: "\n").filter { $0.contains("K-") && $0.contains("api") }.count
                if decided >= 3 {
                    // Killed while K-4's decision is being asked for.
                    let deadline = ContinuousClock.now + .seconds(20)
                    while fixture.local.requests.filter({ $0.path == "/v1/chat/completions" }).count < 4,
                        ContinuousClock.now < deadline
                    {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    try execution.send(signal: .kill)
                    break
                }
            }
            return decided
        }
        #expect(killed.closureResult == 3)
        #expect(try fixture.decisions.count == 3)
        // A write torn by the kill: a partial line, never acknowledged.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: fixture.directory.path + "/decisions.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"component":"api","ticket":"K-4","#.utf8))
        try handle.close()

        for index in 3..<6 {
            fixture.embed([Double(index), 1, 1])
            fixture.decide("api", confidence: 0.9)
        }
        let resumed = try await fixture.triage(["--json"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("partial line"))
        let decisions = try fixture.decisions
        #expect(decisions.compactMap { $0["ticket"]?.stringValue } == tickets.map { $0["id"]!.stringValue! })
        #expect(decisions.allSatisfy(fixture.conforms))
        // The killed ticket's first run is marked interrupted; its second finished.
        let list = try await fixture.run(["trace", "ls", "--json"])
        let runs = try JSONValue(parsing: list.standardOutput).arrayValue ?? []
        let k4 = runs.filter { $0["task"] == "ticket K-4" }.compactMap { $0["status"]?.stringValue }.sorted()
        #expect(k4 == ["finished", "interrupted"], "\(list.standardOutput)")
    }

    /// A disk that fills while a decision is written (the decisions file on an 8 KB tmpfs, made
    /// inside a bubblewrap namespace): the short write is cut back to the last whole line, the
    /// error says why, and the next run reads the file.
    @Test func aDiskThatFillsMidLineLeavesOnlyWholeLines() async throws {
        let fixture = try TriageFixture(tickets: [Self.tickets[3]])
        fixture.embed([0, 0, 1])
        fixture.decide("api", confidence: 0.9)
        // Earlier decisions that nearly fill the disk (8,094 bytes of 8,192).
        let filler = String(repeating: "x", count: 40)
        let seed =
            (1...37).map {
                #"{"component":"api","confidence":0.9,"decided_by":"local","duplicate_of":null,"escalated":false,"labels":["bug"],"needs_review":false,"priority":"P2","summary":"\#(filler)","ticket":"S-\#($0)"}"#
            }.joined(separator: "\n") + "\n"
        try fixture.directory.write("seed.jsonl", seed)
        let small = fixture.directory.path + "/small"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let out = small + "/decisions.jsonl"
        let arguments = fixture.arguments.map { $0 == fixture.directory.path + "/decisions.jsonl" ? out : $0 }
        let command =
            "cp \(fixture.directory.path)/seed.jsonl \(out) && "
            + "'\(fixture.binary)' \(arguments.map { "'\($0)'" }.joined(separator: " ")); "
            + "status=$?; cp \(out) \(fixture.directory.path)/after.jsonl; exit $status"
        let result = try await runProgram(
            try #require(findExecutable("bwrap")),
            ["--dev-bind", "/", "/", "--size", "8192", "--tmpfs", small, "/bin/sh", "-c", command],
            environment: fixture.environment)
        #expect(result.status == 1, "\(result.standardError)")
        #expect(result.standardError.contains("No space left on device"), "\(result.standardError)")
        #expect(!result.standardError.contains("Success"))
        let after = try fixture.directory.read("after.jsonl")
        #expect(after == seed)
    }

    /// A decisions file that cannot be written (`TicketFileTests` has the cases) stops the
    /// command with status 2 and the reason, before any model call.
    @Test func aDecisionsFileThatCannotBeWrittenStopsTheBatchBeforeAnyModelCall() async throws {
        let fixture = try TriageFixture(tickets: [Self.tickets[3]])
        let out = fixture.directory.path + "/decisions.jsonl"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        let result = try await fixture.triage()
        #expect(result.status == 2, "\(result.standardError)")
        #expect(
            result.standardError
                == "switchyard: configuration: \(out): cannot open the decisions file: Is a directory\n")
        #expect(fixture.local.requests.isEmpty)
        #expect(fixture.cloud.requests.isEmpty)
    }

    /// A tickets file the core refuses (`TicketFileTests` has the cases) stops the command
    /// with status 2 and one line naming the file and line, before any model call.
    @Test func badInputIsRefusedInOneLineWithItsLine() async throws {
        let fixture = try TriageFixture(tickets: Self.tickets)
        try fixture.directory.write("tickets.jsonl", #"{"id":"A-1","title":"ok"}"# + "\r\nnot json\r\n")
        let result = try await fixture.triage()
        #expect(result.status == 2)
        #expect(
            result.standardError
                == "switchyard: configuration: \(fixture.directory.path)/tickets.jsonl:2: expected one JSON object a line\n"
        )
        #expect(fixture.local.requests.isEmpty)
    }
}
