import Foundation
import Glibc
import MCP
public import Switchyard
import Synchronization

/// An MCP server run as a child process on stdio, started when first asked something and
/// started again after it failed.
///
/// The server is untrusted: it gets only `PATH`, `HOME`, `LANG` and the variables its spec
/// gives (no API key of Switchyard's environment), it runs in the workspace, every answer is
/// bounded in size (``messageLimit``) and time (the spec's timeouts), and a server that exceeds
/// either, or exits, is killed and its call fails with the reason. The client offers the
/// server nothing it could ask back (no sampling, roots or elicitation).
public actor StdioConnection: MCPConnection {
    public let server: MCPServerSpec
    public let workspace: String
    /// Where `PATH`, `HOME` and `LANG` come from.
    let environment: [String: String]
    /// The longest message a server may send.
    public static let messageLimit = 4 * 1024 * 1024
    /// The most tools a server may list (over every page).
    static let toolLimit = 1000

    private var session: Session?
    private var starting: Task<Session, any Error>?

    private struct Session {
        let process: Process
        let client: Client
        let transport: LineTransport
        let serverInfo: String
        let errors: ErrorTail
    }

    public init(server: MCPServerSpec, workspace: String, environment: [String: String]) {
        self.server = server
        self.workspace = workspace
        self.environment = environment
    }

    deinit {
        if let process = session?.process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public func catalogue() async throws -> MCPCatalogue {
        let session = try await started()
        let tools = try await bounded(session, "listing its tools") { client in
            var tools: [MCP.Tool] = []
            var cursor: String?
            repeat {
                let page = try await client.listTools(cursor: cursor)
                tools += page.tools
                cursor = page.nextCursor
            } while cursor != nil && tools.count < Self.toolLimit
            return tools
        }
        guard tools.count <= Self.toolLimit else {
            await stop(session)
            throw MCPFailure("it lists more than \(Self.toolLimit) tools")
        }
        return MCPCatalogue(
            server: session.serverInfo,
            tools: try tools.map { tool in
                MCPCatalogue.Entry(
                    name: tool.name, description: tool.description ?? "",
                    inputSchema: try JSONValue(mcp: tool.inputSchema))
            })
    }

    public func call(_ tool: String, arguments: JSONValue) async throws -> MCPCallResult {
        guard case .object(let fields) = arguments else { throw MCPFailure("a tool's arguments are an object") }
        let values = try fields.mapValues { try Value(switchyard: $0) }
        let session = try await started()
        let (content, isError) = try await bounded(session, "calling \(tool)") { client in
            try await client.callTool(name: tool, arguments: values)
        }
        return MCPCallResult(text: content.map(\.text).joined(separator: "\n"), isError: isError ?? false)
    }

    /// Stops the server, if it runs; the next call starts it again.
    public func close() async {
        if let session { await stop(session) }
    }

    /// The running session, started if there is none. Calls that arrive while it starts wait
    /// for that start rather than each starting a server.
    private func started() async throws -> Session {
        if let session, session.process.isRunning { return session }
        if let starting { return try await starting.value }
        let start = Task { try await self.start() }
        starting = start
        defer { starting = nil }
        let session = try await start.value
        self.session = session
        return session
    }

    private func start() async throws -> Session {
        let (process, input, output, errors) = try spawn()
        let transport = LineTransport(input: input, output: output, limit: Self.messageLimit)
        let client = Client(name: "switchyard", version: "1")
        let provisional = Session(
            process: process, client: client, transport: transport, serverInfo: "", errors: errors)
        let result = try await bounded(provisional, "starting", within: server.startTimeout) { client in
            try await client.connect(transport: transport)
        }
        return Session(
            process: process, client: client, transport: transport,
            serverInfo: "\(result.serverInfo.name) \(result.serverInfo.version)", errors: errors)
    }

    /// Runs `body` on the session's client within `timeout` (by default the server's call
    /// timeout), failing as soon as the server's output ends; the server is stopped when the
    /// body does not finish.
    private func bounded<T: Sendable>(
        _ session: Session, _ doing: String, within timeout: Duration? = nil,
        _ body: @escaping @Sendable (Client) async throws -> T
    ) async throws -> T {
        let (client, transport, timeout) = (session.client, session.transport, timeout ?? server.timeout)
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body(client) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw MCPFailure("it did not answer within \(timeout) \(doing)")
                }
                group.addTask {
                    guard let reason = await transport.ended() else { throw CancellationError() }
                    throw MCPFailure(reason)
                }
                do {
                    let first = try await group.next()!
                    group.cancelAll()
                    return first!
                } catch {
                    group.cancelAll()
                    // Ends the body's wait for an answer, so the group can end.
                    await self.stop(session)
                    throw error
                }
            }
        } catch let failure as MCPFailure {
            throw MCPFailure("MCP server \(server.name) failed \(doing): \(failure.message)\(session.errors.quoted)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw MCPFailure("MCP server \(server.name) failed \(doing): \(error)\(session.errors.quoted)")
        }
    }

    private func stop(_ session: Session) async {
        if session.process.isRunning { kill(session.process.processIdentifier, SIGKILL) }
        await session.client.disconnect()
        if self.session?.process === session.process { self.session = nil }
    }

    private func spawn() throws -> (Process, FileHandle, FileHandle, ErrorTail) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable(server.command[0]))
        process.arguments = Array(server.command.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: workspace)
        var variables = environment.filter { ["PATH", "HOME", "LANG"].contains($0.key) }
        variables.merge(server.environment) { _, given in given }
        process.environment = variables
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw MCPFailure("MCP server \(server.name) could not start `\(server.command[0])`: \(error)")
        }
        return (
            process, stdout.fileHandleForReading, stdin.fileHandleForWriting, ErrorTail(stderr.fileHandleForReading)
        )
    }

    /// The program `name`: a path as it is, else found on `PATH`.
    private func executable(_ name: String) throws -> String {
        if name.contains("/") { return name }
        let path = server.environment["PATH"] ?? environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw MCPFailure("MCP server \(server.name): no program `\(name)` on PATH")
    }
}

/// Why an MCP server failed, in words the model and the user can act on.
struct MCPFailure: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// The last few kilobytes a server wrote to its standard error, for the error that says it failed.
final class ErrorTail: Sendable {
    private let tail = Mutex<[UInt8]>([])
    static let limit = 2048

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            let fd = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                tail.withLock { tail in
                    tail += buffer[..<count]
                    if tail.count > Self.limit { tail.removeFirst(tail.count - Self.limit) }
                }
            }
        }
        thread.name = "mcp-stderr"
        thread.start()
    }

    /// `: …` and the tail's last lines, or nothing when it is empty.
    var quoted: String {
        let text = String(decoding: tail.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return "" }
        let lines = text.split(separator: "\n").suffix(3).joined(separator: " | ")
        return " (it said: \(lines.suffix(400)))"
    }
}

extension MCP.Tool.Content {
    /// The content as text: what is not text is named, with its size, but not included.
    var text: String {
        switch self {
        case .text(let text, _, _): text
        case .image(let data, let mimeType, _, _): "[image \(mimeType), \(data.utf8.count * 3 / 4) bytes, not shown]"
        case .audio(let data, let mimeType, _, _): "[audio \(mimeType), \(data.utf8.count * 3 / 4) bytes, not shown]"
        case .resource(let resource, _, _): resource.text ?? "[resource \(resource.uri), not shown]"
        case .resourceLink(let uri, _, _, _, _, _): "[resource link \(uri)]"
        }
    }
}

extension JSONValue {
    /// The SDK's value as a Switchyard one.
    init(mcp value: MCP.Value) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: try JSONEncoder().encode(value))
    }
}

extension MCP.Value {
    init(switchyard value: JSONValue) throws {
        self = try JSONDecoder().decode(MCP.Value.self, from: try JSONEncoder().encode(value))
    }
}
