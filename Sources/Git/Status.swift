internal import CGit2

/// One line of `git status --porcelain`: a path with its index and work-tree state.
public struct StatusEntry: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    /// The path before a rename.
    public var originalPath: String?
    /// The index's state against HEAD: `A`, `M`, `D`, `R`, `T`, `U` for a conflict, `?`
    /// for untracked, or a space.
    public var index: Character
    /// The work tree's state against the index, with the same letters.
    public var workTree: Character

    /// The entry as `git status --porcelain` (v1) prints it.
    public var description: String {
        "\(index)\(workTree) \(originalPath.map { "\($0) -> " } ?? "")\(path)"
    }
}

extension Repository {
    /// The status of the index and work tree, as `git status --porcelain` reports it:
    /// untracked directories collapsed to `dir/` and listed last, renames in the index
    /// detected, ignored files left out.
    public func status() throws -> [StatusEntry] {
        var options = git_status_options()
        try check(git_status_options_init(&options, UInt32(GIT_STATUS_OPTIONS_VERSION)), "read the status")
        options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR
        options.flags =
            GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue | GIT_STATUS_OPT_RENAMES_HEAD_TO_INDEX.rawValue
            | GIT_STATUS_OPT_SORT_CASE_SENSITIVELY.rawValue
        var list: OpaquePointer?
        try check(git_status_list_new(&list, handle, &options), "read the status")
        defer { git_status_list_free(list) }
        var entries: [StatusEntry] = []
        for position in 0..<git_status_list_entrycount(list) {
            guard let entry = git_status_byindex(list, position)?.pointee else { continue }
            let flags = entry.status.rawValue
            if flags & GIT_STATUS_IGNORED.rawValue != 0 { continue }
            func has(_ flag: git_status_t) -> Bool { flags & flag.rawValue != 0 }
            var index: Character = " "
            var workTree: Character = " "
            if has(GIT_STATUS_CONFLICTED) {
                (index, workTree) = ("U", "U")
            } else if has(GIT_STATUS_WT_NEW) && flags & Self.indexFlags == 0 {
                (index, workTree) = ("?", "?")
            } else {
                if has(GIT_STATUS_INDEX_NEW) { index = "A" }
                if has(GIT_STATUS_INDEX_MODIFIED) { index = "M" }
                if has(GIT_STATUS_INDEX_DELETED) { index = "D" }
                if has(GIT_STATUS_INDEX_RENAMED) { index = "R" }
                if has(GIT_STATUS_INDEX_TYPECHANGE) { index = "T" }
                if has(GIT_STATUS_WT_MODIFIED) { workTree = "M" }
                if has(GIT_STATUS_WT_DELETED) { workTree = "D" }
                if has(GIT_STATUS_WT_TYPECHANGE) { workTree = "T" }
                if has(GIT_STATUS_WT_RENAMED) { workTree = "R" }
            }
            // The path now (after a rename in the index, the new name) and, for a rename, the old one.
            guard let delta = entry.index_to_workdir ?? entry.head_to_index else { continue }
            let path = delta.pointee.new_file.path.map { String(cString: $0) } ?? ""
            let originalPath =
                index == "R" ? entry.head_to_index?.pointee.old_file.path.map { String(cString: $0) } : nil
            entries.append(StatusEntry(path: path, originalPath: originalPath, index: index, workTree: workTree))
        }
        // git lists changes to tracked files first, then untracked ones.
        return entries.filter { $0.index != "?" } + entries.filter { $0.index == "?" }
    }

    /// The status flags that describe the index (against HEAD).
    private static let indexFlags =
        GIT_STATUS_INDEX_NEW.rawValue | GIT_STATUS_INDEX_MODIFIED.rawValue | GIT_STATUS_INDEX_DELETED.rawValue
        | GIT_STATUS_INDEX_RENAMED.rawValue | GIT_STATUS_INDEX_TYPECHANGE.rawValue

    /// Whether `.gitignore` rules (and `info/exclude`, `core.excludesFile`) ignore `path`,
    /// given relative to the work tree.
    public func isIgnored(_ path: String) throws -> Bool {
        var ignored: Int32 = 0
        try check(git_ignore_path_is_ignored(&ignored, handle, path), "check whether \(path) is ignored")
        return ignored == 1
    }
}
