public import Foundation

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

/// Runs `path` with `arguments` and `environment` to completion, collecting its output.
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String]) throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.environment = environment
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes at once so neither can fill up and stall the child.
    final class Box: @unchecked Sendable {  // written by one reader, read after `wait`
        var data = Data()
    }
    let errorBox = Box()
    let group = DispatchGroup()
    let errorHandle = error.fileHandleForReading
    DispatchQueue.global().async(group: group) { errorBox.data = errorHandle.readDataToEndOfFile() }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errorData = errorBox.data
    process.waitUntilExit()
    return ProgramResult(
        status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData, as: UTF8.self))
}
