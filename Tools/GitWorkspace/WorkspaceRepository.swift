import Foundation
public import Git
public import Switchyard

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The workspace's own git repository, and only if libgit2 stays inside the workspace with it.
///
/// A hostile repository can point libgit2 elsewhere without any tool asking it to:
/// `core.worktree` moves the work tree, a `gitdir:` file or a linked work tree's `commondir`
/// moves the repository, `objects/info/alternates` borrows another repository's objects, and a
/// symlink inside `.git` (`objects`, a pack, `refs`) does any of these. Each is refused, naming
/// the rule, before a git tool reads anything.
extension Workspace {
    public func openRepository(tool: String) throws(ToolError) -> Repository {
        let root = self.root.isEmpty ? "/" : self.root
        let repository: Repository
        do {
            repository = try Repository(path: root)
        } catch {
            throw ToolError(.unavailable, tool: tool, "the workspace is not the root of a git repository")
        }
        func refuse(_ message: String) -> ToolError {
            ToolError(.refused, tool: tool, message, rule: "repository-escape")
        }
        func inside(_ path: String) -> Bool { Self.realPath(path).map(contains) ?? false }

        if let workdir = repository.workdir, Self.realPath(workdir) != root {
            throw refuse(
                "the repository's work tree is \(workdir), not the workspace (core.worktree); git tools work only on the workspace's own"
            )
        }
        for (what, directory) in [
            ("git directory", repository.gitDirectory), ("common directory", repository.commonDirectory),
        ]
        where !inside(directory) {
            throw refuse(
                "the repository's \(what) \(directory) is outside the workspace (a gitdir: or commondir file points there)"
            )
        }
        let common =
            repository.commonDirectory.hasSuffix("/") ? repository.commonDirectory : repository.commonDirectory + "/"
        if let alternates = try? String(contentsOfFile: common + "objects/info/alternates", encoding: .utf8) {
            for line in alternates.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
                let path = line.hasPrefix("/") ? String(line) : common + "objects/" + line
                if !inside(path) {
                    throw refuse("objects/info/alternates borrows objects from \(line), outside the workspace")
                }
            }
        }
        for directory in Set([repository.gitDirectory, common]) {
            if let link = Self.symlinkOut(below: directory, within: self, budget: 20_000) {
                throw refuse("\(link) is a symlink that leaves the workspace")
            }
        }
        return repository
    }

    /// The first symlink below `directory` whose target is outside the workspace, looking at
    /// no more than `budget` entries (a repository's loose objects can be many; packs, refs and
    /// the top level come first).
    static func symlinkOut(below directory: String, within workspace: Workspace, budget: Int) -> String? {
        var remaining = budget
        var queue = [directory.hasSuffix("/") ? String(directory.dropLast()) : directory]
        while let current = queue.first, remaining > 0 {
            queue.removeFirst()
            guard let stream = opendir(current) else { continue }
            defer { closedir(stream) }
            while let entry = readdir(stream), remaining > 0 {
                remaining -= 1
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
                }
                if name == "." || name == ".." { continue }
                let path = current + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFLNK:
                    // A dangling link could be pointed anywhere later; only one inside counts as inside.
                    if !(realPath(path).map(workspace.contains) ?? false) { return path }
                case S_IFDIR:
                    // Object fan-out directories last: the ones that name other places come first.
                    if name.count == 2 { queue.append(path) } else { queue.insert(path, at: 0) }
                default: break
                }
            }
        }
        return nil
    }
}
