import Foundation
import Subprocess
public import Switchyard

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// `shell`: runs a command with `/bin/sh` inside a bubblewrap sandbox that shows the
/// workspace and the system's directories (``SandboxView``) and nothing else of the host, a
/// private `/tmp`, no network unless the policy allows it, an environment allowlist, and a
/// timeout that kills the whole process tree. `.git` is read-only in every mode. When the work
/// tree is read-only (`Workspace.readOnlyReason`: a run without `--apply`), so is the
/// workspace's mount, but for the policy's `writable` directories.
public struct ShellTool: Tool {
    public let workspace: Workspace
    public let policy: ShellPolicy
    /// Where `bwrap` is; `nil` when it is not installed.
    public let bubblewrap: String?
    /// The environment commands inherit from, before the allowlist filters it.
    public let hostEnvironment: [String: String]

    public init(
        workspace: Workspace, policy: ShellPolicy = ShellPolicy(), bubblewrap: String? = findExecutable("bwrap"),
        hostEnvironment: [String: String]? = nil
    ) {
        self.workspace = workspace
        self.policy = policy
        self.bubblewrap = bubblewrap
        self.hostEnvironment = hostEnvironment ?? ProcessInfo.processInfo.environment
    }

    public var name: String { "shell" }
    /// The workspace (in its sandbox, nothing else of the host's files); with the network,
    /// anything a server sends; outside any sandbox, the host's files and network too.
    public var reads: Labels {
        var labels = workspace.labels
        if policy.sandbox == .none { labels = labels.join(Workspace.host) }
        if network { labels = labels.join(Labels(.public, .untrusted)) }
        return labels
    }

    /// Whether commands can reach the network: when the policy allows it, and always outside
    /// a sandbox.
    var network: Bool { policy.network || policy.sandbox == .none }

    public var description: String {
        var text = "Run a shell command (/bin/sh -c) in the workspace"
        text += policy.sandbox == .bubblewrap ? ", inside a sandbox" : ""
        text += network ? "" : " without network access"
        text += ". Returns the exit status, standard output and standard error."
        if !policy.allow.isEmpty { text += " Allowed commands: \(policy.allow.joined(separator: ", "))." }
        return text
    }
    public var parameters: JSONValue {
        [
            "type": "object",
            "properties": [
                "command": [
                    "type": "string", "minLength": 1,
                    "description": "The command line, e.g. swift test --filter Parser.",
                ],
                "directory": [
                    "type": "string", "description": "Where to run it, relative to the workspace (default: its root).",
                ],
                "timeout_seconds": [
                    "type": "integer", "minimum": 1, "maximum": .number(Double(policy.timeout.components.seconds)),
                    "description": .string(
                        "Kill the command after this long (default and maximum \(policy.timeout.components.seconds))."),
                ],
            ],
            "required": ["command"],
            "additionalProperties": false,
        ]
    }

    /// What a command did.
    public struct Outcome: Sendable, Hashable {
        /// The exit status, or 128 + the signal for a killed command.
        public var status: Int32
        public var timedOut: Bool
        public var standardOutput: CappedText
        public var standardError: CappedText
        public var duration: Duration
    }

    public func call(_ arguments: ToolArguments, context: ToolContext) async throws(ToolError) -> ToolOutput {
        let command = arguments.string("command") ?? ""
        if command.utf8.contains(0) {
            throw ToolError(.invalidArguments, tool: name, "the command contains a NUL byte")
        }
        let (decision, reason) = policy.decide(command)
        switch decision {
        case .deny:
            throw ToolError(.refused, tool: name, "the policy refuses `\(command)`: \(reason)", rule: "shell-policy")
        case .ask:
            guard let approver = context.approver else {
                throw ToolError(
                    .refused, tool: name,
                    "`\(command)` needs approval (\(reason)) and nobody can give it here; the spec's tools.shell.allow can allow it",
                    rule: "shell-ask")
            }
            guard await approver.approve(tool: name, action: "run `\(command)`") else {
                throw ToolError(.refused, tool: name, "`\(command)` was not approved", rule: "shell-ask")
            }
        case .allow:
            break
        }
        // A command that can reach the network is an egress: the guard decides first. Outside a
        // sandbox it can also read and send any file of the host.
        if network, let egressGuard = context.egressGuard,
            case .refuse(let reason) = await egressGuard.check(
                Egress(
                    kind: .shell, destination: command, payload: Array(command.utf8), source: name,
                    reach: policy.sandbox == .none ? .host : .workspace))
        {
            throw ToolError(.refused, tool: name, "the guard refused `\(command)`: \(reason)", rule: "guard")
        }
        let directory = try workspace.resolve(arguments.string("directory") ?? ".", for: .read, tool: name)
        guard directory.isDirectory else {
            throw ToolError(.invalidArguments, tool: name, "\(arguments.string("directory") ?? "") is not a directory")
        }
        let timeout = arguments.int("timeout_seconds").map { Duration.seconds($0) } ?? policy.timeout
        let outcome = try await run(command, in: directory.absolute, timeout: timeout)

        var text = "$ \(command)\n"
        if outcome.timedOut {
            text += "killed after \(timeout.components.seconds) s (timeout), with every process it started\n"
        } else {
            text += "exit status \(outcome.status)\n"
        }
        if !outcome.standardOutput.text.isEmpty { text += "--- stdout ---\n" + outcome.standardOutput.text }
        if !outcome.standardError.text.isEmpty {
            if !text.hasSuffix("\n") { text += "\n" }
            text += "--- stderr ---\n" + outcome.standardError.text
        }
        let labels = reads
        let seconds =
            Double(outcome.duration.components.seconds) + Double(outcome.duration.components.attoseconds) / 1e18
        return ToolOutput(
            text: text,
            data: [
                "command": .string(command), "status": .number(Double(outcome.status)),
                "timed_out": .bool(outcome.timedOut),
                "stdout": .string(outcome.standardOutput.text), "stderr": .string(outcome.standardError.text),
                "seconds": .number((seconds * 1000).rounded() / 1000),
            ],
            labels: labels, truncated: outcome.standardOutput.truncated || outcome.standardError.truncated)
    }

    /// Runs `command` under the policy's sandbox, collecting capped output.
    public func run(_ command: String, in directory: String, timeout: Duration) async throws(ToolError) -> Outcome {
        let executable: String
        var arguments: [String]
        switch policy.sandbox {
        case .bubblewrap:
            guard let bubblewrap else {
                throw ToolError(
                    .unavailable, tool: name,
                    "bubblewrap (bwrap) is not installed, and the shell runs only inside it: install it with `apt install bubblewrap`, or set `sandbox: none` for this tool in the agent spec"
                )
            }
            executable = bubblewrap
            arguments =
                try sandboxArguments(directory: directory, writable: try writableDirectories()) + [
                    "/bin/sh", "-c", command,
                ]
        case .none:
            if let reason = workspace.readOnlyReason {
                throw ToolError(
                    .refused, tool: name,
                    "\(reason); outside its sandbox (sandbox: none) the shell could change it, so it does not run",
                    rule: "read-only")
            }
            executable = "/bin/sh"
            arguments = ["-c", command]
        }
        var environment = filteredEnvironment()
        if policy.sandbox == .none { environment["HOME"] = hostEnvironment["HOME"] ?? "/tmp" }
        var platform = PlatformOptions()
        platform.processGroupID = 0
        let limit = policy.outputLimit
        let started = ContinuousClock.now
        do {
            let result = try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(arguments),
                environment: .custom(
                    Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) })
                ),
                workingDirectory: FilePath(directory), platformOptions: platform,
                input: .none, output: .sequence, error: .sequence
            ) { execution in
                try await withThrowingTaskGroup(of: Event.self) { group in
                    group.addTask { .output(try await CappedText.collect(execution.standardOutput, limit: limit)) }
                    group.addTask { .error(try await CappedText.collect(execution.standardError, limit: limit)) }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        return .timeout
                    }
                    var output = CappedText()
                    var error = CappedText()
                    var open = 2
                    var timedOut = false
                    while open > 0, let event = try await group.next() {
                        switch event {
                        case .output(let text):
                            output = text
                            open -= 1
                        case .error(let text):
                            error = text
                            open -= 1
                        case .timeout:
                            timedOut = true
                            // The whole group: bwrap takes its sandbox down with it (--die-with-parent
                            // and a PID namespace); without a sandbox, the group is every process the
                            // command started that did not leave it.
                            try? execution.send(signal: .kill, toProcessGroup: true)
                            group.addTask {
                                try await Task.sleep(for: .seconds(2))
                                return .gaveUp
                            }
                        case .gaveUp:
                            open = 0
                        }
                    }
                    group.cancelAll()
                    return (output, error, timedOut)
                }
            }
            let (output, error, timedOut) = result.closureResult
            let status: Int32 =
                switch result.terminationStatus {
                case .exited(let code): code
                case .signaled(let signal): 128 + signal
                }
            if policy.sandbox == .bubblewrap, status != 0, !timedOut, error.text.hasPrefix("bwrap: ") {
                throw ToolError(
                    .unavailable, tool: name,
                    "the sandbox could not start: \(error.text.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            return Outcome(
                status: status, timedOut: timedOut, standardOutput: output, standardError: error,
                duration: ContinuousClock.now - started)
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError(.failed, tool: name, "could not run the command: \(error)")
        }
    }

    private enum Event: Sendable {
        case output(CappedText)
        case error(CappedText)
        case timeout
        case gaveUp
    }

    /// The directories to mount writable in a read-only workspace: the policy's `writable`
    /// ones, made if missing, under the write rules (never `.git`, never through a symlink:
    /// each level is looked at, and made, through the descriptor of the one above it).
    ///
    /// bubblewrap mounts them by path afterwards. Nothing can move a path between the check
    /// and the mount: their parents are read-only to every sandboxed command of a read-only
    /// run, and a writable directory inside another is refused, so no command can make one of
    /// them a symlink for the next.
    func writableDirectories() throws(ToolError) -> [String] {
        guard workspace.readOnlyReason != nil else { return [] }
        let paths = try policy.writablePaths.map { (path: String) throws(ToolError) -> String in
            try workspace.makeDirectory(path, tool: name)
        }
        for path in paths {
            if let outer = paths.first(where: { $0 != path && path.hasPrefix($0 + "/") }) {
                throw ToolError(
                    .refused, tool: name,
                    "tools.shell.writable: \(path.dropFirst(workspace.root.count + 1)) is inside \(outer.dropFirst(workspace.root.count + 1)), which is writable already; list only the outer one",
                    rule: "writable-nested")
            }
        }
        return paths
    }

    /// bubblewrap's arguments: the system's directories read-only (``SandboxView``), fresh
    /// `/dev`, `/proc` and `/tmp`, the workspace bound — writable unless the policy or the run
    /// says otherwise, and then with `writable` bound writable inside it — with its `.git`
    /// read-only over it, every namespace unshared (the network too, unless allowed), and the
    /// sandbox killed with its parent.
    func sandboxArguments(directory: String, writable: [String] = []) throws(ToolError) -> [String] {
        let root = workspace.root.isEmpty ? "/" : workspace.root
        var arguments = SandboxView.arguments(
            toolchains: SandboxView.toolchains(
                path: filteredEnvironment()["PATH"] ?? "", workspace: root, home: hostEnvironment["HOME"]))
        arguments += ["--unshare-all", "--die-with-parent", "--new-session"]
        if policy.network { arguments.append("--share-net") }
        let writableTree = policy.writableWorkspace && workspace.readOnlyReason == nil
        arguments += [writableTree ? "--bind" : "--ro-bind", root, root]
        for path in writable { arguments += ["--bind", path, path] }
        if let git = try workspace.gitDirectoryInside(tool: name) { arguments += ["--ro-bind", git, git] }
        arguments += ["--chdir", directory]
        return arguments
    }

    /// The allowlisted variables of the host environment; never anything that looks like a
    /// credential.
    func filteredEnvironment() -> [String: String] {
        let names = Set(["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ"] + policy.environment)
        var environment = hostEnvironment.filter { names.contains($0.key) && !ShellPolicy.looksLikeCredential($0.key) }
        environment["PATH"] = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["HOME"] = "/tmp"
        return environment
    }
}

/// The first part of a stream of output, and whether there was more.
public struct CappedText: Sendable, Hashable {
    public var text = ""
    public var truncated = false

    static func collect(_ sequence: SubprocessOutputSequence, limit: OutputLimit) async throws -> CappedText {
        var kept: [UInt8] = []
        var total = 0
        do {
            for try await buffer in sequence {
                total += buffer.count
                if kept.count < limit.bytes {
                    buffer.withUnsafeBytes { kept.append(contentsOf: $0.prefix(limit.bytes - kept.count)) }
                }
            }
        } catch is CancellationError {}
        var capped = CappedText()
        let text = String(decoding: kept, as: UTF8.self)
        let applied = limit.apply(to: text, hint: "redirect the output to a file in the workspace and read it")
        capped.text = applied.text
        capped.truncated = applied.truncated || total > kept.count
        if total > kept.count, !applied.truncated {
            if !capped.text.hasSuffix("\n") { capped.text += "\n" }
            capped.text +=
                "[truncated: \(total - kept.count) more bytes not shown; redirect the output to a file in the workspace and read it]\n"
        }
        return capped
    }
}
