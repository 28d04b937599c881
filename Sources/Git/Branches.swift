internal import CGit2

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

public struct Branch: Sendable, Hashable {
    public var name: String
    public var commit: ObjectID
    /// Whether HEAD names this branch.
    public var isCheckedOut: Bool
}

/// What a commit made by ``Repository/commit(_:)`` contains.
public enum CommitContent: Sendable, Hashable {
    /// The index, as `git commit` commits it.
    case staged
    /// These paths as they are in the work tree (a missing file is deleted), on top of the
    /// branch's tip; the rest of the tree is the tip's.
    case paths([String])
    /// A unified diff applied to the branch's tip, without the work tree or the index.
    case patch(String)
}

extension Repository {
    /// The local branches, sorted by name.
    public func branches() throws -> [Branch] {
        var iterator: OpaquePointer?
        try check(git_branch_iterator_new(&iterator, handle, GIT_BRANCH_LOCAL), "list branches")
        defer { git_branch_iterator_free(iterator) }
        var branches: [Branch] = []
        var reference: OpaquePointer?
        var type = GIT_BRANCH_LOCAL
        while true {
            let result = git_branch_next(&reference, &type, iterator)
            if result == GIT_ITEROVER.rawValue { break }
            try check(result, "list branches")
            defer { git_reference_free(reference) }
            var name: UnsafePointer<CChar>?
            try check(git_branch_name(&name, reference), "read a branch name")
            var resolved: OpaquePointer?
            guard git_reference_resolve(&resolved, reference) == 0, let target = git_reference_target(resolved) else {
                continue
            }
            defer { git_reference_free(resolved) }
            branches.append(
                Branch(
                    name: String(cString: name!), commit: ObjectID(target),
                    isCheckedOut: git_branch_is_head(reference) == 1))
        }
        return branches.sorted { $0.name < $1.name }
    }

    /// The tip of a local branch, or `nil` when there is no such branch.
    public func branchTip(_ name: String) throws -> ObjectID? {
        var reference: OpaquePointer?
        let result = git_branch_lookup(&reference, handle, name, GIT_BRANCH_LOCAL)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "look up branch \(name)")
        defer { git_reference_free(reference) }
        var resolved: OpaquePointer?
        try check(git_reference_resolve(&resolved, reference), "resolve branch \(name)")
        defer { git_reference_free(resolved) }
        return git_reference_target(resolved).map(ObjectID.init)
    }

    public static func isValidBranchName(_ name: String) -> Bool {
        _ = libgit2Initialized
        var valid: Int32 = 0
        return git_branch_name_is_valid(&valid, name) == 0 && valid == 1
    }

    /// Creates a branch at a revision without checking it out.
    @discardableResult
    public func createBranch(_ name: String, at revision: String = "HEAD") throws -> Branch {
        guard Self.isValidBranchName(name) else {
            throw GitError(
                code: GitError.invalidSpec, message: "'\(name)' is not a valid branch name",
                operation: "create a branch")
        }
        var object: OpaquePointer?
        try check(git_revparse_single(&object, handle, revision), "resolve '\(revision)'")
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        try check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "find a commit at '\(revision)'")
        defer { git_object_free(commit) }
        var reference: OpaquePointer?
        try check(git_branch_create(&reference, handle, name, commit, 0), "create branch \(name)")
        defer { git_reference_free(reference) }
        return Branch(name: name, commit: ObjectID(git_commit_id(commit)), isCheckedOut: false)
    }

    /// Commits `content` on `branch`, creating the branch at HEAD when it does not exist,
    /// without checking anything out. Committing on the checked-out branch also updates the
    /// index, as `git commit` does.
    ///
    /// The committer and author come from the repository's configuration (`user.name`,
    /// `user.email`), or are `Switchyard <switchyard@localhost>` when it has none.
    public func commit(_ content: CommitContent, on branch: String, message: String) throws -> Commit {
        guard Self.isValidBranchName(branch) else {
            throw GitError(
                code: GitError.invalidSpec, message: "'\(branch)' is not a valid branch name", operation: "commit")
        }
        let head = try self.head()
        let tip = try branchTip(branch)
        let parent = tip ?? head.commit
        let checkedOut = head.branchName == branch

        var repositoryIndex: OpaquePointer?
        try check(git_repository_index(&repositoryIndex, handle), "read the index")
        defer { git_index_free(repositoryIndex) }

        var tree = git_oid()
        switch content {
        case .staged:
            if let tip, tip != head.commit {
                throw GitError(
                    code: -1,
                    message:
                        "branch \(branch) is not at HEAD, and the staged changes are relative to HEAD; commit given paths instead",
                    operation: "commit on \(branch)")
            }
            try check(git_index_write_tree(&tree, repositoryIndex), "write the index as a tree")
        case .paths(let paths):
            var index: OpaquePointer?
            try check(git_index_new(&index), "make an index")
            defer { git_index_free(index) }
            if let parent {
                let base = try self.commit(parent).tree
                var treeOID = try base.gitOID()
                var baseTree: OpaquePointer?
                try check(git_tree_lookup(&baseTree, handle, &treeOID), "read the tree of \(parent.short)")
                defer { git_tree_free(baseTree) }
                try check(git_index_read_tree(index, baseTree), "read the tree of \(parent.short)")
            }
            for path in paths {
                try stage(path, into: index!)
                if checkedOut { try stageInRepositoryIndex(path, repositoryIndex!) }
            }
            try check(git_index_write_tree_to(&tree, index, handle), "write the new tree")
            if checkedOut { try check(git_index_write(repositoryIndex), "write the index") }
        case .patch(let patch):
            guard !checkedOut else {
                throw GitError(
                    code: -1,
                    message: "\(branch) is checked out: apply the patch to the work tree and commit its paths instead",
                    operation: "commit on \(branch)")
            }
            guard let parent else {
                throw GitError(code: -1, message: "there is no commit to apply the patch to", operation: "commit")
            }
            var treeOID = try self.commit(parent).tree.gitOID()
            var baseTree: OpaquePointer?
            try check(git_tree_lookup(&baseTree, handle, &treeOID), "read the tree of \(parent.short)")
            defer { git_tree_free(baseTree) }
            try withParsedPatch(patch) { diff in
                var applied: OpaquePointer?
                try check(
                    git_apply_to_tree(&applied, handle, baseTree, diff, nil), "apply the patch to \(parent.short)")
                defer { git_index_free(applied) }
                try check(git_index_write_tree_to(&tree, applied, handle), "write the new tree")
            }
        }

        if let parent, try self.commit(parent).tree == ObjectID(&tree) {
            throw GitError(
                code: -1, message: "nothing to commit: the tree is the same as \(parent.short)'s",
                operation: "commit on \(branch)")
        }
        var signature: UnsafeMutablePointer<git_signature>?
        if git_signature_default(&signature, handle) < 0 {
            try check(git_signature_now(&signature, "Switchyard", "switchyard@localhost"), "make a signature")
        }
        defer { git_signature_free(signature) }
        var treePointer: OpaquePointer?
        try check(git_tree_lookup(&treePointer, handle, &tree), "read the new tree")
        defer { git_tree_free(treePointer) }
        var parentPointer: OpaquePointer?
        if let parent {
            var oid = try parent.gitOID()
            try check(git_commit_lookup(&parentPointer, handle, &oid), "read the parent commit")
        }
        defer { git_commit_free(parentPointer) }
        var parents: [OpaquePointer?] = parentPointer.map { [$0] } ?? []
        var id = git_oid()
        _ = try parents.withUnsafeMutableBufferPointer { buffer in
            try check(
                git_commit_create(
                    &id, handle, "refs/heads/\(branch)", signature, signature, nil, message, treePointer, buffer.count,
                    buffer.baseAddress), "commit on \(branch)")
        }
        return try self.commit(ObjectID(&id))
    }

    /// Puts the work tree's version of `path` into an in-memory index, or removes it there
    /// when the work tree has no such file.
    private func stage(_ path: String, into index: OpaquePointer) throws {
        guard let workdir else {
            throw GitError(code: -1, message: "a bare repository has no work tree", operation: "commit \(path)")
        }
        var info = stat()
        if lstat(workdir + path, &info) != 0 {
            let result = git_index_remove_bypath(index, path)
            try check(result, "remove \(path) from the commit")
            return
        }
        var entry = git_index_entry()
        try check(git_blob_create_from_workdir(&entry.id, handle, path), "store \(path)")
        switch info.st_mode & S_IFMT {
        case S_IFLNK: entry.mode = 0o120000
        case S_IFREG: entry.mode = info.st_mode & 0o100 != 0 ? 0o100755 : 0o100644
        default:
            throw GitError(code: -1, message: "\(path) is not a file", operation: "commit \(path)")
        }
        entry.file_size = UInt32(truncatingIfNeeded: info.st_size)
        try path.withCString { pathPointer in
            entry.path = pathPointer
            try check(git_index_add(index, &entry), "add \(path) to the commit")
        }
    }

    private func stageInRepositoryIndex(_ path: String, _ index: OpaquePointer) throws {
        guard let workdir else { return }
        var info = stat()
        if lstat(workdir + path, &info) != 0 {
            try check(git_index_remove_bypath(index, path), "remove \(path) from the index")
        } else {
            try check(git_index_add_bypath(index, path), "add \(path) to the index")
        }
    }
}

extension ObjectID {
    init(_ oid: inout git_oid) {
        self = withUnsafePointer(to: &oid) { ObjectID($0) }
    }
}
