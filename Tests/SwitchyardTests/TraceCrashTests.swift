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
                execution -> (run: String, acknowledged: Int) in
                var run = ""
                var acknowledged = 0
                for try await line in execution.standardOutput.strings() {
                    let words = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
                    if words.first == "run" { run = String(words[1]) }
                    if words.first == "ack", let sequence = Int(words[1]) { acknowledged = sequence }
                    if acknowledged >= killAfter {
                        try execution.send(signal: .kill)
                        break
                    }
                }
                return (run, acknowledged)
            }
            let (run, acknowledged) = result.closureResult
            #expect(acknowledged >= killAfter)
            let store = try TraceStore(path: path)
            let id = RunID(rawValue: run)
            let events = try await store.events(id)
            #expect(
                events.count >= acknowledged, "round \(round): \(events.count) events, \(acknowledged) acknowledged")
            #expect(events.map(\.sequence) == Array(1...events.count))
            #expect(try await store.verify(id) == nil)
            #expect(try await store.run(id)?.status == .interrupted)
        }
    }
}
