import ArgumentParser
import Composition
import Foundation
import Switchyard

/// Options every command that reads settings shares.
struct SettingsOptions: ParsableArguments {
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a setting, e.g. profiles.local.model=qwen2.5-coder:7b.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(help: "The workspace: where switchyard.yaml is read from.")
    var workspace: String = FileManager.default.currentDirectoryPath

    func load() throws -> Settings {
        try Settings.load(
            workspace: workspace, environment: ProcessInfo.processInfo.environment, overrides: overrides)
    }
}

/// The statuses `switchyard` exits with, one meaning each (0 is success).
enum ExitStatus {
    /// An error: a model, a tool, the store, the network.
    static let failed = ExitCode(1)
    /// A problem with the settings, a spec, a file named on the command line.
    static let configuration = ExitCode(2)
    /// A budget (or the guard) stopped the run before the agent finished.
    static let stopped = ExitCode(3)
    /// `audit`: something above a destination's clearance left the machine.
    static let leaked = ExitCode(4)
    /// The run's hash chain does not hold: what was shown is not what was recorded.
    static let brokenChain = ExitCode(5)
    /// A replay, fork or diff parted from the record.
    static let diverged = ExitCode(6)
}

/// Prints a failure as one line a person can act on, and exits non-zero.
func fail(_ error: any Error) -> ExitCode {
    let text: String
    switch error {
    case let error as ConfigurationError: text = "configuration: \(error)"
    case let error as ModelError: text = "model: \(error)"
    default: text = "\(error)"
    }
    FileHandle.standardError.write(Data("switchyard: \(text)\n".utf8))
    return error is ConfigurationError ? ExitStatus.configuration : ExitStatus.failed
}

/// The bytes of a file named on the command line, or an error that says why not in the
/// system's words ("No such file or directory", "Is a directory").
func readFile(_ path: String, what: String) throws(ConfigurationError) -> [UInt8] {
    do {
        return Array(try Descriptor(reading: path).readAll())
    } catch {
        throw ConfigurationError(file: path, message: "cannot read \(what): \(error)")
    }
}

/// Reads a JSON file given on the command line.
func readJSON(_ path: String, what: String) throws(ConfigurationError) -> JSONValue {
    let bytes = try readFile(path, what: what)
    do {
        return try JSONValue(parsing: bytes)
    } catch {
        throw ConfigurationError(file: path, message: "\(what) is not JSON: \(error)".oneLine)
    }
}

func printJSON(_ value: JSONValue) {
    print(value.canonicalText)
}

/// Tells the user something on standard error, as `switchyard: …`.
@Sendable func warn(_ message: String) {
    FileHandle.standardError.write(Data("switchyard: \(message)\n".utf8))
}
