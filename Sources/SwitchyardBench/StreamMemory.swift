import ArgumentParser
import Curl
import Foundation
import Synchronization

/// Streams a body through a slow consumer and prints how much the process's resident
/// memory grew: run as its own process, so nothing else running can move the figure.
struct StreamMemory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream-memory",
        abstract: "Stream URL through a slow consumer; print bytes received and peak resident growth.",
        shouldDisplay: false)

    @Option(help: "What to stream.") var url: String

    func run() async throws {
        func resident() -> Int {
            guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
            let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
        let client = HTTPClient()
        let baseline = resident()
        let peak = Mutex(baseline)
        let sampling = Task.detached {
            while !Task.isCancelled {
                let now = resident()
                peak.withLock { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        let received = try await client.stream(HTTPRequest(url: url)) { response in
            var count = 0
            var chunks = 0
            for try await chunk in response.body {
                count += chunk.count
                chunks += 1
                if chunks % 8 == 0 { try await Task.sleep(for: .milliseconds(1)) }
            }
            return count
        }
        sampling.cancel()
        print("\(received) \(peak.withLock { $0 } - baseline)")
    }
}
