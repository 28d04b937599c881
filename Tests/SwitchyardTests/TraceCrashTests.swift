import Foundation
import Subprocess
import Switchyard
import SwitchyardTesting
import SystemPackage
import Testing

@Suite struct TraceCrashTests {
    /// A writer process is killed with SIGKILL mid-run, again and again: the store always
    /// opens, no acknowledged event is lost, the chain verifies, the run is `interrupted`.
    @Test func killedWritersLoseNothingAcknowledged() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/traces.db"
        let writer = BuiltProducts.executable("switchyard-bench")
        for round in 0..<50 {
            let killAfter = 5 + (round * 37) % 200
            let configuration = Configuration(
                executable: .path(FilePath(writer)),
                arguments: ["trace-writer", "--store", path, "--events", "1000"])
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
                    if words.first == "ack", let sequence = Int(words[1]) { acknowledged = sequence }
                    if acknowledged >= killAfter {
                        try execution.send(signal: .kill)
                        break
                    }
                }
                return (run, pid, acknowledged)
            }
            let (run, pid, acknowledged) = result.closureResult
            // The crash is complete once the process is gone.
            let deadline = ContinuousClock.now + .seconds(10)
            while kill(pid, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(acknowledged >= killAfter)
            let store = try TraceStore(path: path)
            let id = RunID(rawValue: run)
            let events = try await store.events(id)
            #expect(
                events.count >= acknowledged, "round \(round): \(events.count) events, \(acknowledged) acknowledged")
            #expect(events.map(\.sequence) == Array(1...events.count))
            #expect(try await store.verify(id) == nil)
            let status = try await store.run(id)?.status
            #expect(
                status == .interrupted,
                "round \(round): \(String(describing: status)), pid \(pid) alive: \(kill(pid, 0) == 0), \((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "no stat")"
            )
        }
    }
}

@Suite struct TraceCrashResumeTests {
    /// A writer making 500 model calls (1,000 events) through the effects boundary is killed
    /// at a different point 50 times; each time the run is interrupted, and resuming it
    /// serves every answered call from the record and asks only the rest — the one in flight
    /// at the kill included — after which the run replays whole.
    @Test func killedRunsResumeWithoutRepeatingAnAnsweredCall() async throws {
        let directory = try ScratchDirectory()
        let path = directory.path + "/traces.db"
        let writer = BuiltProducts.executable("switchyard-bench")
        let calls = 500
        var inFlight = 0
        for round in 0..<50 {
            let killAfter = 3 + (round * 37) % 200
            let configuration = Configuration(
                executable: .path(FilePath(writer)),
                arguments: ["trace-writer", "--store", path, "--events", "\(2 * calls)", "--effects"])
            let result = try await Subprocess.run(configuration, input: .none, output: .sequence, error: .discarded) {
                execution -> (run: String, pid: Int32, answered: Int) in
                var run = ""
                var pid: Int32 = 0
                var answered = 0
                for try await line in execution.standardOutput.strings() {
                    let words = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
                    if words.first == "run" {
                        run = String(words[1])
                        pid = Int32(words[2]) ?? 0
                    }
                    if words.first == "ack", let index = Int(words[1]) { answered = index }
                    if answered >= killAfter {
                        try execution.send(signal: .kill)
                        break
                    }
                }
                return (run, pid, answered)
            }
            let (run, pid, acknowledged) = result.closureResult
            let deadline = ContinuousClock.now + .seconds(10)
            while kill(pid, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }

            let store = try TraceStore(path: path)
            let id = RunID(rawValue: run)
            #expect(try await store.run(id)?.status == .interrupted, "round \(round)")
            let recorded = try await store.events(id)
            let answered = recorded.filter { $0.kind == "model.response" }.count
            if recorded.last?.kind == "model.request" { inFlight += 1 }
            #expect(answered >= acknowledged, "round \(round)")
            #expect(try await store.verify(id) == nil)

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
            #expect(asked.value == (answered + 1...calls).map(CannedModel.request), "round \(round)")
            let whole = try await store.events(id)
            #expect(whole.filter { $0.kind == "model.request" }.count == calls)
            #expect(whole.filter { $0.kind == "model.response" }.count == calls)
            #expect(try await store.verify(id) == nil)

            let replay = try await RecordedEffects(replaying: id, in: store)
            for index in 1...calls {
                _ = try await replay.model(
                    CannedModel.request(index), profile: "canned", provider: CannedModel(), step: "$\(index)")
            }
            #expect(await replay.isComplete)
        }
        // Each answer takes a millisecond, so most kills land while a request waits for it.
        #expect(inFlight > 0, "no kill landed between a request and its answer")
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
            #expect(try await store.verify(run.id) == nil)
        }
    }
}
