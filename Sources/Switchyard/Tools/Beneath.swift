internal import CBeneath
public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file descriptor, closed with the last reference to it.
public final class Descriptor: Sendable {
    public let raw: Int32

    init(_ raw: Int32) { self.raw = raw }

    /// `path` opened for reading as it is named, not beneath any root: for a file the user
    /// names on the command line.
    public convenience init(reading path: String) throws(Errno) {
        let raw = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard raw >= 0 else { throw Errno(errno) }
        self.init(raw)
    }

    deinit { close(raw) }

    /// Where the descriptor's file is now, as the kernel names it (`/proc/self/fd`), or `nil`
    /// where that cannot be read.
    var location: String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(raw)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The file's size in bytes; `nil` when it cannot be read.
    public var size: Int? { status.map { Int($0.st_size) } }

    /// The file's status; `nil` when it cannot be read.
    var status: stat? {
        var info = stat()
        return fstat(raw, &info) == 0 ? info : nil
    }

    /// Every byte from the current offset to the end, read straight into the result (sized by
    /// `sizeHint`, grown if the file is longer).
    public func readAll(sizeHint: Int? = nil) throws(Errno) -> Data {
        let sizeHint = sizeHint ?? status.map { Int($0.st_size) } ?? 0
        var data = Data(count: max(sizeHint, 0) + 1)
        var filled = 0
        while true {
            if filled == data.count { data.count *= 2 }
            let count = data.withUnsafeMutableBytes { read(raw, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Errno(errno)
            }
            if count == 0 { break }
            filled += count
        }
        data.count = filled
        return data
    }

    /// Writes all of `data`.
    func writeAll(_ data: Data) throws(Errno) {
        var failure: Int32?
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(raw, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if let failure { throw Errno(failure) }
    }
}

private func openPath(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }

extension Descriptor {
    /// Refuses a descriptor that is not a regular file's (a directory, a FIFO, a device).
    func requireRegularFile(_ shown: String, tool: String) throws(ToolError) {
        guard let info = status, info.st_mode & S_IFMT == S_IFREG else {
            throw ToolError(.refused, tool: tool, "'\(shown)' is not a regular file", rule: "special-file")
        }
    }

    /// Every byte of the regular file, or the tool's error naming it `shown`.
    func contents(_ shown: String, tool: String) throws(ToolError) -> Data {
        try requireRegularFile(shown, tool: tool)
        do {
            return try readAll()
        } catch {
            throw ToolError(.failed, tool: tool, "cannot read \(shown): \(error)")
        }
    }
}

/// A system call's error number.
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
}

/// Opening files beneath the workspace's root: the kernel resolves every component of a path
/// from the root's descriptor (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`), so a
/// `..` or a symlink that leads out fails even when it was swapped in after ``resolve(_:for:tool:)``
/// checked the path. Tools read, write and list through the descriptors these return, never
/// through the path again. On a kernel without `openat2` (before Linux 5.6) every component is
/// opened with `O_NOFOLLOW`, so that any symlink on the way is refused.
extension Workspace {
    /// A descriptor of the root directory itself, for opening many files beneath it with
    /// ``openFile(_:in:reading:tool:)``.
    public func rootDescriptor(tool: String) throws(ToolError) -> Descriptor {
        let raw = openPath(root.isEmpty ? "/" : root, sy_o_path() | O_DIRECTORY | O_CLOEXEC)
        guard raw >= 0 else {
            throw ToolError(.failed, tool: tool, "cannot open the workspace \(root): \(Errno(errno))")
        }
        return Descriptor(raw)
    }

    /// Opens `relative` (below the root; `""` is the root) with `flags`, resolved beneath the
    /// root by the kernel.
    func open(beneath relative: String, flags: Int32, tool: String) throws(ToolError) -> Descriptor {
        try Self.open(relative.isEmpty ? "." : relative, in: try rootDescriptor(tool: tool), flags: flags, tool: tool)
    }

    /// Opens `relative` beneath `directory`. `EAGAIN` (a rename raced the lookup) is retried.
    static func open(_ relative: String, in directory: Descriptor, flags: Int32, mode: mode_t = 0, tool: String)
        throws(ToolError) -> Descriptor
    {
        var attempts = 0
        while true {
            let raw = sy_open_beneath(directory.raw, relative, flags | O_CLOEXEC, UInt32(mode))
            if raw >= 0 { return Descriptor(raw) }
            let code = errno
            switch code {
            case EAGAIN where attempts < 16, EINTR where attempts < 16:
                attempts += 1
                continue
            case ENOSYS:
                return try openWithoutFollowing(relative, in: directory, flags: flags, mode: mode, tool: tool)
            default:
                throw error(code, relative, tool: tool)
            }
        }
    }

    /// The walk for kernels without `openat2`: one component at a time, none followed.
    private static func openWithoutFollowing(
        _ relative: String, in directory: Descriptor, flags: Int32, mode: mode_t, tool: String
    ) throws(ToolError) -> Descriptor {
        let components = relative.split(separator: "/").filter { $0 != "." }
        var current = directory
        for (index, component) in components.enumerated() {
            if component == ".." { throw error(EXDEV, relative, tool: tool) }
            let last = index == components.count - 1
            let raw = openat(
                current.raw, String(component),
                (last ? flags : sy_o_path() | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC, mode)
            guard raw >= 0 else { throw error(errno, relative, tool: tool) }
            current = Descriptor(raw)
        }
        if components.isEmpty {
            let raw = openat(directory.raw, ".", flags | O_CLOEXEC, mode)
            guard raw >= 0 else { throw error(errno, relative, tool: tool) }
            return Descriptor(raw)
        }
        return current
    }

    private static func error(_ code: Int32, _ relative: String, tool: String) -> ToolError {
        switch code {
        case EXDEV, ELOOP:
            ToolError(
                .refused, tool: tool,
                "'\(relative)' leads out of the workspace through a symlink (it changed after it was checked, or the kernel cannot follow it safely)",
                rule: "symlink-escape")
        case ENOENT: ToolError(.notFound, tool: tool, "\(relative) does not exist in the workspace")
        case ENOTDIR: ToolError(.invalidArguments, tool: tool, "a part of '\(relative)' is not a directory")
        default: ToolError(.failed, tool: tool, "cannot open '\(relative)': \(Errno(code))")
        }
    }

    /// The bytes of the regular file at `path` (already resolved), read through a descriptor
    /// opened beneath the root.
    public func contents(of path: Path, tool: String) throws(ToolError) -> Data {
        try open(beneath: path.relative, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY, tool: tool)
            .contents(path.relative, tool: tool)
    }

    /// The regular file `relative` (below the root, as another program reported it), opened
    /// beneath `root`: for reading, or with `reading` false only to prove it is there (O_PATH).
    public func openFile(_ relative: String, in root: Descriptor, reading: Bool, tool: String) throws(ToolError)
        -> Descriptor
    {
        let file = try Self.open(
            relative, in: root, flags: reading ? O_RDONLY | O_NONBLOCK | O_NOCTTY : sy_o_path(), tool: tool)
        try file.requireRegularFile(relative, tool: tool)
        return file
    }

    /// A directory at `path` (already resolved), opened beneath the root for listing.
    public func openDirectory(_ path: Path, tool: String) throws(ToolError) -> Descriptor {
        try open(beneath: path.relative, flags: O_RDONLY | O_DIRECTORY, tool: tool)
    }

    /// Opens a file for writing: the rules of ``resolve(_:for:tool:)`` first, then its parent
    /// directory is opened beneath the root and kept, and the file is read and replaced
    /// through that descriptor (the name is never followed if it turns into a symlink).
    public func openForWriting(_ path: String, tool: String) throws(ToolError) -> FileForWriting {
        let resolved = try resolve(path, for: .write, tool: tool)
        guard !resolved.relative.isEmpty, !resolved.isDirectory else {
            throw ToolError(.invalidArguments, tool: tool, "\(path) is a directory")
        }
        var components = resolved.relative.split(separator: "/").map(String.init)
        let name = components.removeLast()
        var file = FileForWriting(workspace: self, path: resolved, directories: components, name: name, tool: tool)
        file.opened = try file.openParent(creating: false)
        if let parent = file.opened { try file.checkOutsideGit(parent) }
        return file
    }
}

/// A file about to be written, named by its parent directory's descriptor and its name.
public struct FileForWriting {
    let workspace: Workspace
    public let path: Workspace.Path
    /// The parent's path below the root, one component each.
    let directories: [String]
    let name: String
    let tool: String
    /// The parent directory, opened once when the file was opened for writing; `nil` when it
    /// did not exist then (``write(_:executable:)`` makes it).
    var opened: Descriptor?

    /// The parent directory: the one opened with the file, or, when there was none, opened
    /// (with `creating`, made first) now.
    func parent(creating: Bool) throws(ToolError) -> Descriptor? {
        if let opened { return opened }
        return try openParent(creating: creating)
    }

    /// Opens the parent directory beneath the root, each level beneath the one above; with
    /// `creating`, made first, else `nil` when it does not exist.
    func openParent(creating: Bool) throws(ToolError) -> Descriptor? {
        var current = try workspace.rootDescriptor(tool: tool)
        for component in directories {
            if creating, mkdirat(current.raw, component, 0o755) != 0, errno != EEXIST {
                throw ToolError(.failed, tool: tool, "cannot make the directory \(component): \(Errno(errno))")
            }
            do {
                current = try Workspace.open(component, in: current, flags: sy_o_path() | O_DIRECTORY, tool: tool)
            } catch let error where error.code == .notFound && !creating {
                return nil
            }
        }
        return current
    }

    /// Refuses a parent directory that turns out to be inside `.git/`.
    func checkOutsideGit(_ parent: Descriptor) throws(ToolError) {
        guard let location = parent.location else { return }
        let inside = location == workspace.root ? "" : String(location.dropFirst(workspace.root.count + 1))
        if !workspace.contains(location) || inside.split(separator: "/").contains(".git") {
            throw ToolError(
                .refused, tool: tool, "tools may not write inside .git/ or outside the workspace ('\(path.relative)')",
                rule: "git-directory")
        }
    }

    /// Whether the file has its owner's execute bit (a file that does not exist has not).
    public func isExecutable() throws(ToolError) -> Bool {
        guard let parent = try parent(creating: false) else { return false }
        var info = stat()
        guard fstatat(parent.raw, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFREG && info.st_mode & 0o100 != 0
    }

    /// Removes the file (not a directory; a symlink under its name is removed, not followed).
    public func remove() throws(ToolError) {
        guard let parent = try parent(creating: false) else { return }
        try checkOutsideGit(parent)
        if unlinkat(parent.raw, name, 0) != 0, errno != ENOENT {
            throw ToolError(.failed, tool: tool, "cannot remove \(path.relative): \(Errno(errno))")
        }
    }

    /// The file's bytes, or `nil` when it does not exist.
    public func contents() throws(ToolError) -> Data? {
        guard let parent = try parent(creating: false) else { return nil }
        let raw = openat(parent.raw, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        if raw < 0 {
            if errno == ENOENT { return nil }
            if errno == ELOOP {
                throw ToolError(
                    .refused, tool: tool, "'\(path.relative)' became a symlink after it was checked",
                    rule: "symlink-escape")
            }
            throw ToolError(.failed, tool: tool, "cannot read \(path.relative): \(Errno(errno))")
        }
        return try Descriptor(raw).contents(path.relative, tool: tool)
    }

    /// Replaces the file so that readers see the old or the new content, never a mix: a
    /// temporary file beside it, flushed, then renamed over it, keeping its permissions. A
    /// symlink that has appeared under its name is replaced, not followed.
    /// With `executable`, the execute bits are set (or cleared) as it says; without, a new
    /// file is 0644.
    public func write(_ data: Data, executable: Bool? = nil) throws(ToolError) {
        guard let parent = try parent(creating: true) else { return }
        try checkOutsideGit(parent)
        var info = stat()
        var mode: mode_t = 0o644
        if fstatat(parent.raw, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            guard info.st_mode & S_IFMT != S_IFLNK else {
                throw ToolError(
                    .refused, tool: tool, "'\(path.relative)' became a symlink after it was checked",
                    rule: "symlink-escape")
            }
            mode = info.st_mode & 0o7777
        }
        // Executable: execute where it may be read, as git checks a file out.
        if let executable { mode = executable ? mode | (mode & 0o444) >> 2 : mode & ~0o111 }
        let temporary = ".\(name).switchyard-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let raw = openat(parent.raw, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard raw >= 0 else {
            throw ToolError(.failed, tool: tool, "cannot write beside \(path.relative): \(Errno(errno))")
        }
        let file = Descriptor(raw)
        var failure: Errno?
        do {
            try file.writeAll(data)
            if fchmod(file.raw, mode) != 0 || fsync(file.raw) != 0 { failure = Errno(errno) }
        } catch {
            failure = error
        }
        if failure == nil, renameat(parent.raw, temporary, parent.raw, name) != 0 { failure = Errno(errno) }
        if let failure {
            unlinkat(parent.raw, temporary, 0)
            throw ToolError(.failed, tool: tool, "cannot write \(path.relative): \(failure)")
        }
    }
}

/// Listing a directory through its descriptor: entries are looked at and opened relative to
/// it, never followed through a symlink.
extension Descriptor {
    /// The names in the directory, `.` and `..` left out, in no particular order.
    public func entryNames() -> [String] {
        let copy = dup(raw)
        guard copy >= 0, let stream = fdopendir(copy) else { return [] }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// What an entry of a directory is.
    public struct Entry: Sendable, Hashable {
        public enum Kind: Sendable, Hashable { case file, directory, symlink, special }
        public var kind: Kind
        /// Its size in bytes.
        public var size: Int
    }

    /// The entry `name`, a symlink's own status, not its target's; `nil` when it is gone.
    public func entry(named name: String) -> Entry? {
        var info = stat()
        guard fstatat(raw, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        let kind: Entry.Kind =
            switch info.st_mode & S_IFMT {
            case S_IFREG: .file
            case S_IFDIR: .directory
            case S_IFLNK: .symlink
            default: .special
            }
        return Entry(kind: kind, size: Int(info.st_size))
    }

    /// The subdirectory `name`, or `nil` when it is not a directory (a symlink is not).
    public func openDirectory(named name: String) -> Descriptor? {
        let child = openat(raw, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        return child >= 0 ? Descriptor(child) : nil
    }

    /// Where the symlink `name` points, as written.
    public func linkTarget(named name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(raw, name, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Workspace {
    /// Makes the directory `path` (below the root) if it is missing, and returns its absolute
    /// path, under the write rules: no `.git` component, no `..`, and no symlink on the way —
    /// each level is looked at and made through the descriptor of the one above it.
    public func makeDirectory(_ path: String, tool: String) throws(ToolError) -> String {
        func refuse(_ rule: String, _ message: String) -> ToolError {
            ToolError(.refused, tool: tool, message, rule: rule)
        }
        var current = try rootDescriptor(tool: tool)
        var made: [Substring] = []
        if path.hasPrefix("/") { throw refuse("parent-escape", "'\(path)' is not a directory inside the workspace") }
        for component in path.split(separator: "/") where component != "." {
            made.append(component)
            let shown = made.joined(separator: "/")
            if component == ".." { throw refuse("parent-escape", "'\(path)' is not a directory inside the workspace") }
            if component == ".git" {
                throw refuse("git-directory", "'\(path)' is inside .git/, which is never writable")
            }
            var info = stat()
            if fstatat(current.raw, String(component), &info, AT_SYMLINK_NOFOLLOW) != 0 {
                guard errno == ENOENT, mkdirat(current.raw, String(component), 0o755) == 0 || errno == EEXIST else {
                    throw ToolError(.failed, tool: tool, "cannot make the directory \(shown): \(Errno(errno))")
                }
            } else if info.st_mode & S_IFMT == S_IFLNK {
                throw refuse(
                    "symlink-escape", "'\(shown)' is a symlink; a writable directory is never reached through one")
            } else if info.st_mode & S_IFMT != S_IFDIR {
                throw ToolError(.invalidArguments, tool: tool, "'\(shown)' is not a directory")
            }
            current = try Self.open(
                String(component), in: current, flags: sy_o_path() | O_DIRECTORY | O_NOFOLLOW, tool: tool)
        }
        return ([root] + made.map(String.init)).joined(separator: "/")
    }

    /// The repository directory of the workspace's `.git` when it is inside the workspace (a
    /// directory, a symlink to one inside, or a `gitdir:` file naming one inside), to be
    /// mounted read-only over a writable workspace; `nil` when there is none inside.
    public func gitDirectoryInside(tool: String) throws(ToolError) -> String? {
        let git = root + "/.git"
        var info = stat()
        guard lstat(git, &info) == 0 else { return nil }
        var target = git
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return git
        case S_IFLNK: break
        case S_IFREG:
            let file = try open(beneath: ".git", flags: O_RDONLY | O_NONBLOCK, tool: tool)
            let text = String(decoding: (try? file.readAll()) ?? Data(), as: UTF8.self)
            guard let line = text.split(whereSeparator: \.isNewline).first, line.hasPrefix("gitdir:") else {
                return nil
            }
            let named = line.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
            target = named.hasPrefix("/") ? named : root + "/" + named
        default: return nil
        }
        guard let real = Self.realPath(target), contains(real), real != root else { return nil }
        return real
    }
}
