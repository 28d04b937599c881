internal import CGit2

/// libgit2's global state, initialised once for the process.
let libgit2Initialized: Bool = {
    git_libgit2_init()
    // Like git itself, trust the object database's own checksums instead of hashing every
    // object again as it is read (SHA-1 with collision detection is slow).
    sy_git_disable_read_verification()
    return true
}()

/// The object id of a commit, tree, blob or tag.
public struct ObjectID: Sendable, Hashable, CustomStringConvertible {
    /// Lower-case hexadecimal, 40 digits for SHA-1 repositories.
    public var hex: String

    public init(hex: String) { self.hex = hex }

    init(_ oid: UnsafePointer<git_oid>) {
        var buffer = [CChar](repeating: 0, count: Int(GIT_OID_HEXSZ) + 1)
        git_oid_tostr(&buffer, buffer.count, oid)
        self.hex = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { hex }
    public var short: String { String(hex.prefix(12)) }
}

/// Where HEAD points.
public enum Head: Sendable, Equatable {
    /// HEAD names a branch that has commits.
    case branch(name: String, commit: ObjectID)
    /// HEAD points at a commit directly.
    case detached(commit: ObjectID)
    /// HEAD names a branch that has no commit yet (a fresh repository).
    case unborn(branch: String)

    public var commit: ObjectID? {
        switch self {
        case .branch(_, let commit), .detached(let commit): commit
        case .unborn: nil
        }
    }

    /// The branch's short name (`main`), or `nil` when HEAD is detached.
    public var branchName: String? {
        switch self {
        case .branch(let name, _), .unborn(let name): name
        case .detached: nil
        }
    }
}

public struct Signature: Sendable, Hashable {
    public var name: String
    public var email: String
    /// Seconds since 1970.
    public var time: Int64
    /// Offset from UTC in minutes.
    public var timeZoneOffset: Int32
}

/// A commit, copied out of the repository.
public struct Commit: Sendable, Equatable {
    public var id: ObjectID
    public var message: String
    public var summary: String
    public var author: Signature
    public var committer: Signature
    public var parents: [ObjectID]
    public var tree: ObjectID
}

/// A git repository on disk.
///
/// Not `Sendable`: a libgit2 repository must not be used from two threads at once, so
/// confine it to one actor.
public final class Repository {
    let handle: OpaquePointer

    /// Opens the repository at `path`, or, with `discover`, the one that contains it.
    public init(path: String, discover: Bool = false) throws {
        _ = libgit2Initialized
        var repository: OpaquePointer?
        let flags = discover ? 0 : GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue
        try check(git_repository_open_ext(&repository, path, flags, nil), "open a repository at \(path)")
        self.handle = repository!
    }

    deinit {
        git_repository_free(handle)
    }

    /// The working directory, with a trailing slash; `nil` for a bare repository.
    public var workdir: String? { git_repository_workdir(handle).map { String(cString: $0) } }

    /// The `.git` directory (or the repository itself when bare), with a trailing slash.
    public var gitDirectory: String { String(cString: git_repository_path(handle)) }

    public var isBare: Bool { git_repository_is_bare(handle) == 1 }

    /// The directory shared by all work trees of the repository (the `.git` directory, unless
    /// this is a linked work tree), with a trailing slash.
    public var commonDirectory: String { String(cString: git_repository_commondir(handle)) }

    public func head() throws -> Head {
        if try check(git_repository_head_unborn(handle), "read HEAD") == 1 {
            var reference: OpaquePointer?
            try check(git_reference_lookup(&reference, handle, "HEAD"), "read HEAD")
            defer { git_reference_free(reference) }
            let target = git_reference_symbolic_target(reference).map { String(cString: $0) } ?? "HEAD"
            return .unborn(branch: Self.shortBranchName(target))
        }
        var reference: OpaquePointer?
        try check(git_repository_head(&reference, handle), "read HEAD")
        defer { git_reference_free(reference) }
        guard let target = git_reference_target(reference) else {
            throw GitError(code: -1, message: "HEAD is not a direct reference", operation: "read HEAD")
        }
        let commit = ObjectID(target)
        if git_repository_head_detached(handle) == 1 {
            return .detached(commit: commit)
        }
        return .branch(name: String(cString: git_reference_shorthand(reference)), commit: commit)
    }

    /// Resolves a revision (`HEAD~2`, a branch, a tag, an abbreviated id) to the id of
    /// the object it names; tags are peeled to what they point at.
    public func resolve(_ revision: String) throws -> ObjectID {
        var object: OpaquePointer?
        try check(git_revparse_single(&object, handle, revision), "resolve '\(revision)'")
        defer { git_object_free(object) }
        var peeled: OpaquePointer?
        if git_object_type(object) == GIT_OBJECT_TAG {
            try check(git_object_peel(&peeled, object, GIT_OBJECT_ANY), "peel tag '\(revision)'")
        }
        defer { git_object_free(peeled) }
        return ObjectID(git_object_id(peeled ?? object))
    }

    /// The commit a revision names.
    public func commit(_ revision: String) throws -> Commit {
        var object: OpaquePointer?
        try check(git_revparse_single(&object, handle, revision), "resolve '\(revision)'")
        defer { git_object_free(object) }
        var peeled: OpaquePointer?
        try check(git_object_peel(&peeled, object, GIT_OBJECT_COMMIT), "find a commit at '\(revision)'")
        defer { git_object_free(peeled) }
        return Commit(peeled!)
    }

    /// Whether the working tree or index differs from HEAD, untracked files included
    /// (ignored files are not).
    public func isDirty() throws -> Bool {
        var options = git_status_options()
        try check(git_status_options_init(&options, UInt32(GIT_STATUS_OPTIONS_VERSION)), "read the status")
        options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR
        options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue | GIT_STATUS_OPT_EXCLUDE_SUBMODULES.rawValue
        var list: OpaquePointer?
        try check(git_status_list_new(&list, handle, &options), "read the status")
        defer { git_status_list_free(list) }
        return git_status_list_entrycount(list) > 0
    }

    /// The libgit2 library's version, such as `1.5.1`.
    public static var libraryVersion: String {
        _ = libgit2Initialized
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        git_libgit2_version(&major, &minor, &revision)
        return "\(major).\(minor).\(revision)"
    }

    private static func shortBranchName(_ reference: String) -> String {
        let prefix = "refs/heads/"
        return reference.hasPrefix(prefix) ? String(reference.dropFirst(prefix.count)) : reference
    }
}

extension Commit {
    /// Copies a `git_commit`.
    init(_ commit: OpaquePointer) {
        let parents = (0..<git_commit_parentcount(commit)).compactMap { index in
            git_commit_parent_id(commit, index).map(ObjectID.init)
        }
        self.init(
            id: ObjectID(git_commit_id(commit)),
            message: git_commit_message(commit).map { String(cString: $0) } ?? "",
            summary: git_commit_summary(commit).map { String(cString: $0) } ?? "",
            author: Signature(git_commit_author(commit)),
            committer: Signature(git_commit_committer(commit)),
            parents: parents,
            tree: ObjectID(git_commit_tree_id(commit))
        )
    }
}

extension Signature {
    init(_ signature: UnsafePointer<git_signature>?) {
        guard let signature else {
            self.init(name: "", email: "", time: 0, timeZoneOffset: 0)
            return
        }
        self.init(
            name: String(cString: signature.pointee.name),
            email: String(cString: signature.pointee.email),
            time: signature.pointee.when.time,
            timeZoneOffset: signature.pointee.when.offset
        )
    }
}
