import Foundation
public import Switchyard

/// A directory made for one test and removed when the value goes away.
public final class TemporaryDirectory: Sendable {
    /// The directory's real path (no symlinks), without a trailing slash.
    public let path: String

    public init(_ prefix: String = "switchyard") throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path
        path = "\(base)/\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `contents` to `relative`, making directories on the way.
    public func write(_ relative: String, _ contents: String) throws {
        let url = URL(fileURLWithPath: path + "/" + relative)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: url)
    }

    public func read(_ relative: String) throws -> String {
        try String(contentsOfFile: path + "/" + relative, encoding: .utf8)
    }

    public func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path + "/" + relative, withDestinationPath: target)
    }
}

/// The `git` command line, for making repositories and checking results against.
public enum GitCommand {
    /// Fixed identities and dates, so runs compare equal; no system or user configuration.
    public static let environment: [String: String] = [
        "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory(),
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Ada Author", "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Author", "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
    ]

    /// Runs `git -C directory ARGUMENTS…` and returns its standard output; throws on failure.
    @discardableResult
    public static func run(_ arguments: [String], in directory: String, environment extra: [String: String] = [:])
        async throws -> String
    {
        let git = ["/usr/bin/git", "/usr/local/bin/git"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let result = try await runProgram(
            git ?? "/usr/bin/git", ["-C", directory] + arguments, environment: environment.merging(extra) { $1 })
        guard result.status == 0 else {
            throw PeerError(description: "git \(arguments.joined(separator: " ")) failed: \(result.standardError)")
        }
        return result.standardOutput
    }

    /// A fresh repository on `main` in `directory`, with user.name and user.email set.
    public static func initialize(_ directory: String) async throws {
        try await run(["init", "-q", "-b", "main"], in: directory)
        try await run(["config", "user.name", "Ada Author"], in: directory)
        try await run(["config", "user.email", "ada@example.com"], in: directory)
    }

    /// A clone of a bare repository on this machine (`/opt/swift-packages/OWNER/NAME.git`), or
    /// `nil` when it is not here.
    public static func cloneLocal(_ bare: String, into directory: String) async throws -> String? {
        guard FileManager.default.fileExists(atPath: bare) else { return nil }
        let target = directory + "/" + URL(fileURLWithPath: bare).deletingPathExtension().lastPathComponent
        try await run(["clone", "-q", bare, target], in: directory)
        return target
    }
}

/// A tool for model tests: one required string argument.
public let weatherTool = ToolSpec(
    name: "get_weather", description: "Get the weather in a given city",
    parameters: [
        "type": "object", "properties": ["city": ["type": "string", "description": "The city"]], "required": ["city"],
    ])
