#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a bubblewrap sandbox shows of the machine: the system directories programs need,
/// read-only — `/usr`, the `/bin`, `/sbin` and `/lib*` beside it, the few files of `/etc`
/// that libraries and tools read — and the toolchains on `PATH`. Not `/home`, `/root`,
/// `/srv`, `/var`, `/run`, other repositories or the host's sockets; the workspace is
/// mounted by the caller.
public enum SandboxView {
    /// The files and directories of `/etc` shown: the dynamic linker's cache, users and
    /// groups (for `id` and `ls -l`), name service and time zone settings, certificates,
    /// alternatives (`cc`, `editor`), and where DNS servers are (used only with the network).
    public static let systemFiles = [
        "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd",
        "/etc/group", "/etc/nsswitch.conf", "/etc/localtime", "/etc/ssl", "/etc/ca-certificates",
        "/etc/pki", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf", "/etc/resolv.conf", "/etc/services",
        "/etc/protocols", "/etc/mime.types", "/etc/os-release",
    ]

    /// The top-level system directories, each bound read-only, or recreated as the symlink it
    /// is on a merged-`/usr` system.
    static let systemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]

    /// bubblewrap's arguments for the system's part of the view, a fresh `/dev`, `/proc` and
    /// private `/tmp`, and `toolchains` (read-only).
    public static func arguments(toolchains: [String] = []) -> [String] {
        var arguments: [String] = []
        for directory in systemDirectories {
            var info = stat()
            guard lstat(directory, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFLNK, let target = linkTarget(directory) {
                arguments += ["--symlink", target, directory]
            } else if info.st_mode & S_IFMT == S_IFDIR {
                arguments += ["--ro-bind", directory, directory]
            }
        }
        for file in systemFiles { arguments += ["--ro-bind-try", file, file] }
        for directory in toolchains where !systemDirectories.contains(where: { covers($0, directory) }) {
            arguments += ["--ro-bind-try", directory, directory]
        }
        arguments += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        return arguments
    }

    /// The toolchains a `PATH` names, outside the system directories: for an entry that ends
    /// in `bin`, the directory above it (where its libraries are, as in `/opt/swift/usr`),
    /// unless that is `/`, the home directory, or holds the workspace (then the entry alone,
    /// unless it holds the workspace too).
    public static func toolchains(path: String, workspace: String, home: String?) -> [String] {
        var result: [String] = []
        for entry in path.split(separator: ":").map(String.init) where entry.hasPrefix("/") {
            let entry = entry.count > 1 && entry.hasSuffix("/") ? String(entry.dropLast()) : entry
            if systemDirectories.contains(where: { covers($0, entry) }) { continue }
            if covers(entry, workspace) || covers(workspace, entry) { continue }
            var chosen = entry
            if entry.hasSuffix("/bin") {
                let parent = String(entry.dropLast(4))
                if !parent.isEmpty, parent != home, !covers(parent, workspace) { chosen = parent }
            }
            if chosen == home || chosen == "/" { continue }
            if !result.contains(chosen) { result.append(chosen) }
        }
        return result
    }

    /// Whether `directory` is `path` or above it.
    static func covers(_ directory: String, _ path: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }

    private static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
