import Foundation
public import Testing

/// The real local model server the tests use: llama.cpp's server (xllamacpp) serving SmolLM2-135M,
/// two chat instances (one for the local profile, one standing in for the cloud) and one
/// embedding instance (`Tests/Peers/model-server`).
///
/// `SWITCHYARD_TEST_CHAT_URL`, `SWITCHYARD_TEST_CLOUD_URL` and `SWITCHYARD_TEST_EMBED_URL`
/// point at running instances; without them the first caller starts them for this
/// process, stopped at exit.
public enum LocalModelPeer {
    public struct Endpoints: Sendable {
        /// The chat instance's OpenAI base URL, ending in `/v1`.
        public var chat: String
        /// The second chat instance, standing in for the cloud provider.
        public var cloud: String
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
        if let chat = environment["SWITCHYARD_TEST_CHAT_URL"], let cloud = environment["SWITCHYARD_TEST_CLOUD_URL"],
            let embed = environment["SWITCHYARD_TEST_EMBED_URL"]
        {
            return Endpoints(chat: chat, cloud: cloud, embed: embed)
        }
        let directory = NSTemporaryDirectory() + "switchyard-peer-\(getpid())"
        runDirectory = directory
        // The servers watch this process and stop when it ends, even killed (the atexit
        // handler below runs only on a normal exit).
        var owned = environment
        owned["PEER_OWNER"] = String(getpid())
        let result = try await runProgram(script, ["start", directory], environment: owned)
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
        return Endpoints(chat: try read("chat.url"), cloud: try read("cloud.url"), embed: try read("embed.url"))
    }

    nonisolated(unsafe) private static var runDirectory: String?
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
}

extension LocalModelPeer {
    /// Runs `body` while no other test uses the peer: each instance has one slot and two
    /// cores to run on, so overlapping tests only wait on each other's timeouts.
    public static func exclusively<Result: Sendable>(_ body: (Endpoints) async throws -> Result) async throws -> Result
    {
        let endpoints = try await endpoints()
        return try await ExclusiveUse.Resource.localModel.gate.exclusively { try await body(endpoints) }
    }
}

/// A trait for tests that must not overlap with others using the same resource: the
/// local model server (one slot per instance, two cores), or the process's
/// memory (a test that measures its resident size while another allocates 50 MB).
public struct ExclusiveUse: TestTrait, SuiteTrait, TestScoping {
    public enum Resource: Sendable {
        case localModel, memory

        private static let gates = (localModel: Gate(), memory: Gate())
        var gate: Gate {
            switch self {
            case .localModel: Self.gates.localModel
            case .memory: Self.gates.memory
            }
        }
    }

    public var resource: Resource
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        switch resource {
        case .localModel: try await LocalModelPeer.exclusively { _ in try await function() }
        case .memory: try await resource.gate.exclusively { try await function() }
        }
    }
}

extension Trait where Self == ExclusiveUse {
    /// Serialises the test's use of the local model server with every other such test.
    public static var usesLocalModel: Self { ExclusiveUse(resource: .localModel) }
    /// Keeps memory-heavy and memory-measuring tests from running at the same time.
    public static var usesMuchMemory: Self { ExclusiveUse(resource: .memory) }
}

/// One holder at a time, first come first served.
actor Gate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    private func acquire() async {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
    }

    private func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }

    /// Runs `body` as the only holder.
    nonisolated func exclusively<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}
