public import Foundation
import Subprocess
import SystemPackage

/// Where SwiftPM put the package's built executables.
public enum BuiltProducts {
    public static var directory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        url.deleteLastPathComponent()
        while url.pathExtension == "xctest" || url.lastPathComponent == "MacOS" || url.lastPathComponent == "Contents" {
            url.deleteLastPathComponent()
        }
        return url
    }

    /// The path of the built executable `name`, such as `switchyard`.
    public static func executable(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }
}

/// The outcome of running a program to its end.
public struct ProgramResult: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
}

/// Runs `path` with `arguments` and exactly `environment` to completion, collecting its output.
public func runProgram(
    _ path: String, _ arguments: [String], environment: [String: String], in directory: String? = nil
) async throws -> ProgramResult {
    let result = try await Subprocess.run(
        .path(FilePath(path)), arguments: Arguments(arguments),
        environment: .custom(
            Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) })),
        workingDirectory: directory.map { FilePath($0) },
        output: .string(limit: 64 << 20), error: .string(limit: 64 << 20))
    let status: Int32
    switch result.terminationStatus {
    case .exited(let code): status = code
    case .signaled(let signal): status = 128 + signal
    }
    return ProgramResult(
        status: status, standardOutput: result.standardOutput, standardError: result.standardError)
}
