import ArgumentParser
import FileTools
import Foundation
import GitTools
import Subprocess
import Switchyard
import SwitchyardTesting
import SystemPackage

struct ToolsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tools",
        abstract: "The search and git tools against rg and git, on a real tree and a long history.",
        discussion: """
            The tree is a checkout of apple/swift-nio made from the bare repository on this machine \
            (or --repo). search: the tool's whole call (ripgrep --json, parsing, sorting, formatting) \
            against `rg --column -n PATTERN` with its output read to the end. git: the tools \
            (git_status, git_log, git_diff, git_log with a path) against the same git commands; the \
            history comes from a generated repository of --commits commits, because the bare \
            repositories here hold one snapshot per release. Each round times the tool and then its \
            reference, --rounds times; the times shown are medians, and the ratio (switchyard time / \
            reference time) is the median of the rounds' ratios.
            """
    )

    @Option(help: "A git work tree to search (default: a fresh checkout of swift-nio).") var repo: String?
    @Option(help: "Commits in the generated history.") var commits = 3000
    @Option(help: "Rounds per measurement.") var rounds = 7

    func run() async throws {
        let scratch = try TemporaryDirectory("tools-bench")
        let tree: String
        if let repo {
            tree = repo
        } else {
            guard
                let clone = try await GitCommand.cloneLocal(
                    "/opt/swift-packages/apple/swift-nio.git", into: scratch.path)
            else { throw ValidationError("no swift-nio here; pass --repo") }
            tree = clone
        }
        guard let rg = findExecutable("rg") else { throw ValidationError("rg is not installed") }
        let git = findExecutable("git") ?? "/usr/bin/git"
        let workspace = try Workspace(path: tree)
        let tools = FileTools.make(workspace: workspace) + GitTools.make(workspace: workspace)
        func tool(_ name: String) -> any Tool { tools.first { $0.name == name }! }
        let files = try await runProgram(git, ["-C", tree, "ls-files"], environment: [:]).standardOutput.split(
            separator: "\n"
        ).count
        print("tree: \(tree) (\(files) files)")

        for pattern in ["EventLoopFuture", "func channelRead\\(", "TODO|FIXME"] {
            var matches = 0
            var lines = 0
            let times = try await compare {
                let output = try await tool("search").invoke(["pattern": .string(pattern), "max_results": 10000])
                matches = output.data["matches"]?.intValue ?? 0
            } against: {
                lines = try await countLines(rg, ["--column", "-n", pattern], in: tree)
            }
            report("search \(pattern) (\(matches) matches, rg \(lines) lines)", times)
        }

        let tags = try await runProgram(git, ["-C", tree, "tag", "--sort=creatordate"], environment: [:]).standardOutput
            .split(separator: "\n").map(String.init)
        report(
            "git_status (clean tree)",
            try await compare {
                _ = try await tool("git_status").invoke([:])
            } against: {
                _ = try await runProgram(git, ["-C", tree, "status", "--porcelain"], environment: [:])
            })
        if tags.count >= 2 {
            let (from, to) = (tags[tags.count - 2], tags[tags.count - 1])
            report(
                "git_diff \(from)..\(to)",
                try await compare {
                    _ = try await tool("git_diff").invoke(["from": .string(from), "to": .string(to)])
                } against: {
                    _ = try await runProgram(git, ["-C", tree, "diff", from, to], environment: [:])
                })
        }
        try "// touched\n".write(toFile: tree + "/Package.swift", atomically: true, encoding: .utf8)
        report(
            "git_diff (work tree)",
            try await compare {
                _ = try await tool("git_diff").invoke([:])
            } against: {
                _ = try await runProgram(git, ["-C", tree, "diff"], environment: [:])
            })

        // A long history, generated with git fast-import.
        let history = scratch.path + "/history"
        try await makeHistory(at: history, commits: commits, git: git)
        let historyTools = GitTools.make(workspace: try Workspace(path: history))
        let log = historyTools.first { $0.name == "git_log" }!
        report(
            "git_log limit 1000 (\(commits) commits)",
            try await compare {
                _ = try await log.invoke(["limit": 1000])
            } against: {
                _ = try await runProgram(
                    git, ["-C", history, "log", "-n", "1000", "--format=%h %ad %an: %s", "--date=short"],
                    environment: [:])
            })
        report(
            "git_log -- src/file7.txt",
            try await compare {
                _ = try await log.invoke(["limit": 1000, "path": "src/file7.txt"])
            } against: {
                _ = try await runProgram(
                    git,
                    [
                        "-C", history, "log", "-n", "1000", "--format=%h %ad %an: %s", "--date=short", "--",
                        "src/file7.txt",
                    ],
                    environment: [:])
            })
    }

    /// Runs a program to its end, reading its output as the tool reads ripgrep's; the lines.
    func countLines(_ path: String, _ arguments: [String], in directory: String) async throws -> Int {
        try await Subprocess.run(
            .path(FilePath(path)), arguments: Arguments(arguments), workingDirectory: FilePath(directory), input: .none,
            output: .sequence, error: .discarded
        ) { execution in
            var lines = 0
            for try await buffer in execution.standardOutput {
                buffer.withUnsafeBytes { bytes in lines += bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
            }
            return lines
        }.closureResult
    }

    /// Times `ours` and `theirs` in turn, --rounds times after one warm-up of each, so that a
    /// machine slowing down or speeding up weighs on both alike.
    func compare(_ ours: () async throws -> Void, against theirs: () async throws -> Void) async throws -> [(
        ours: Duration, theirs: Duration
    )] {
        try await ours()
        try await theirs()
        var times: [(ours: Duration, theirs: Duration)] = []
        for _ in 0..<rounds { times.append((try await time(ours), try await time(theirs))) }
        return times
    }

    /// The median times, and the median of the rounds' ratios.
    func report(_ name: String, _ times: [(ours: Duration, theirs: Duration)]) {
        let a = median(times.map(\.ours.seconds))
        let b = median(times.map(\.theirs.seconds))
        let ratio = median(times.map { $0.ours.seconds / $0.theirs.seconds })
        print(
            "\(name.padding(toLength: 52, withPad: " ", startingAt: 0)) switchyard \(format(a * 1000, digits: 2)) ms   reference \(format(b * 1000, digits: 2)) ms   ratio \(format(ratio, digits: 2))x"
        )
    }

    /// A repository of `commits` commits, each changing one of 50 files.
    func makeHistory(at path: String, commits: Int, git: String) async throws {
        _ = try await runProgram(git, ["init", "-q", "-b", "main", path], environment: [:])
        var stream = ""
        for index in 1...commits {
            let file = "src/file\(index % 50).txt"
            let content = "revision \(index)\n"
            let message = "Change \(file) (\(index))"
            stream += "commit refs/heads/main\n"
            stream += "author Ada Author <ada@example.com> \(1_700_000_000 + index * 60) +0000\n"
            stream += "committer Ada Author <ada@example.com> \(1_700_000_000 + index * 60) +0000\n"
            stream += "data \(message.utf8.count)\n\(message)\n"
            stream += "M 100644 inline \(file)\ndata \(content.utf8.count)\n\(content)\n"
        }
        let input = path + ".fast-import"
        try stream.write(toFile: input, atomically: true, encoding: .utf8)
        let result = try await runProgram(
            "/bin/sh",
            ["-c", "\(git) -C \(path) fast-import --quiet < \(input) && \(git) -C \(path) checkout -q main"],
            environment: [:])
        guard result.status == 0 else { throw ValidationError("fast-import failed: \(result.standardError)") }
    }
}
