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
                arguments: ["trace-writer", "--store", path, "--events", "1000000"])
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
