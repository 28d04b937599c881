import Foundation
import Subprocess
import Switchyard
import SwitchyardTesting
import SystemPackage
import Testing

/// A `switchyard-bench trace-writer` run (`arguments` after the store) killed with SIGKILL
/// once it has acknowledged `killAfter` (events, or calls with `--effects`), and gone.
struct KilledWriter {
    var run: RunID
    var pid: Int32
    var acknowledged: Int

    init(store path: String, _ arguments: [String], killAfter: Int) async throws {
        let configuration = Configuration(
            executable: .path(FilePath(BuiltProducts.executable("switchyard-bench"))),
            arguments: Arguments(["trace-writer", "--store", path] + arguments))
        let result = try await Subprocess.run(configuration, input: .none, output: .sequence, error: .discarded) {
            execution -> (run: String, pid: Int32, acknowledged: Int) in
            var run = ""
            var pid: Int32 = 0
            var acknowledged = 0
            for try await line in execution.standardOutput.strings() {
                let words = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
                if words.first == "run" {
                    run = String(words[1])
                    pid = Int32(words[2]) ?? 0
                }
                if words.first == "ack", let count = Int(words[1]) { acknowledged = count }
                if acknowledged >= killAfter {
                    try execution.send(signal: .kill)
                    break
                }
            }
            return (run, pid, acknowledged)
        }
        (run, pid, acknowledged) = (
            RunID(rawValue: result.closureResult.run), result.closureResult.pid, result.closureResult.acknowledged
        )
        // The crash is complete once the process is gone.
        let deadline = ContinuousClock.now + .seconds(10)
        while kill(pid, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
    }
}

@Suite struct TraceCrashTests {
    /// A writer process is killed with SIGKILL mid-run, again and again: the store always
    /// opens, no acknowledged event is lost, the chain verifies, the run is `interrupted`.
    @Test func killedWritersLoseNothingAcknowledged() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/traces.db"
        for round in 0..<50 {
            let killAfter = 5 + (round * 37) % 200
            // A run far longer than the kill point, so that however late the kill comes under
            // load, it lands while the writer writes.
            let writer = try await KilledWriter(store: path, ["--events", "1000000"], killAfter: killAfter)
            let (id, pid, acknowledged) = (writer.run, writer.pid, writer.acknowledged)
            #expect(acknowledged >= killAfter)
            let store = try TraceStore(path: path)
            let events = try await store.events(id)
            #expect(
                events.count >= acknowledged, "round \(round): \(events.count) events, \(acknowledged) acknowledged")
            #expect(events.map(\.sequence) == Array(1...events.count))
            #expect(try await store.verify(id).holds)
            let status = try await store.run(id)?.status
            #expect(
                status == .interrupted,
                "round \(round): \(String(describing: status)), pid \(pid) alive: \(kill(pid, 0) == 0), \((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "no stat")"
            )
        }
    }
}

@Suite struct TraceCrashResumeTests {
    /// A writer making 500 model calls through the effects boundary (1,000 events; answers
    /// take 5 ms, and the run is held open after them, so that a late kill still finds it
    /// running; it acknowledges an answer once it is on disk, with the next request) is
    /// killed at a different point 50 times. Each time the run is interrupted,
    /// and resuming it serves every answered call from the record and asks only the rest —
    /// the one in flight at the kill, if any, included (`RunCommandTests` kills a run while a
    /// request waits, every time) — after which the run replays whole.
    @Test func killedRunsResumeWithoutRepeatingAnAnsweredCall() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/traces.db"
        let calls = 500
        for round in 0..<50 {
            let writer = try await KilledWriter(
                store: path, ["--events", "\(2 * calls)", "--effects", "--hold"], killAfter: 3 + (round * 37) % 200)
            let (id, acknowledged) = (writer.run, writer.acknowledged)
            let store = try TraceStore(path: path)
            #expect(try await store.run(id)?.status == .interrupted, "round \(round)")
            let recorded = try await store.events(id)
            let answered = recorded.filter { $0.kind == .modelResponse }.count
            #expect(answered >= acknowledged, "round \(round)")
            // An answer is on disk before the request that follows from it: requests and
            // answers alternate, and only the last request may be unanswered.
            #expect(
                recorded.enumerated().allSatisfy {
                    $1.kind == ($0.isMultiple(of: 2) ? .modelRequest : .modelResponse)
                },
                "round \(round): \(recorded.map(\.kind).suffix(6))")
            #expect(try await store.verify(id).holds)

            try await store.reopen(id)
            let asked = Shared<[ModelRequest]>([])
            let model = CannedModel { request in asked.update { $0.append(request) } }
            let resumed = try await RecordedEffects(resuming: id, in: store, clock: { 0 })
            for index in 1...calls {
                _ = try await resumed.model(
                    CannedModel.request(index), profile: "canned", provider: model, step: "$\(index)")
            }
            try await store.finish(id, status: .finished, at: 1)
            // Answered calls were served; every other call was asked once, in order.
            #expect(asked.value == (answered..<calls).map { CannedModel.request($0 + 1) }, "round \(round)")
            let whole = try await store.events(id)
            #expect(whole.filter { $0.kind == .modelRequest }.count == calls)
            #expect(whole.filter { $0.kind == .modelResponse }.count == calls)
            #expect(try await store.verify(id).holds)

            let replay = try await RecordedEffects(replaying: id, in: store)
            for index in 1...calls {
                _ = try await replay.model(
                    CannedModel.request(index), profile: "canned", provider: CannedModel(), step: "$\(index)")
            }
            #expect(await replay.isComplete)
        }
    }
}

@Suite struct TraceConcurrentWriterTests {
    /// Two processes append to one store at once, one commit per event: neither sees
    /// SQLITE_BUSY, and both runs are whole.
    @Test func twoProcessesWriteOneStore() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/traces.db"
        _ = try TraceStore(path: path)  // create it once, so neither writer races to set it up
        let writer = BuiltProducts.executable("switchyard-bench")
        async let first = runProgram(writer, ["trace-writer", "--store", path, "--events", "400"], environment: [:])
        async let second = runProgram(writer, ["trace-writer", "--store", path, "--events", "400"], environment: [:])
        let results = try await [first, second]
        for result in results {
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.hasSuffix("done\n"))
        }
        let store = try TraceStore(path: path)
        let runs = try await store.runs()
        #expect(runs.count == 2)
        for run in runs {
            #expect(run.status == .finished)
            #expect(run.eventCount == 400)
            #expect(try await store.verify(run.id).holds)
        }
    }
}
