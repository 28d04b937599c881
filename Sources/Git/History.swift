internal import CGit2

/// Which commits `log` lists.
public struct LogQuery: Sendable, Hashable {
    /// Where the walk starts.
    public var start: String = "HEAD"
    public var limit: Int?
    /// Only commits that change this file or directory, with `git log -- PATH`'s history
    /// simplification.
    public var path: String?
    /// Only commits whose author's `Name <email>` contains this text (case-insensitive).
    public var author: String?
    /// Only commits committed at or after this time, in seconds since 1970.
    public var since: Int64?

    public init(
        start: String = "HEAD", limit: Int? = nil, path: String? = nil, author: String? = nil, since: Int64? = nil
    ) {
        self.start = start
        self.limit = limit
        self.path = path
        self.author = author
        self.since = since
    }
}

extension Repository {
    /// The commits reachable from `query.start`, newest first, in the order `git log`
    /// prints them.
    ///
    /// The walk is git's own: a queue ordered by committer date (ties in arrival order)
    /// from which each commit's parents are added as the commit is shown. With a path,
    /// a commit whose tree entry at that path is the same as its parent's is skipped, and a
    /// merge that matches one parent there follows only that parent.
    public func log(_ query: LogQuery) throws -> [Commit] {
        let start = try resolve(query.start)
        var walk = HistoryWalk(repository: self)
        try walk.push(start)
        let path = query.path.flatMap { $0.isEmpty || $0 == "." ? nil : $0 }
        let author = query.author?.lowercased()
        var commits: [Commit] = []
        while let (id, commit) = try walk.next() {
            if let limit = query.limit, commits.count >= limit { break }
            var parents = commit.parents
            var shown = true
            if let path {
                let own = try walk.entry(at: path, of: id, tree: commit.tree)
                if parents.isEmpty {
                    shown = own != nil
                } else {
                    var sameAs: [ObjectID] = []
                    for parent in parents where try walk.entry(at: path, of: parent) == own { sameAs.append(parent) }
                    if let first = sameAs.first {
                        shown = false
                        if parents.count > 1 { parents = [first] }
                    }
                }
            }
            for parent in parents { try walk.push(parent) }
            if !shown { continue }
            if let since = query.since, commit.committer.time < since { continue }
            if let author, !"\(commit.author.name) <\(commit.author.email)>".lowercased().contains(author) { continue }
            commits.append(commit)
        }
        return commits
    }
}

/// A date-ordered walk over commits, each visited once.
private struct HistoryWalk {
    let repository: Repository
    private var queue: [(time: Int64, order: Int, id: ObjectID)] = []
    private var seen: Set<ObjectID> = []
    private var arrivals = 0
    private var commits: [ObjectID: Commit] = [:]
    private var entries: [ObjectID: ObjectID?] = [:]

    init(repository: Repository) { self.repository = repository }

    mutating func push(_ id: ObjectID) throws {
        guard seen.insert(id).inserted else { return }
        let commit = try lookup(id)
        arrivals += 1
        let item = (time: commit.committer.time, order: arrivals, id: id)
        // Binary search for the first queued item that comes after this one.
        var low = 0
        var high = queue.count
        while low < high {
            let middle = (low + high) / 2
            if Self.before(queue[middle], item) { low = middle + 1 } else { high = middle }
        }
        queue.insert(item, at: low)
    }

    mutating func next() throws -> (ObjectID, Commit)? {
        guard !queue.isEmpty else { return nil }
        let id = queue.removeFirst().id
        let commit = try lookup(id)
        commits[id] = nil
        return (id, commit)
    }

    /// The id of the tree entry at `path` in a commit's tree, `nil` when there is none.
    mutating func entry(at path: String, of id: ObjectID, tree: ObjectID? = nil) throws -> ObjectID? {
        if let cached = entries[id] { return cached }
        let treeID = try tree ?? lookup(id).tree
        let found = try repository.treeEntry(at: path, in: treeID)
        entries[id] = .some(found)
        return found
    }

    private mutating func lookup(_ id: ObjectID) throws -> Commit {
        if let commit = commits[id] { return commit }
        let commit = try repository.commit(id)
        commits[id] = commit
        return commit
    }

    private static func before(
        _ a: (time: Int64, order: Int, id: ObjectID), _ b: (time: Int64, order: Int, id: ObjectID)
    ) -> Bool {
        a.time != b.time ? a.time > b.time : a.order < b.order
    }
}

extension Repository {
    /// The commit with this id.
    public func commit(_ id: ObjectID) throws -> Commit {
        var oid = try id.gitOID()
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, handle, &oid), "find commit \(id.short)")
        defer { git_commit_free(commit) }
        return Commit(commit!)
    }

    /// The id of the blob or tree at `path` in a tree, or `nil` when there is nothing there.
    func treeEntry(at path: String, in tree: ObjectID) throws -> ObjectID? {
        var oid = try tree.gitOID()
        var treePointer: OpaquePointer?
        try check(git_tree_lookup(&treePointer, handle, &oid), "find tree \(tree.short)")
        defer { git_tree_free(treePointer) }
        var entry: OpaquePointer?
        let result = git_tree_entry_bypath(&entry, treePointer, path)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "look up \(path) in tree \(tree.short)")
        defer { git_tree_entry_free(entry) }
        return ObjectID(git_tree_entry_id(entry))
    }
}

extension ObjectID {
    func gitOID() throws -> git_oid {
        var oid = git_oid()
        try check(git_oid_fromstr(&oid, hex), "read object id '\(hex)'")
        return oid
    }
}
