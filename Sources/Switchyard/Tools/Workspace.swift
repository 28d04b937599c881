#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The directory a run works in. Every path a tool touches is resolved through
/// ``resolve(_:for:tool:)``, which keeps it inside.
public struct Workspace: Sendable, Hashable {
    /// The real path of the workspace (symlinks resolved), without a trailing slash.
    public let root: String
    /// The labels of what the workspace's files, git history and shell output say.
    public var labels: Labels
    /// Why the work tree may not be written in this run, or `nil` when it may: a write is
    /// refused with this reason (rule `read-only`).
    public var readOnlyReason: String?

    /// Opens the workspace at `path`, which must be an existing directory.
    public init(path: String, labels: Labels = Labels(.private, .trusted)) throws(ToolError) {
        guard let real = Self.realPath(path) else {
            throw ToolError(.notFound, tool: "workspace", "the workspace \(path) does not exist")
        }
        var info = stat()
        guard stat(real, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ToolError(.invalidArguments, tool: "workspace", "the workspace \(path) is not a directory")
        }
        self.root = real == "/" ? "" : real
        self.labels = labels
    }

    /// The labels of the host's files outside the workspace, for what can read them (a shell
    /// command outside any sandbox): private, as a user's files are.
    public static let host = Labels(.private, .trusted)

    public enum Access: Sendable { case read, write }

    /// A path inside the workspace.
    public struct Path: Sendable, Hashable {
        /// The absolute path, with every symlink on the way resolved.
        public var absolute: String
        /// The path relative to the workspace root (`""` for the root itself).
        public var relative: String
        /// Whether something exists there.
        public var exists: Bool
        public var isDirectory: Bool
    }

    /// The longest path a tool accepts, in bytes.
    public static let maximumPathLength = 4096

    /// Resolves `path` (relative to the root, or absolute inside it) and refuses, naming
    /// the rule, anything that would leave the workspace: `..` past the root, absolute paths
    /// elsewhere, symlinks that point outside (directly, through a chain, or through a
    /// parent directory), NUL bytes, overlong paths, device files, FIFOs and sockets, and
    /// for writes anything inside `.git/`.
    public func resolve(_ path: String, for access: Access, tool: String) throws(ToolError) -> Path {
        func refuse(_ rule: String, _ message: String) -> ToolError {
            ToolError(.refused, tool: tool, message, rule: rule)
        }
        if access == .write, let readOnlyReason { throw refuse("read-only", readOnlyReason) }
        if path.utf8.contains(0) { throw refuse("nul-byte", "the path contains a NUL byte") }
        if path.utf8.count > Self.maximumPathLength {
            throw refuse("path-too-long", "the path is longer than \(Self.maximumPathLength) bytes")
        }
        var relativePath = Substring(path)
        if path.hasPrefix("/") {
            if path == root || path.hasPrefix(root + "/") {
                relativePath = path.dropFirst(root.count)
            } else {
                throw refuse("outside-workspace", "\(path) is outside the workspace \(root.isEmpty ? "/" : root)")
            }
        }
        var components: [Substring] = []
        for component in relativePath.split(separator: "/", omittingEmptySubsequences: true) {
            if component.utf8.count > 255 {
                throw refuse("path-too-long", "a path component is longer than 255 bytes")
            }
            switch component {
            case ".": continue
            case "..":
                if components.popLast() == nil {
                    throw refuse("parent-escape", "'\(path)' climbs out of the workspace with '..'")
                }
            default: components.append(component)
            }
        }

        // Walk from the root, resolving each symlink on the way and checking where it lands.
        var current = root
        var info = stat()
        var index = 0
        var exists = true
        while index < components.count {
            let next = current + "/" + components[index]
            if lstat(next, &info) != 0 {
                exists = false
                break
            }
            if info.st_mode & S_IFMT == S_IFLNK {
                guard let target = Self.realPath(next) else {
                    throw refuse(
                        "symlink-dangling",
                        "'\(components[...index].joined(separator: "/"))' is a symlink to nothing; it could point anywhere"
                    )
                }
                guard contains(target) else {
                    throw refuse(
                        "symlink-escape",
                        "'\(components[...index].joined(separator: "/"))' is a symlink that leaves the workspace (to \(target))"
                    )
                }
                current = target
            } else {
                current = next
            }
            index += 1
        }
        let absolute = ([current] + components[index...].map(String.init)).joined(separator: "/")
        let relative = absolute == root ? "" : String(absolute.dropFirst(root.count + 1))
        if access == .write,
            relative == ".git" || relative.hasPrefix(".git/") || relative.contains("/.git/")
                || relative.hasSuffix("/.git")
        {
            throw refuse("git-directory", "tools may not write inside .git/ ('\(path)')")
        }
        var isDirectory = false
        if exists {
            guard stat(absolute, &info) == 0 else { throw refuse("unreadable", "cannot stat '\(path)'") }
            switch info.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: isDirectory = true
            default: throw refuse("special-file", "'\(path)' is a device, FIFO or socket, not a file")
            }
        }
        return Path(
            absolute: absolute.isEmpty ? "/" : absolute, relative: relative, exists: exists, isDirectory: isDirectory)
    }

    /// Whether a real (symlink-free) absolute path is the root or below it.
    public func contains(_ realPath: String) -> Bool {
        root.isEmpty || realPath == root || realPath.hasPrefix(root + "/")
    }

    package static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
