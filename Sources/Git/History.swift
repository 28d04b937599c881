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
        var walk = HistoryWalk(repository: self)
        try walk.push(RawID(try resolve(query.start).gitOID()))
        let path = query.path.flatMap { $0.isEmpty || $0 == "." ? nil : $0 }
        let author = query.author?.lowercased()
        var commits: [Commit] = []
        while let (id, node) = try walk.next() {
            if let limit = query.limit, commits.count >= limit { break }
            var parents = node.parents
            var shown = true
            if let path {
                let own = try walk.entry(at: path, of: id)
                if parents.isEmpty {
                    shown = own != nil
                } else if let same = try parents.first(where: { try walk.entry(at: path, of: $0) == own }) {
                    shown = false
                    parents = [same]
                }
            }
            for parent in parents { try walk.push(parent) }
            if !shown { continue }
            if let since = query.since, node.time < since { continue }
            let commit = try self.commit(id.objectID)
            if let author, !"\(commit.author.name) <\(commit.author.email)>".lowercased().contains(author) { continue }
            commits.append(commit)
        }
        return commits
    }
}

/// An object id as three integers: cheap to hash and compare.
struct RawID: Hashable {
    var high: UInt64
    var middle: UInt64
    var low: UInt32

    init(_ oid: git_oid) {
        var copy = oid
        (high, middle, low) = withUnsafeBytes(of: &copy.id) { bytes in
            (
                bytes.load(as: UInt64.self), bytes.load(fromByteOffset: 8, as: UInt64.self),
                bytes.load(fromByteOffset: 16, as: UInt32.self)
            )
        }
    }

    var oid: git_oid {
        var oid = git_oid()
        withUnsafeMutableBytes(of: &oid.id) { bytes in
            bytes.storeBytes(of: high, as: UInt64.self)
            bytes.storeBytes(of: middle, toByteOffset: 8, as: UInt64.self)
            bytes.storeBytes(of: low, toByteOffset: 16, as: UInt32.self)
        }
        return oid
    }

    var objectID: ObjectID {
        var oid = self.oid
        return ObjectID(&oid)
    }
}

/// A date-ordered walk over commits, each visited once, reading only what the walk needs.
private struct HistoryWalk {
    struct Node {
        var time: Int64
        var parents: [RawID]
        var tree: RawID
    }

    let repository: Repository
    private var queue: [(time: Int64, order: Int, id: RawID)] = []
    private var seen: Set<RawID> = []
    private var arrivals = 0
    private var nodes: [RawID: Node] = [:]
    private var entries: [RawID: RawID?] = [:]

    init(repository: Repository) { self.repository = repository }

    mutating func push(_ id: RawID) throws {
        guard seen.insert(id).inserted else { return }
        let node = try lookup(id)
        arrivals += 1
        let item = (time: node.time, order: arrivals, id: id)
        // The queue is kept with the next commit to show at its end: binary search for the
        // first item that comes before this one.
        var low = 0
        var high = queue.count
        while low < high {
            let middle = (low + high) / 2
            let other = queue[middle]
            if other.time != item.time ? other.time < item.time : other.order > item.order {
                low = middle + 1
            } else {
                high = middle
            }
        }
        queue.insert(item, at: low)
    }

    mutating func next() throws -> (RawID, Node)? {
        guard let id = queue.popLast()?.id else { return nil }
        return (id, try lookup(id))
    }

    /// The id of the tree entry at `path` in a commit's tree, `nil` when there is none.
    mutating func entry(at path: String, of id: RawID) throws -> RawID? {
        if let cached = entries[id] { return cached }
        var treeOID = try lookup(id).tree.oid
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, repository.handle, &treeOID), "read a tree")
        defer { git_tree_free(tree) }
        var entry: OpaquePointer?
        let result = git_tree_entry_bypath(&entry, tree, path)
        var found: RawID?
        if result != GIT_ENOTFOUND.rawValue {
            try check(result, "look up \(path)")
            found = RawID(git_tree_entry_id(entry).pointee)
            git_tree_entry_free(entry)
        }
        entries[id] = .some(found)
        return found
    }

    private mutating func lookup(_ id: RawID) throws -> Node {
        if let node = nodes[id] { return node }
        var oid = id.oid
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, repository.handle, &oid), "read a commit")
        defer { git_commit_free(commit) }
        let parents = (0..<git_commit_parentcount(commit)).compactMap { index in
            git_commit_parent_id(commit, index).map { RawID($0.pointee) }
        }
        let node = Node(
            time: git_commit_time(commit), parents: parents, tree: RawID(git_commit_tree_id(commit).pointee))
        nodes[id] = node
        return node
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
}

extension ObjectID {
    func gitOID() throws -> git_oid {
        var oid = git_oid()
        try check(git_oid_fromstr(&oid, hex), "read object id '\(hex)'")
        return oid
    }
}
