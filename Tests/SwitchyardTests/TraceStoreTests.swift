import Foundation
import Hashing
import SQLite
import Switchyard
import SwitchyardTesting
import Testing

final class ScratchDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "switchyard-trace-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct TraceStoreTests {
    let directory: ScratchDirectory
    var path: String { directory.path + "/traces.db" }
    init() throws { directory = try ScratchDirectory() }

    /// Posted events cost no commit each: they go in with the next append, in the order
    /// posted, or on their own once a batch's worth waits; finishing the run commits the rest.
    @Test func postedEventsAreCommittedWithTheNextAppendOrInBatches() async throws {
        let store = try TraceStore(path: path)
        let reader = try TraceStore(path: path)  // another connection: sees only what is committed
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        for index in 0..<3 {
            try await store.post(run: run, kind: EventKind(rawValue: "note"), payload: .number(Double(index)), at: 0)
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await reader.events(run).isEmpty)
        let sequence = try await store.append(run: run, kind: .toolCall, payload: [:], at: 0)
        #expect(sequence == 4)
        #expect(
            try await reader.events(run).map(\.kind.rawValue) == ["note", "note", "note", EventKind.toolCall.rawValue])
        #expect(try await reader.events(run).prefix(3).map(\.payload) == [0, 1, 2])

        for index in 0..<600 {
            try await store.post(run: run, kind: EventKind(rawValue: "note"), payload: .number(Double(index)), at: 0)
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while try await reader.events(run).count < 4 + 512, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await reader.events(run).count >= 4 + 512)
        try await store.finish(run, status: .finished, at: 1)
        #expect(try await reader.events(run).count == 604)
        #expect(try await reader.verify(run).holds)
    }

    /// An effect's outcome costs no commit of its own when it is the last in flight: it goes
    /// in with the next intent. While another effect is in flight, it is on disk at once.
    @Test func anOutcomeIsCommittedAtOnceOnlyWhileOtherEffectsRun() async throws {
        let store = try TraceStore(path: path)
        let reader = try TraceStore(path: path)  // another connection: sees only what is committed
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        let kinds = { try await reader.events(run).map(\.kind) }

        let request = try await store.begin(run: run, kind: .modelRequest, payload: [:], at: 0)
        try await store.conclude(run: run, kind: .modelResponse, intent: request, payload: [:], at: 0)
        #expect(try await kinds() == [.modelRequest])
        let first = try await store.begin(run: run, kind: .toolCall, step: "a", payload: [:], at: 0)
        #expect(try await kinds() == [.modelRequest, .modelResponse, .toolCall])

        // Two calls at once: the first to end is committed while the second runs.
        let second = try await store.begin(run: run, kind: .toolCall, step: "b", payload: [:], at: 0)
        try await store.conclude(run: run, kind: .toolResult, step: "a", intent: first, payload: [:], at: 0)
        #expect(try await kinds().suffix(2) == [.toolCall, .toolResult])
        try await store.conclude(run: run, kind: .toolError, step: "b", intent: second, payload: [:], at: 0)
        #expect(try await kinds().last == .toolResult)

        // The run's end commits the last one.
        try await store.finish(run, status: .finished, at: 1)
        let events = try await reader.events(run)
        #expect(events.map(\.kind).suffix(2) == [.toolResult, .toolError])
        #expect(events.last?.parent == second)
        #expect(try await reader.verify(run).holds)
    }

    /// A commit that fails loses nothing posted: an answer waiting for the next intent goes in
    /// with the commit after the failed one, in order, and the chain holds.
    @Test func aFailedCommitKeepsWhatWasPosted() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        let request = try await store.begin(run: run, kind: .modelRequest, payload: [:], at: 0)
        try await store.conclude(run: run, kind: .modelResponse, intent: request, payload: ["text": "kept"], at: 0)
        // An event of a run the store does not hold cannot be written: the transaction the
        // answer would have gone in with fails.
        await #expect(throws: TraceError.self) {
            try await store.append(run: RunID(rawValue: "01NOSUCHRUN"), kind: .toolCall, payload: [:], at: 0)
        }
        try await store.append(run: run, kind: .toolCall, payload: [:], at: 0)
        let events = try await TraceStore(path: path).events(run)
        #expect(events.map(\.kind) == [.modelRequest, .modelResponse, .toolCall])
        #expect(events[1].payload["text"] == "kept")
        #expect(events[1].parent == request)
        #expect(try await store.verify(run).holds)
    }

    @Test func runsAndEventsRoundTripWithAHashChain() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "triage", task: "sort tickets", header: ["spec": "abc"], at: 1_000)
        for index in 0..<20 {
            let sequence = try await store.append(
                run: run, kind: .toolCall, step: "$\(index)", payload: ["n": .number(Double(index))],
                at: 1_000 + Int64(index))
            #expect(sequence == index + 1)
        }
        try await store.finish(run, status: .finished, at: 2_000)
        let events = try await store.events(run)
        #expect(events.map(\.sequence) == Array(1...20))
        #expect(events[3].payload == ["n": 3])
        #expect(events[3].step == "$3")
        #expect(try await store.verify(run).holds)
        let summary = try #require(try await store.run(run))
        #expect(summary.status == .finished)
        #expect(summary.eventCount == 20)
        #expect(try await store.resolve(String(run.rawValue.prefix(20))) == run)
    }

    @Test func concurrentAppendsAreCommittedInOrder() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        let sequences = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<500 {
                group.addTask {
                    try await store.append(
                        run: run, kind: EventKind(rawValue: "k"), payload: ["i": .number(Double(index))], at: 0)
                }
            }
            var all: [Int] = []
            for try await sequence in group { all.append(sequence) }
            return all
        }
        #expect(sequences.sorted() == Array(1...500))
        #expect(try await store.verify(run).holds)
    }

    @Test func burstsCommitTogetherAndInterleaveWithSingleAppends() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        try await store.append(run: run, kind: EventKind(rawValue: "first"), payload: [:], at: 0)
        let burst = (0..<10).map {
            TraceStore.NewEvent(
                kind: EventKind(rawValue: "chunk"), step: "$1", payload: ["i": .number(Double($0))], at: 0)
        }
        #expect(try await store.append(run: run, events: burst) == Array(2...11))
        #expect(try await store.append(run: run, kind: EventKind(rawValue: "last"), payload: [:], at: 0) == 12)
        #expect(try await store.verify(run).holds)
        #expect(
            try await store.events(run).map(\.kind.rawValue) == ["first"] + Array(repeating: "chunk", count: 10) + [
                "last"
            ])
    }

    /// A store of the layout before events had rowids (schema 2, WITHOUT ROWID) is moved to
    /// the new one on open, its runs intact: same events, and their chain still verifies.
    @Test func anOlderStoreIsMovedWithItsRunsIntact() async throws {
        let (id, before): (RunID, [TraceEvent]) = try await {
            let store = try TraceStore(path: path)
            let run = try await store.startRun(agent: "a", task: "t", header: ["agent": "a"], at: 0)
            for index in 0..<5 {
                try await store.append(
                    run: run, kind: EventKind(rawValue: "k"),
                    payload: ["i": .number(Double(index)), "text": .string(String(repeating: "x", count: 3000))],
                    at: 0)
            }
            try await store.finish(run, status: .finished, at: 1)
            return (run, try await store.events(run))
        }()
        // Back to the old layout, as an earlier Switchyard left it.
        let database = try Database(path: path)
        try database.execute(
            """
            CREATE TABLE old_events(
                run_id TEXT NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, parent_seq INTEGER,
                kind TEXT NOT NULL, step TEXT, at INTEGER NOT NULL, payload TEXT NOT NULL, hash TEXT NOT NULL,
                PRIMARY KEY (run_id, seq)
            ) WITHOUT ROWID;
            INSERT INTO old_events SELECT * FROM events;
            DROP TABLE events;
            ALTER TABLE old_events RENAME TO events;
            PRAGMA user_version = 2;
            """)
        let reopened = try TraceStore(path: path)
        #expect(try await reopened.events(id) == before)
        #expect(try await reopened.verify(id) == .verified(events: 5))
        let schema = try database.rows("SELECT sql FROM sqlite_master WHERE name = 'events'").first?.string(0) ?? ""
        #expect(!schema.contains("WITHOUT ROWID"))
    }

    @Test func tamperingBreaksTheChainAtTheEditedEvent() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        for index in 0..<5 {
            try await store.append(
                run: run, kind: EventKind(rawValue: "k"), payload: ["i": .number(Double(index))], at: 0)
        }
        try await store.finish(run, status: .finished, at: 1)
        // Behind the store's back, as an attacker or a bug would.
        try Database(path: path).execute("UPDATE events SET payload = '{\"i\":99}' WHERE seq = 3")
        guard case .broken(at: 3, _) = try await store.verify(run) else {
            Issue.record("an edited event verified")
            return
        }
    }

    /// A finished run of five events, and a hand on its database that edits it behind the
    /// store's back.
    func finishedRun() async throws -> (TraceStore, RunID, Database) {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "the real task", header: ["agent": "a"], at: 0)
        for index in 0..<5 {
            try await store.append(
                run: run, kind: EventKind(rawValue: "k"), payload: ["i": .number(Double(index))], at: 0)
        }
        try await store.finish(run, status: .finished, at: 1)
        #expect(try await store.verify(run) == .verified(events: 5))
        return (store, run, try Database(path: path))
    }

    /// Each edit the issue found unseen is now seen: the last events cut off, the run's own
    /// record forged, the chain recomputed without the key (also claiming to be an old,
    /// unkeyed run), the status rewritten.
    @Test func truncationForgeryAndAnUnkeyedChainNeverVerify() async throws {
        do {
            let (store, run, database) = try await finishedRun()
            try database.execute("DELETE FROM events WHERE run_id = ? AND seq > 3", run.rawValue)
            guard case .broken(at: 4, let reason) = try await store.verify(run) else {
                Issue.record("a truncated run verified")
                return
            }
            #expect(reason.contains("cut off the end"))
        }
        do {
            let (store, run, database) = try await finishedRun()
            try database.execute("UPDATE runs SET task = 'a forged task' WHERE id = ?", run.rawValue)
            guard case .broken(at: 1, _) = try await store.verify(run) else {
                Issue.record("a forged task verified")
                return
            }
        }
        do {
            let (store, run, database) = try await finishedRun()
            try database.execute("UPDATE runs SET status = 'failed' WHERE id = ?", run.rawValue)
            #expect(!(try await store.verify(run)).holds)
        }
        for downgrade in [false, true] {
            let (store, run, database) = try await finishedRun()
            // Every hash recomputed as a plain SHA-256 chain, as anyone could.
            var previous = ""
            for event in try await store.events(run) {
                let fields = [
                    previous, String(event.sequence), event.parent.map(String.init) ?? "-", event.kind.rawValue,
                    event.step ?? "-", String(event.time), event.payload.canonicalText,
                ]
                previous = SHA256.hex(TraceStore.frame(fields))
                try database.execute(
                    "UPDATE events SET hash = ? WHERE run_id = ? AND seq = ?", previous, run.rawValue, event.sequence)
            }
            if downgrade { try database.execute("UPDATE runs SET chain = 1 WHERE id = ?", run.rawValue) }
            let check = try await store.verify(run)
            #expect(check != .verified(events: 5))
            if downgrade { #expect(check == .unkeyed(events: 5)) } else { #expect(!check.holds) }
        }
        // A run that has not finished holds, unsealed.
        let store = try TraceStore(path: path)
        let running = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        try await store.append(run: running, kind: EventKind(rawValue: "k"), payload: [:], at: 0)
        #expect(try await store.verify(running) == .unsealed(events: 1))
    }

    @Test(.usesMuchMemory) func largePayloadsAreStoredOnceAsBlobs() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        let big = String(repeating: "0123456789abcdef", count: (50 << 20) / 16)
        try await store.append(run: run, kind: .toolResult, payload: ["output": .string(big)], at: 0)
        try await store.append(run: run, kind: .toolResult, payload: ["output": .string(big)], at: 0)
        let events = try await store.events(run)
        let reference = try #require(events[0].payload["output"]?["$blob"]?.stringValue)
        #expect(events[1].payload["output"]?["$blob"]?.stringValue == reference)
        #expect(events[0].payload["output"]?["size"]?.intValue == 50 << 20)
        let bytes = try await store.blob(reference)
        #expect(bytes.count == 50 << 20)
        #expect(String(decoding: bytes, as: UTF8.self) == big)
    }

    @Test func secretsNeverReachTheFile() async throws {
        let secret = "sk-proj-ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210"
        let awsKey = "AKIAJ7Q2EXAMPLEKEYXX"
        do {
            let store = try TraceStore(path: path)
            let run = try await store.startRun(
                agent: "a", task: "use \(secret)", header: ["env": .string(awsKey)], at: 0)
            try await store.append(run: run, kind: .toolResult, payload: ["stdout": .string("KEY=\(secret)")], at: 0)
            try await store.append(
                run: run, kind: .modelResponse, payload: ["text": .string("I saw \(secret)")], at: 0)
            try await store.finish(run, status: .finished, at: 1)
            let events = try await store.events(run)
            let first = events[0].payload["stdout"]?.stringValue ?? ""
            let second = events[1].payload["text"]?.stringValue ?? ""
            // The same secret, the same token.
            #expect(first.dropFirst("KEY=".count) == second.dropFirst("I saw ".count))
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where !file.hasSuffix(".key") {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/" + file))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds the secret")
            #expect(bytes.range(of: Data(awsKey.utf8)) == nil, "\(file) holds the AWS key")
        }
    }

    /// Long strings are scanned once and remembered: the memory must give each text its own
    /// redaction — a text that differs from a remembered one by one byte, a secret it alone
    /// carries, or canonically equal Unicode spelt in other bytes — and lose no secret.
    @Test func rememberedRedactionsAreExactToTheByte() async throws {
        let secret = "sk-proj-ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210"
        let filler = String(repeating: "let value = compute(input) // café\n", count: 20)
        let clean = filler + "sk-proj-short"
        let dirty = filler + secret
        let composed = filler + "caf\u{E9} " + secret
        let decomposed = filler + "cafe\u{301} " + secret
        #expect(composed == decomposed)  // Swift's String equality, which the memory must not use
        let texts = [clean, dirty, clean, dirty, composed, decomposed]
        do {
            let store = try TraceStore(path: path)
            let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
            for text in texts {
                try await store.append(run: run, kind: .toolResult, payload: ["output": .string(text)], at: 0)
            }
            try await store.append(
                run: run, kind: .modelRequest,
                payload: ["request": ["messages": .array(texts.map { ["content": .string($0)] })]], at: 0)
            let events = try await store.events(run)
            let outputs = events.prefix(texts.count).map { $0.payload["output"]?.stringValue ?? "" }
            let contents =
                events.last?.payload["request"]?["messages"]?.arrayValue?.map { $0["content"]?.stringValue ?? "" } ?? []
            for stored in [outputs, contents] {
                #expect(stored.count == texts.count)
                #expect(stored[0] == clean)
                #expect(stored[2] == clean)
                #expect(stored[1].hasPrefix(filler + "[REDACTED:openai-key:"))
                #expect(stored[3] == stored[1])
                #expect(Array(stored[4].utf8).starts(with: Array((filler + "caf\u{E9} [REDACTED:openai-key:").utf8)))
                #expect(Array(stored[5].utf8).starts(with: Array((filler + "cafe\u{301} [REDACTED:openai-key:").utf8)))
            }
            // Text too long to be remembered is scanned every time.
            let huge = String(repeating: ".", count: 9 << 20) + secret
            for _ in 0..<2 {
                try await store.append(run: run, kind: .toolResult, payload: ["output": .string(huge)], at: 0)
                let blob = try #require(try await store.events(run).last?.payload["output"]?["$blob"]?.stringValue)
                let bytes = try await store.blob(blob)
                #expect(String(decoding: bytes.suffix(60), as: UTF8.self).contains("[REDACTED:openai-key:"))
            }
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where !file.hasSuffix(".key") {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/" + file))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds the secret")
        }
    }

    @Test func runsOfADeadWriterAreMarkedInterruptedOnOpen() async throws {
        do {
            let store = try TraceStore(path: path)
            let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
            try await store.append(run: run, kind: EventKind(rawValue: "k"), payload: [:], at: 0)
        }
        // Pretend the writer was another process that has died.
        // Behind the store's back, as an attacker or a bug would.
        try Database(path: path).execute("UPDATE runs SET owner_pid = 2147483000")
        let reopened = try TraceStore(path: path)
        let runs = try await reopened.runs()
        #expect(runs.map(\.status) == [.interrupted])
        #expect(runs.first?.eventCount == 1)
    }

    @Test func runIDsSortByTime() {
        let early = RunID.make(milliseconds: 1_700_000_000_000, random: Array(repeating: 255, count: 10))
        let late = RunID.make(milliseconds: 1_700_000_000_001, random: Array(repeating: 0, count: 10))
        #expect(early < late)
        #expect(early.rawValue.count == 26)
    }
}

/// A model request is stored as what it adds to the conversation it continues: a run's trace
/// grows with its turns, not their square, and reads back whole.
@Suite struct ConversationStorageTests {
    let directory: ScratchDirectory
    var path: String { directory.path + "/traces.db" }
    init() throws { directory = try ScratchDirectory() }

    static let tools: JSONValue = [
        [
            "name": "read", "description": .string(String(repeating: "Reads a file. ", count: 40)),
            "parameters": ["type": "object"],
        ]
    ]

    /// The payload a tool-calling loop records on turn `turns`: the conversation so far, sent
    /// whole, in the request and in its wire body.
    static func request(_ messages: [JSONValue]) -> JSONValue {
        [
            "profile": "local", "request": ["messages": .array(messages), "tools": tools],
            "wire": [
                "url": "http://127.0.0.1/v1/chat/completions", "body": ["messages": .array(messages), "tools": tools],
            ],
        ]
    }

    /// Turn `index`'s tool result: a file of a few hundred bytes, one of them holding a secret.
    static func result(_ index: Int) -> JSONValue {
        let text = index == 7 ? "token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB" : "line \(index)\n"
        return ["role": "tool", "content": .string(String(repeating: text, count: 20))]
    }

    @Test func aLongLoopStoresEachTurnOnceAndReadsBackWhole() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        var messages: [JSONValue] = [["role": "system", "content": "You read."], ["role": "user", "content": "Go."]]
        var sent: [JSONValue] = []
        for turn in 1...200 {
            messages.append(["role": "assistant", "content": .string("call \(turn)")])
            messages.append(Self.result(turn))
            sent.append(Self.request(messages))
            try await store.append(run: run, kind: .modelRequest, payload: sent.last!, at: 0)
            try await store.append(run: run, kind: .modelResponse, payload: ["text": "ok"], at: 0)
        }
        try await store.finish(run, status: .finished, at: 1)
        #expect(try await store.verify(run) == .verified(events: 400))

        // Each request reads back whole, as the store would record it whole.
        let requests = try await store.events(run).filter { $0.kind == .modelRequest }.map(\.payload)
        #expect(requests.count == 200)
        var expected: [JSONValue] = []
        for payload in sent { expected.append(await store.recordedForm(payload)) }
        #expect(requests == expected)
        #expect(requests[150]["request"]?["messages"]?.arrayValue?.count == 2 + 2 * 151)

        // Stored, the last turn is no larger than the first; the secret never reaches the file.
        let database = try Database(path: path)
        let sizes = try database.rows(
            "SELECT length(payload) FROM events WHERE run_id = ? AND kind = 'model.request' ORDER BY seq", run.rawValue
        ).compactMap { $0.int(0) }
        #expect(sizes.count == 200)
        #expect(sizes.last! < sizes.first! * 2, "\(sizes.first!) then \(sizes.last!)")
        #expect(sizes.reduce(0, +) < 200 * 1_500)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.range(of: Data("ghp_0123456789abcdef".utf8)) == nil)

        // An edit of a request that later ones continue breaks the chain at that request.
        try database.execute(
            "UPDATE events SET payload = replace(payload, 'call 3', 'call X') WHERE run_id = ? AND seq = 5",
            run.rawValue)
        guard case .broken(at: 5, _) = try await store.verify(run) else {
            Issue.record("an edited, continued request verified")
            return
        }
    }

    /// Two conversations that interleave (two agents of one planner round) each continue their
    /// own; one that starts over (a new planner round) is stored whole; and a request that
    /// leaves the conversation (a changed earlier message) keeps only what it shares.
    @Test func interleavedAndDivergingConversationsReadBackExactly() async throws {
        let store = try TraceStore(path: path)
        let run = try await store.startRun(agent: "a", task: "t", header: [:], at: 0)
        var first: [JSONValue] = [["role": "user", "content": "first"]]
        var second: [JSONValue] = [["role": "user", "content": "second"]]
        var sent: [JSONValue] = []
        for turn in 1...6 {
            first.append(Self.result(turn))
            second.append(Self.result(turn + 100))
            sent += [Self.request(first), Self.request(second)]
        }
        var edited = first
        edited[1] = ["role": "tool", "content": "changed"]
        sent += [Self.request(edited), Self.request([["role": "user", "content": "fresh"]]), Self.request([])]
        for payload in sent { try await store.append(run: run, kind: .modelRequest, payload: payload, at: 0) }
        let read = try await store.events(run).map(\.payload)
        var expected: [JSONValue] = []
        for payload in sent { expected.append(await store.recordedForm(payload)) }
        #expect(read == expected)
        let stored = try Database(path: path).rows(
            "SELECT payload FROM events WHERE run_id = ? ORDER BY seq", run.rawValue
        ).compactMap { $0.string(0) }
        #expect(stored[2].contains("\"$continues\":1"))  // the first conversation's second turn
        #expect(stored[3].contains("\"$continues\":2"))
        #expect(stored[12].contains("\"$kept\":1"))  // the edited one keeps only the first message
    }
}
