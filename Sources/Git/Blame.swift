internal import CGit2

/// Who last changed a line.
public struct BlameLine: Sendable, Hashable {
    /// The line's number in the file at the blamed revision, from 1.
    public var line: Int
    public var commit: ObjectID
    public var author: Signature
    /// The line's number and path in `commit`.
    public var originalLine: Int
    public var originalPath: String
    public var text: String
}

extension Repository {
    /// `git blame REVISION -- path` for lines `lines` (all when `nil`), numbered from 1.
    public func blame(path: String, at revision: String = "HEAD", lines: ClosedRange<Int>? = nil) throws
        -> [BlameLine]
    {
        let newest = try resolve(revision)
        let content = try blobText(path: path, at: revision)
        var fileLines = content.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if content.hasSuffix("\n") { fileLines.removeLast() }
        guard !fileLines.isEmpty else { return [] }
        let range = (lines ?? 1...fileLines.count).clamped(to: 1...fileLines.count)

        var options = git_blame_options()
        try check(git_blame_options_init(&options, UInt32(GIT_BLAME_OPTIONS_VERSION)), "blame \(path)")
        options.newest_commit = try newest.gitOID()
        options.min_line = range.lowerBound
        options.max_line = range.upperBound
        var blame: OpaquePointer?
        try check(git_blame_file(&blame, handle, path, &options), "blame \(path)")
        defer { git_blame_free(blame) }

        var result: [BlameLine] = []
        var authors: [ObjectID: Signature] = [:]
        for index in 0..<git_blame_get_hunk_count(blame) {
            guard let hunk = git_blame_get_hunk_byindex(blame, index)?.pointee else { continue }
            let commit = withUnsafePointer(to: hunk.final_commit_id) { ObjectID($0) }
            let author: Signature
            if let known = authors[commit] {
                author = known
            } else {
                author = try self.commit(commit).author
                authors[commit] = author
            }
            let originalPath = hunk.orig_path.map { String(cString: $0) } ?? path
            for offset in 0..<hunk.lines_in_hunk {
                let line = hunk.final_start_line_number + offset
                guard range.contains(line) else { continue }
                result.append(
                    BlameLine(
                        line: line, commit: commit, author: author, originalLine: hunk.orig_start_line_number + offset,
                        originalPath: originalPath, text: fileLines[line - 1]))
            }
        }
        return result
    }

    /// The text of the file at `path` in a revision's tree.
    public func blobText(path: String, at revision: String = "HEAD") throws -> String {
        var object: OpaquePointer?
        try check(git_revparse_single(&object, handle, "\(revision):\(path)"), "find \(path) at \(revision)")
        defer { git_object_free(object) }
        guard git_object_type(object) == GIT_OBJECT_BLOB else {
            throw GitError(code: -1, message: "\(path) is a directory at \(revision)", operation: "read \(path)")
        }
        let size = Int(git_blob_rawsize(object))
        guard let content = git_blob_rawcontent(object) else { return "" }
        return String(
            decoding: UnsafeRawBufferPointer(start: content, count: size).bindMemory(to: UInt8.self), as: UTF8.self)
    }
}
