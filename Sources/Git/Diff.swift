internal import CGit2

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// What a diff compares, in `git diff`'s terms.
public enum DiffTarget: Sendable, Hashable {
    /// `git diff`: the work tree against the index.
    case workTree
    /// `git diff --cached REV`: the index against a commit's tree.
    case index(against: String = "HEAD")
    /// `git diff REV`: the work tree (through the index) against a commit's tree.
    case workTreeAgainst(String)
    /// `git diff FROM TO`.
    case revisions(from: String, to: String)
}

/// One changed file.
public struct DiffFile: Sendable, Hashable {
    public var path: String
    /// The path before a rename or copy.
    public var oldPath: String?
    /// `A`, `M`, `D`, `R`, `C` or `T`, as `git diff --name-status` prints it.
    public var status: Character
    public var insertions: Int
    public var deletions: Int
    public var isBinary: Bool
}

/// A diff as unified patch text, with per-file statistics.
public struct Diff: Sendable, Hashable {
    /// The patch, as `git diff` prints it.
    public var patch: String
    public var files: [DiffFile]
    public var insertions: Int { files.reduce(0) { $0 + $1.insertions } }
    public var deletions: Int { files.reduce(0) { $0 + $1.deletions } }
}

public struct DiffOptions: Sendable, Hashable {
    public var contextLines: Int = 3
    /// Only these paths (files or directories); all when empty.
    public var paths: [String] = []
    /// Detect renames, as `git diff` does by default.
    public var detectRenames = true

    public init(contextLines: Int = 3, paths: [String] = [], detectRenames: Bool = true) {
        self.contextLines = contextLines
        self.paths = paths
        self.detectRenames = detectRenames
    }
}

extension Repository {
    public func diff(_ target: DiffTarget, options: DiffOptions = DiffOptions()) throws -> Diff {
        try withDiff(target, options: options) { diff in try Diff(diff) }
    }

    /// A commit's diff against its first parent (against nothing for a root commit).
    public func diff(commit: Commit, options: DiffOptions = DiffOptions()) throws -> Diff {
        let to = commit.id.hex
        guard let parent = commit.parents.first else {
            return try withDiff(.revisions(from: "", to: to), options: options) { try Diff($0) }
        }
        return try withDiff(.revisions(from: parent.hex, to: to), options: options) { try Diff($0) }
    }

    func withDiff<Result>(_ target: DiffTarget, options: DiffOptions, _ body: (OpaquePointer) throws -> Result)
        throws -> Result
    {
        var diffOptions = git_diff_options()
        try check(git_diff_options_init(&diffOptions, UInt32(GIT_DIFF_OPTIONS_VERSION)), "prepare a diff")
        diffOptions.context_lines = UInt32(max(0, options.contextLines))
        var diff: OpaquePointer?
        let paths = options.paths.map { strdup($0)! }
        defer { paths.forEach { free($0) } }
        var pathPointers = paths.map { UnsafeMutablePointer<CChar>?($0) }
        try pathPointers.withUnsafeMutableBufferPointer { buffer in
            diffOptions.pathspec = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            switch target {
            case .workTree:
                try check(git_diff_index_to_workdir(&diff, handle, nil, &diffOptions), "diff the work tree")
            case .index(let revision):
                _ = try withTree(revision) { tree in
                    try check(git_diff_tree_to_index(&diff, handle, tree, nil, &diffOptions), "diff the index")
                }
            case .workTreeAgainst(let revision):
                _ = try withTree(revision) { tree in
                    try check(
                        git_diff_tree_to_workdir_with_index(&diff, handle, tree, &diffOptions),
                        "diff the work tree against \(revision)")
                }
            case .revisions(let from, let to):
                _ = try withTree(from) { old in
                    try withTree(to) { new in
                        try check(
                            git_diff_tree_to_tree(&diff, handle, old, new, &diffOptions), "diff \(from)..\(to)")
                    }
                }
            }
        }
        defer { git_diff_free(diff) }
        if options.detectRenames {
            var find = git_diff_find_options()
            try check(git_diff_find_options_init(&find, UInt32(GIT_DIFF_FIND_OPTIONS_VERSION)), "find renames")
            find.flags = GIT_DIFF_FIND_RENAMES.rawValue | GIT_DIFF_FIND_DONT_IGNORE_WHITESPACE.rawValue
            try check(git_diff_find_similar(diff, &find), "find renames")
        }
        return try body(diff!)
    }

    /// Calls `body` with the tree a revision names; with `""`, with no tree (the empty side
    /// of a root commit's diff).
    private func withTree<Result>(_ revision: String, _ body: (OpaquePointer?) throws -> Result) throws -> Result {
        if revision.isEmpty { return try body(nil) }
        var object: OpaquePointer?
        try check(git_revparse_single(&object, handle, revision), "resolve '\(revision)'")
        defer { git_object_free(object) }
        var tree: OpaquePointer?
        try check(git_object_peel(&tree, object, GIT_OBJECT_TREE), "find a tree at '\(revision)'")
        defer { git_object_free(tree) }
        return try body(tree)
    }

    /// Applies a unified diff (as `git diff` or `git format-patch` write it) to the work tree,
    /// or with `checkOnly` only checks that it applies. Nothing is written unless every hunk
    /// applies.
    public func apply(patch: String, checkOnly: Bool = false) throws {
        try withParsedPatch(patch) { diff in
            var options = git_apply_options()
            try check(git_apply_options_init(&options, UInt32(GIT_APPLY_OPTIONS_VERSION)), "apply a patch")
            if checkOnly { options.flags = GIT_APPLY_CHECK.rawValue }
            try check(git_apply(handle, diff, GIT_APPLY_LOCATION_WORKDIR, &options), "apply the patch")
        }
    }

    /// A file's content and whether it is executable, as a patch sees it.
    public struct PatchedFile: Sendable, Hashable {
        public var content: [UInt8]
        public var executable: Bool

        public init(content: [UInt8], executable: Bool = false) {
            self.content = content
            self.executable = executable
        }
    }

    /// What `patch` makes of `files` — the current content of the paths it names, a path left
    /// out being a file that does not exist — computed in memory: each path the patch names,
    /// with its new content, or `nil` where the patch deletes it. The work tree and the index
    /// are not touched (the preimage's blobs go into the object database, as `git add` would
    /// put them). Throws when a hunk does not apply.
    public func applying(patch: String, to files: [String: PatchedFile]) throws -> [String: PatchedFile?] {
        var index: OpaquePointer?
        try check(git_index_new(&index), "make an index")
        defer { git_index_free(index) }
        for (path, file) in files.sorted(by: { $0.key < $1.key }) {
            var blob = git_oid()
            _ = try file.content.withUnsafeBytes { bytes in
                try check(
                    git_blob_create_from_buffer(&blob, handle, bytes.baseAddress, bytes.count), "store \(path)")
            }
            var entry = git_index_entry()
            entry.mode = file.executable ? 0o100755 : 0o100644
            entry.id = blob
            try path.withCString { name in
                entry.path = name
                try check(git_index_add(index, &entry), "stage \(path)")
            }
        }
        var treeID = git_oid()
        try check(git_index_write_tree_to(&treeID, index, handle), "write the preimage")
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, handle, &treeID), "read the preimage")
        defer { git_tree_free(tree) }
        return try withParsedPatch(patch) { diff in
            var postimage: OpaquePointer?
            try check(git_apply_to_tree(&postimage, handle, tree, diff, nil), "apply the patch")
            defer { git_index_free(postimage) }
            var result: [String: PatchedFile?] = [:]
            for path in try Self.paths(inPatch: patch) {
                guard let entry = git_index_get_bypath(postimage, path, 0)?.pointee else {
                    result[path] = .some(nil)
                    continue
                }
                var id = entry.id
                var blob: OpaquePointer?
                try check(git_blob_lookup(&blob, handle, &id), "read the new \(path)")
                defer { git_blob_free(blob) }
                let size = Int(git_blob_rawsize(blob))
                let content =
                    size == 0 ? [] : Array(UnsafeRawBufferPointer(start: git_blob_rawcontent(blob), count: size))
                result[path] = PatchedFile(content: content, executable: entry.mode == 0o100755)
            }
            return result
        }
    }

    /// The paths a patch touches (old and new sides), for checking before applying it.
    public static func paths(inPatch patch: String) throws -> [String] {
        _ = libgit2Initialized
        return try withParsedPatch(patch) { diff in
            var paths: [String] = []
            for index in 0..<git_diff_num_deltas(diff) {
                guard let delta = git_diff_get_delta(diff, index)?.pointee else { continue }
                for file in [delta.old_file, delta.new_file] {
                    guard let path = file.path.map({ String(cString: $0) }), !path.isEmpty else { continue }
                    if !paths.contains(path) { paths.append(path) }
                }
            }
            return paths
        }
    }

    private static func withParsedPatch<Result>(_ patch: String, _ body: (OpaquePointer) throws -> Result) throws
        -> Result
    {
        var diff: OpaquePointer?
        var text = patch
        _ = try text.withUTF8 { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { chars in
                try check(git_diff_from_buffer(&diff, chars.baseAddress, chars.count), "read the patch")
            }
        }
        defer { git_diff_free(diff) }
        return try body(diff!)
    }

    func withParsedPatch<Result>(_ patch: String, _ body: (OpaquePointer) throws -> Result) throws -> Result {
        try Self.withParsedPatch(patch, body)
    }

    /// A unified diff between two texts, as `git diff --no-index` would print it for `path`.
    public static func unifiedDiff(from old: String, to new: String, path: String, contextLines: Int = 3) throws
        -> String
    {
        _ = libgit2Initialized
        var options = git_diff_options()
        try check(git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), "prepare a diff")
        options.context_lines = UInt32(max(0, contextLines))
        var oldText = old
        var newText = new
        var buffer = git_buf()
        defer { git_buf_dispose(&buffer) }
        // The patch points into both texts: print it while they are in reach.
        _ = try oldText.withUTF8 { oldBuffer in
            try newText.withUTF8 { newBuffer in
                var patch: OpaquePointer?
                try check(
                    git_patch_from_buffers(
                        &patch, oldBuffer.baseAddress, oldBuffer.count, path, newBuffer.baseAddress, newBuffer.count,
                        path, &options), "diff \(path)")
                defer { git_patch_free(patch) }
                try check(git_patch_to_buf(&buffer, patch), "print the diff of \(path)")
            }
        }
        return String(buffer)
    }
}

extension String {
    /// The bytes of a `git_buf`; invalid UTF-8 is replaced.
    init(_ buffer: git_buf) {
        guard let pointer = buffer.ptr else {
            self = ""
            return
        }
        self = String(
            decoding: UnsafeRawBufferPointer(start: pointer, count: buffer.size).bindMemory(to: UInt8.self),
            as: UTF8.self)
    }
}

extension Diff {
    init(_ diff: OpaquePointer) throws {
        var buffer = git_buf()
        defer { git_buf_dispose(&buffer) }
        try check(git_diff_to_buf(&buffer, diff, GIT_DIFF_FORMAT_PATCH), "print the diff")
        var files: [DiffFile] = []
        for index in 0..<git_diff_num_deltas(diff) {
            guard let delta = git_diff_get_delta(diff, index)?.pointee else { continue }
            var patch: OpaquePointer?
            try check(git_patch_from_diff(&patch, diff, index), "count the changes")
            defer { git_patch_free(patch) }
            var context = 0
            var insertions = 0
            var deletions = 0
            if let patch { try check(git_patch_line_stats(&context, &insertions, &deletions, patch), "count lines") }
            let path = delta.new_file.path.map { String(cString: $0) } ?? ""
            let oldPath = delta.old_file.path.map { String(cString: $0) }
            let status: Character =
                switch delta.status {
                case GIT_DELTA_ADDED: "A"
                case GIT_DELTA_DELETED: "D"
                case GIT_DELTA_RENAMED: "R"
                case GIT_DELTA_COPIED: "C"
                case GIT_DELTA_TYPECHANGE: "T"
                default: "M"
                }
            files.append(
                DiffFile(
                    path: path, oldPath: oldPath == path ? nil : oldPath, status: status, insertions: insertions,
                    deletions: deletions, isBinary: delta.flags & GIT_DIFF_FLAG_BINARY.rawValue != 0))
        }
        self.init(patch: String(buffer), files: files)
    }
}
