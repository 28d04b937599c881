import Foundation
public import Testing

/// The real local model server the tests use: llama-cpp-python serving SmolLM2-135M,
/// one chat and one embedding instance (`Tests/Peers/model-server`).
///
/// `SWITCHYARD_TEST_CHAT_URL` and `SWITCHYARD_TEST_EMBED_URL` point at running
/// instances; without them the first caller starts a pair for this process, stopped at exit.
public enum LocalModelPeer {
    public struct Endpoints: Sendable {
        /// The chat instance's OpenAI base URL, ending in `/v1`.
        public var chat: String
        /// The embedding instance's OpenAI base URL, ending in `/v1`.
        public var embed: String
    }

    public static func endpoints() async throws -> Endpoints {
        try await started.value
    }

    /// The script that installs, starts and stops the peer.
    public static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Peers/model-server").path
    }

    private static let started = Task<Endpoints, any Error>.detached {
        let environment = ProcessInfo.processInfo.environment
        if let chat = environment["SWITCHYARD_TEST_CHAT_URL"], let embed = environment["SWITCHYARD_TEST_EMBED_URL"] {
            return Endpoints(chat: chat, embed: embed)
        }
        let directory = NSTemporaryDirectory() + "switchyard-peer-\(getpid())"
        runDirectory = directory
        let result = try await runProgram(script, ["start", directory], environment: environment)
        guard result.status == 0 else {
            throw PeerError(
                description:
                    "could not start the local model server (\(script) start): \(result.standardError)\(result.standardOutput)"
            )
        }
        atexit {
            // At exit nothing async can run: signal the servers directly.
            guard let directory = runDirectory,
                let pids = try? String(contentsOfFile: directory + "/pids", encoding: .utf8)
            else { return }
            for pid in pids.split(separator: " ").compactMap({
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }) {
                kill(pid, SIGKILL)
            }
        }
        func read(_ name: String) throws -> String {
            try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
        return Endpoints(chat: try read("chat.url"), embed: try read("embed.url"))
    }

    nonisolated(unsafe) private static var runDirectory: String?
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
}

extension LocalModelPeer {
    /// Runs `body` while no other test uses the peer: llama-cpp-python's server mixes up
    /// concurrent requests.
    public static func exclusively<Result: Sendable>(_ body: (Endpoints) async throws -> Result) async throws -> Result
    {
        let endpoints = try await endpoints()
        await gate.acquire()
        do {
            let result = try await body(endpoints)
            await gate.release()
            return result
        } catch {
            await gate.release()
            throw error
        }
    }

    private static let gate = Gate()

    private actor Gate {
        private var busy = false
        private var waiters: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            if busy {
                await withCheckedContinuation { waiters.append($0) }
            } else {
                busy = true
            }
        }

        func release() {
            if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        }
    }
}

/// A trait for tests that talk to the local model server: each runs alone on it.
public struct UsesLocalModel: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        try await LocalModelPeer.exclusively { _ in try await function() }
    }
}

extension Trait where Self == UsesLocalModel {
    /// Serialises the test's use of the local model server with every other such test.
    public static var usesLocalModel: Self { UsesLocalModel() }
}
