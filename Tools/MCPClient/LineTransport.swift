import Foundation
import Glibc
import Logging
import MCP
import Synchronization

/// MCP's stdio framing — one JSON-RPC message per line — over a server process's pipes,
/// bounded: a line longer than `limit` bytes ends the connection instead of growing a buffer
/// without end, as the SDK's own stdio transport would for a server that never sends a newline.
///
/// A thread blocks in `read(2)` on the server's output (no polling); ``ended()`` returns as
/// soon as the output ends, overflows or fails, so a call waiting on a server that died
/// fails at once rather than at its timeout. Another thread writes to the server's input, so a
/// server that stops reading blocks neither the caller nor a thread of Swift's shared pool.
///
/// The stream of messages ends only at ``disconnect()``: the SDK's client reads it in a loop
/// that asks for it again whenever it ends, and would spin on an ended one.
actor LineTransport: Transport {
    nonisolated let logger = Logger(label: "switchyard.mcp", factory: { _ in SwiftLogNoOpLogHandler() })
    private let input: FileHandle
    private let writer: PipeWriter
    private let limit: Int
    private let messages: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private let end = EndSignal()

    /// Reads messages from `input` (the server's standard output) and writes them to `output`
    /// (its standard input).
    init(input: FileHandle, output: FileHandle, limit: Int) {
        self.input = input
        self.writer = PipeWriter(output)
        self.limit = limit
        (messages, continuation) = AsyncThrowingStream.makeStream()
    }

    func connect() async throws {
        // The thread holds the handle, so its descriptor stays open (and not reused) while it reads.
        let (input, limit, continuation, end) = (input, limit, continuation, end)
        let thread = Thread {
            end.finish(Self.readLines(fd: input.fileDescriptor, limit: limit) { continuation.yield($0) })
        }
        thread.name = "mcp-reader"
        thread.start()
    }

    func disconnect() async {
        writer.close()
        continuation.finish()
        end.finish("the connection was closed")
    }

    func send(_ data: Data) async throws {
        var line = data
        line.append(UInt8(ascii: "\n"))
        try await writer.write(line)
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    /// Waits until the server's output ends, and says why.
    func ended() async -> String? { await end.wait() }

    /// Reads `fd` to its end, handing over each non-empty line; says why it stopped.
    private static func readLines(fd: Int32, limit: Int, _ line: (Data) -> Void) -> String {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return "the server closed its output" }
            if count < 0 {
                if errno == EINTR { continue }
                return "reading from the server failed: \(String(cString: strerror(errno)))"
            }
            // Only the bytes just read are searched for the end of a line.
            var start = 0
            for index in 0..<count where buffer[index] == UInt8(ascii: "\n") {
                pending.append(contentsOf: buffer[start..<index])
                if pending.count > limit { return "the server sent a message longer than \(limit) bytes" }
                if !pending.isEmpty { line(Data(pending)) }
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            pending.append(contentsOf: buffer[start..<count])
            if pending.count > limit {
                return "the server sent a message longer than \(limit) bytes"
            }
        }
    }
}

/// Said once, when a server's output ends: why, to everyone waiting and to whoever asks after.
final class EndSignal: Sendable {
    private struct State {
        var reason: String?
        var waiters: [Int: CheckedContinuation<String?, Never>] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    func finish(_ reason: String) {
        let waiters = state.withLock { state in
            guard state.reason == nil else { return [CheckedContinuation<String?, Never>]() }
            state.reason = reason
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume(returning: reason) }
    }

    /// The reason, once there is one; nil when the waiting task is cancelled first.
    func wait() async -> String? {
        let id = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { waiter in
                let resolved: String?? = state.withLock { state in
                    if let reason = state.reason { return .some(reason) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = waiter
                    return .none
                }
                if let resolved { waiter.resume(returning: resolved) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}

/// Writes to a pipe on a thread of its own, one message after another, with `SIGPIPE` blocked
/// on that thread: a server that exited makes a write fail with `EPIPE` instead of killing
/// Switchyard, and one that stops reading holds up only its own calls.
final class PipeWriter: Sendable {
    private struct State {
        var queue: [(Data, CheckedContinuation<Void, any Error>)] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let ready = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            let fd = handle.fileDescriptor
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            var failure: String?
            while true {
                ready.wait()
                guard let (data, waiter) = state.withLock({ $0.queue.isEmpty ? nil : $0.queue.removeFirst() }) else {
                    return
                }
                failure = failure ?? Self.write(data, to: fd)
                if let failure {
                    waiter.resume(throwing: MCPError.transportError(MCPFailure(failure)))
                } else {
                    waiter.resume()
                }
            }
        }
        thread.name = "mcp-writer"
        thread.start()
    }

    /// Returns once `data` is written; throws when the pipe is closed or broken.
    func write(_ data: Data) async throws {
        try await withCheckedThrowingContinuation { waiter in
            let accepted = state.withLock { state in
                guard !state.closed else { return false }
                state.queue.append((data, waiter))
                return true
            }
            if accepted {
                ready.signal()
            } else {
                waiter.resume(throwing: MCPError.transportError(MCPFailure("the connection was closed")))
            }
        }
    }

    /// Ends the thread once what is queued is written (or has failed).
    func close() {
        let first = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if first { ready.signal() }
    }

    /// Writes all of `data`, or says why it could not.
    private static func write(_ data: Data, to fd: Int32) -> String? {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return "writing to the server failed: \(String(cString: strerror(errno)))"
                }
                offset += count
            }
            return nil
        }
    }
}
