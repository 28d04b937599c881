import Composition
import Foundation
import Switchyard
import SwitchyardTesting
import Testing

/// The core's triage batch, in-process: tickets decided on a scripted local model through the
/// real HTTP stack, each in a run of its own in a store on disk, decisions in a file.
@Suite struct TriageBatchTests {
    let local: ScriptedModelServer
    let directory: TemporaryDirectory
    let store: TraceStore

    init() throws {
        local = try ScriptedModelServer()
        directory = try TemporaryDirectory("batch")
        try directory.write(
            "agents/triage.md",
            """
            ---
            name: triage
            model: local
            profiles:
              local: { provider: openai-compatible, base_url: "\(local.baseURL)/v1", model: small, options: { stream: false } }
            triage:
              components: [billing, auth, api]
              labels: [bug, question]
            ---
            You triage tickets.
            """)
        store = try TraceStore(path: directory.path + "/home/traces.db")
    }

    var environment: [String: String] { ["HOME": directory.path, "SWITCHYARD_HOME": directory.path + "/home"] }

    func batch() throws -> TriageBatch {
        let spec = try AgentSpec.load(path: directory.path + "/agents/triage.md")
        let setup = try AgentSetup(
            spec: spec, settings: Settings(), workspace: directory.path, environment: environment,
            labels: Ticket.labels, assembly: StandardAssembly(environment: environment))
        return try TriageBatch(
            spec: spec, setup: setup, store: store, file: "tickets.jsonl", workspace: directory.path)
    }

    /// Runs a batch of `tickets` into `decisions.jsonl`, which it holds (locked) until it ends.
    func run(_ tickets: [Ticket], events: Events = Events()) async throws -> TriageSummary {
        let decisions = try DecisionsFile(path: directory.path + "/decisions.jsonl")
        return try await batch().run(tickets, into: decisions, events: events.handler)
    }

    func decide(_ component: String) {
        let decision: JSONValue = [
            "component": .string(component), "labels": ["bug"], "priority": "P2", "confidence": 0.9,
            "summary": "A short summary.", "duplicate_of": .null,
        ]
        local.enqueue("/v1/chat/completions", .openAIText(decision.canonicalText))
    }

    /// Collects what a batch reports.
    final class Events: Sendable {
        let seen = Shared<[TriageBatch.Event]>([])
        var handler: @Sendable (TriageBatch.Event) async -> Void { { event in self.seen.update { $0.append(event) } } }
    }

    /// Each ticket is a run of its own under the batch's; one the model fails on is reported,
    /// stays undecided and fails the batch; run again, the batch decides only that one.
    @Test func aFailedTicketStaysUndecidedAndTheNextRunDecidesOnlyIt() async throws {
        let tickets = [
            Ticket(id: "T-1", title: "Invoices stuck", body: "None leave the sending state."),
            Ticket(id: "T-2", title: "Login loop", body: "Sent back to the login page."),
            Ticket(id: "T-3", title: "Export dates", body: "Which date does the export use?"),
        ]
        decide("billing")
        local.enqueue("/v1/chat/completions", .json(status: 400, #"{"error":{"message":"bad request","type":"x"}}"#))
        decide("api")
        let events = Events()
        let first = try await run(tickets, events: events)
        #expect(first.decidedNow == 2)
        #expect(first.failed == 1)
        #expect(first.decisions.compactMap { $0["ticket"]?.stringValue } == ["T-1", "T-3"])
        let batchRun = try #require(try await store.run(first.batch))
        #expect(batchRun.status == .failed)
        let reported = events.seen.value
        guard case .started(_, let total, let pending)? = reported.first else {
            Issue.record("the batch did not report its start first: \(reported)")
            return
        }
        #expect((total, pending) == (3, 3))
        #expect(reported.contains { if case .failed("T-2", _) = $0 { true } else { false } })

        // Each decision names its run, a child of the batch's, finished, that replays.
        let replayer = Replayer(
            store: store, assembly: StandardAssembly(environment: environment), environment: environment)
        for decision in first.decisions {
            let run = try #require(decision["run"]?.stringValue.flatMap(RunID.init(rawValue:)))
            let summary = try #require(try await store.run(run))
            #expect(summary.parent == first.batch)
            #expect(summary.status == .finished)
            #expect(try await replayer.replay(run).divergence == nil)
        }

        decide("auth")
        let second = try await run(tickets)
        #expect(second.decidedNow == 1)
        #expect(second.skipped == 2)
        #expect(second.failed == 0)
        #expect(second.decisions.count == 3)
        #expect(try await store.run(second.batch)?.status == .finished)
        #expect(local.requests.count == 4)
    }

    @Test func aSpecWithoutATriageSectionCannotMakeABatch() throws {
        try directory.write(
            "agents/plain.md",
            "---\nname: plain\nmodel: local\nprofiles:\n  local: { provider: openai-compatible, base_url: \"\(local.baseURL)/v1\", model: m }\n---\nHi.\n"
        )
        let spec = try AgentSpec.load(path: directory.path + "/agents/plain.md")
        let setup = try AgentSetup(
            spec: spec, settings: Settings(), workspace: directory.path, environment: environment,
            assembly: StandardAssembly(environment: environment))
        let error = #expect(throws: ConfigurationError.self) {
            try TriageBatch(spec: spec, setup: setup, store: store, file: "t.jsonl", workspace: directory.path)
        }
        #expect(error?.message.contains("plain has no triage section") == true)
    }
}

/// Reading a tickets file: JSON Lines or CSV, every problem named by file and line.
@Suite struct TicketFileTests {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory("tickets") }

    func read(_ name: String, _ text: String) throws -> [Ticket] {
        try directory.write(name, text)
        return try TicketFile.read(directory.path + "/" + name)
    }

    func refusal(_ name: String, _ text: String) -> String {
        let error = #expect(throws: ConfigurationError.self) { try read(name, text) }
        return error?.description ?? ""
    }

    @Test func jsonLinesAreReadAndBadLinesNamed() throws {
        // CRLF line ends count lines as LF ones do.
        let tickets = try read(
            "a.jsonl", #"{"id":"A-1","title":"ok","reporter":"x"}"# + "\r\n\r\n" + #"{"id":"A-2","body":"b"}"#)
        #expect(tickets.map(\.id) == ["A-1", "A-2"])
        #expect(tickets[0].record["reporter"] == "x")
        #expect(
            refusal("b.jsonl", #"{"id":"A-1","title":"ok"}"# + "\r\nnot json\r\n").hasSuffix(
                "b.jsonl:2: expected one JSON object a line"))
        #expect(
            refusal("c.jsonl", #"{"id":"A-1","title":"ok"}"# + "\n\n" + #"{"id":"A-1","title":"again"}"#)
                .hasSuffix("c.jsonl:3: ticket id A-1 is already the id of line 1"))
    }

    @Test func csvIsReadWithQuotedFieldsAndRaggedRowsRefused() throws {
        let tickets = try read("a.csv", "id,title,body,reporter\r\nC-1,\"Quoted, with comma\",\"Two\nlines\",x\r\n")
        #expect(tickets.count == 1)
        #expect(tickets[0].title == "Quoted, with comma")
        #expect(tickets[0].body == "Two\nlines")
        #expect(tickets[0].record["reporter"] == "x")
        // A quoted field over two lines: the next row is on line 4.
        #expect(
            refusal("b.csv", "id,title,body\nC-1,\"Quoted, with comma\",\"Two\nlines\"\nC-2,,\n")
                .hasSuffix("b.csv:4: ticket C-2 has neither a title nor a body"))
        // A row with a field more (or fewer) than the header is refused, not cut to fit.
        #expect(
            refusal("c.csv", "id,title,body\r\nC-1,a,b\r\n\r\nC-2,a,b,extra\r\n")
                .hasSuffix("c.csv:4: the row has 4 fields, the header 3"))
        #expect(refusal("d.csv", "id,title,body\nC-1,a\n").hasSuffix("d.csv:2: the row has 2 fields, the header 3"))
        #expect(
            refusal("e.csv", "id,title,body\nC-1,a,b\nC-2,a,b\nC-1,c,d\n")
                .hasSuffix("e.csv:4: ticket id C-1 is already the id of line 2"))
        #expect(refusal("f.csv", "title,body\na,b\n").hasSuffix("f.csv:1: the CSV header has no 'id' column"))
    }

    /// A decisions file cut off mid-line by a kill keeps its whole lines; the torn one is
    /// dropped (and said to be), so its ticket is decided again.
    @Test func aTornLastDecisionIsDroppedAndTheRestKept() async throws {
        try directory.write("d.jsonl", #"{"ticket":"T-1","component":"api"}"# + "\n" + #"{"ticket":"T-2","comp"#)
        let notices = Shared<[String]>([])
        let decisions = try DecisionsFile(path: directory.path + "/d.jsonl") { notice in
            notices.update { $0.append(notice) }
        }
        #expect(await decisions.decidedTickets == ["T-1"])
        #expect(notices.value.count == 1)
        #expect(notices.value.first?.contains("ends in a partial line") == true)
        try await decisions.append(["ticket": "T-2", "component": "auth"])
        #expect(
            try directory.read("d.jsonl")
                == #"{"ticket":"T-1","component":"api"}"# + "\n" + #"{"component":"auth","ticket":"T-2"}"# + "\n")
    }
}
