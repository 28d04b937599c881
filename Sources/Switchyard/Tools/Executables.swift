import Foundation

/// The first executable called `name` in the directories of `path` (a `PATH` value; the
/// process's own when `nil`).
public func findExecutable(_ name: String, path: String? = nil) -> String? {
    let directories = (path ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        .split(separator: ":")
    return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
