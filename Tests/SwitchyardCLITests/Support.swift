import Foundation
import Subprocess
import SwitchyardTesting
import SystemPackage

/// The environment a test runs `switchyard` in: this process's PATH, HOME in `home`, and the
/// trace and vector stores in `switchyardHome` (default `home/home`), plus `extra`.
func cliEnvironment(home: String, switchyardHome: String? = nil, _ extra: [String: String] = [:]) -> [String: String] {
    [
        "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home,
        "SWITCHYARD_HOME": switchyardHome ?? home + "/home",
    ].merging(extra) { $1 }
}

/// How to start `binary` with `arguments` in exactly `environment`, for tests that watch or
/// kill the process while it runs.
func processConfiguration(_ binary: String, _ arguments: [String], environment: [String: String]) -> Configuration {
    Configuration(
        executable: .path(FilePath(binary)), arguments: Arguments(arguments),
        environment: .custom(
            Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) })))
}

/// `--set` options that make `name` an Ollama profile for `model` at `baseURL`, and `--profile name`.
func ollamaProfile(_ name: String, model: String = "llama3.2", at baseURL: String) -> [String] {
    [
        "--set", "profiles.\(name).provider=ollama", "--set", "profiles.\(name).model=\(model)", "--set",
        "profiles.\(name).base_url=\(baseURL)", "--profile", name,
    ]
}
