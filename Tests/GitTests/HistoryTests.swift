import Foundation
import Git
import SwitchyardTesting
import Testing

/// A repository with history worth comparing: edits, a rename, a deletion, a side branch
/// merged back, and commits whose dates are out of order.
func makeHistory(in directory: TemporaryDirectory) async throws -> String {
    let path = directory.path
    try await GitCommand.initialize(path)
    var day = 1
    func commit(_ message: String, date: Int? = nil) async throws {
        let stamp = String(format: "2026-02-%02dT10:00:00Z", date ?? day)
        day += 1
        try await GitCommand.run(["add", "-A"], in: path)
        try await GitCommand.run(
            ["commit", "-q", "-m", message], in: path,
            environment: ["GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp])
    }
    try directory.write("README.md", "# Demo\n\nA small project.\n")
    try directory.write("src/parser.swift", (1...40).map { "let line\($0) = \($0)\n" }.joined())
    try directory.write("src/lexer.swift", "struct Lexer {}\n")
    try await commit("Initial import")
    try directory.write(
        "src/parser.swift", (1...40).map { $0 == 7 ? "let line7 = 700\n" : "let line\($0) = \($0)\n" }.joined())
    try await commit("Parser: change line 7")
    try await GitCommand.run(["checkout", "-q", "-b", "feature"], in: path)
    try directory.write("src/feature.swift", "func feature() {}\n")
    try await commit("Add a feature")
    try directory.write(
        "src/parser.swift", (1...41).map { $0 == 7 ? "let line7 = 700\n" : "let line\($0) = \($0)\n" }.joined())
    try await commit("Parser: one more line", date: 20)
    try await GitCommand.run(["checkout", "-q", "main"], in: path)
    try directory.write("README.md", "# Demo\n\nA small project, documented.\n")
    try await commit("Document the project")
    try await GitCommand.run(["mv", "src/lexer.swift", "src/tokenizer.swift"], in: path)
    try await commit("Rename the lexer")
    try await GitCommand.run(
        ["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"], in: path,
        environment: ["GIT_AUTHOR_DATE": "2026-02-21T10:00:00Z", "GIT_COMMITTER_DATE": "2026-02-21T10:00:00Z"])
    try directory.write("src/feature.swift", "func feature() { print(1) }\n")
    try await commit("Feature prints", date: 22)
    try FileManager.default.removeItem(atPath: path + "/README.md")
    try await commit("Drop the README", date: 23)
    return path
}

func gitLines(_ arguments: [String], in path: String) async throws -> [String] {
    try await GitCommand.run(arguments, in: path).split(separator: "\n").map(String.init)
}

/// The lines of a patch that say what changed: file and hunk headers and +/-/context lines.
/// (git ends a `---`/`+++` line with a tab when the name has a space, libgit2 does not.)
func hunkLines(_ patch: String) -> [String] {
    patch.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { line in
        (line.hasPrefix("@@") || line.hasPrefix("+") || line.hasPrefix("-") || line.hasPrefix(" "))
    }.map { line in
        line.hasPrefix("--- ") || line.hasPrefix("+++ ") ? String(line.trimmingSuffix("\t")) : line
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: Character) -> Substring {
        var text = Substring(self)
        while text.last == suffix { text = text.dropLast() }
        return text
    }
}

@Suite struct HistoryTests {
    @Test func logAgreesWithGitWithAndWithoutPathsAndLimits() async throws {
        let directory = try TemporaryDirectory("history")
        let path = try await makeHistory(in: directory)
        let repository = try Repository(path: path)
        #expect(try repository.log(LogQuery()).map(\.id.hex) == (try await gitLines(["log", "--format=%H"], in: path)))
        #expect(
            try repository.log(LogQuery(limit: 3)).map(\.id.hex)
                == (try await gitLines(["log", "-n", "3", "--format=%H"], in: path)))
        for file in ["src/parser.swift", "src", "README.md", "src/feature.swift", "src/tokenizer.swift"] {
            #expect(
                try repository.log(LogQuery(path: file)).map(\.id.hex)
                    == (try await gitLines(["log", "--format=%H", "--", file], in: path)), "log -- \(file)")
        }
        #expect(
            try repository.log(LogQuery(start: "feature")).map(\.id.hex)
                == (try await gitLines(["log", "--format=%H", "feature"], in: path)))
        let since = try #require(ISO8601DateFormatter().date(from: "2026-02-05T00:00:00Z"))
        #expect(
            try repository.log(LogQuery(since: Int64(since.timeIntervalSince1970))).map(\.id.hex)
                == (try await gitLines(["log", "--format=%H", "--since=2026-02-05T00:00:00Z"], in: path)))
        #expect(try repository.log(LogQuery(author: "nobody@")).isEmpty)
    }

    @Test func statusAgreesWithGitPorcelain() async throws {
        let directory = try TemporaryDirectory("status")
        let path = try await makeHistory(in: directory)
        let repository = try Repository(path: path)
        #expect(try repository.status().isEmpty)
        try directory.write("src/parser.swift", "changed\n")
        try directory.write("notes/todo.txt", "untracked\n")
        try directory.write("new.txt", "staged\n")
        try directory.write(".gitignore", "*.log\n")
        try directory.write("debug.log", "ignored\n")
        try FileManager.default.removeItem(atPath: path + "/src/feature.swift")
        try await GitCommand.run(["add", "new.txt"], in: path)
        try await GitCommand.run(["mv", "src/tokenizer.swift", "src/scanner.swift"], in: path)
        let expected = try await gitLines(["status", "--porcelain=v1"], in: path)
        #expect(try repository.status().map(\.description) == expected)
        #expect(try repository.isIgnored("debug.log"))
        #expect(try !repository.isIgnored("new.txt"))
    }

    @Test func diffsAgreeWithGit() async throws {
        let directory = try TemporaryDirectory("diff")
        let path = try await makeHistory(in: directory)
        let repository = try Repository(path: path)
        try directory.write(
            "src/parser.swift", (1...45).map { $0 % 9 == 0 ? "changed \($0)\n" : "let line\($0) = \($0)\n" }.joined())
        try directory.write("src/feature.swift", "func feature() { print(2) }\n")
        try await GitCommand.run(["add", "src/feature.swift"], in: path)
        try directory.write("src/feature.swift", "func feature() { print(3) }\n")

        let cases: [(DiffTarget, [String])] = [
            (.workTree, ["diff"]),
            (.index(), ["diff", "--cached"]),
            (.workTreeAgainst("HEAD~3"), ["diff", "HEAD~3"]),
            (.revisions(from: "HEAD~4", to: "HEAD"), ["diff", "HEAD~4", "HEAD"]),
        ]
        for (target, arguments) in cases {
            let diff = try repository.diff(target)
            let expected = try await GitCommand.run(arguments, in: path)
            #expect(hunkLines(diff.patch) == hunkLines(expected), "\(arguments)")
            let numstat = try await gitLines(arguments + ["--numstat"], in: path)
            #expect(
                diff.files.map { "\($0.insertions)\t\($0.deletions)" }
                    == numstat.map { line in
                        line.split(separator: "\t").prefix(2).joined(separator: "\t")
                    }, "\(arguments) --numstat")
        }
        let narrowed = try repository.diff(
            .workTree, options: DiffOptions(contextLines: 1, paths: ["src/parser.swift"]))
        #expect(
            hunkLines(narrowed.patch)
                == hunkLines(try await GitCommand.run(["diff", "-U1", "--", "src/parser.swift"], in: path)))
        let renamed = try repository.diff(.revisions(from: "HEAD~4", to: "HEAD~3"))
        #expect(renamed.files.map(\.status) == ["R"])
        #expect(renamed.files.first?.oldPath == "src/lexer.swift")
    }

    @Test func showAndBlameAgreeWithGit() async throws {
        let directory = try TemporaryDirectory("blame")
        let path = try await makeHistory(in: directory)
        let repository = try Repository(path: path)
        for revision in ["HEAD", "HEAD~1", "feature", "feature~1"] {
            let commit = try repository.commit(revision)
            let diff = try repository.diff(commit: commit)
            let expected = try await GitCommand.run(["show", "--format=", revision], in: path)
            #expect(hunkLines(diff.patch) == hunkLines(expected), "show \(revision)")
        }
        let root = try repository.commit("HEAD~6")
        #expect(root.parents.isEmpty)
        #expect(
            try repository.diff(commit: root).files.map(\.path) == ["README.md", "src/lexer.swift", "src/parser.swift"])

        let porcelain = try await gitLines(["blame", "--line-porcelain", "HEAD", "--", "src/parser.swift"], in: path)
        let expected = porcelain.filter { $0.count > 40 && $0.prefix(40).allSatisfy(\.isHexDigit) }.map {
            String($0.prefix(40))
        }
        let blame = try repository.blame(path: "src/parser.swift")
        #expect(blame.map(\.commit.hex) == expected)
        #expect(blame.count == 41)
        let range = try repository.blame(path: "src/parser.swift", lines: 5...8)
        #expect(range.map(\.line) == [5, 6, 7, 8])
        #expect(range.map(\.commit.hex) == Array(expected[4...7]))
        #expect(range[2].text == "let line7 = 700")
    }

    @Test func branchesCommitsAndPatches() async throws {
        let directory = try TemporaryDirectory("commit")
        let path = try await makeHistory(in: directory)
        let repository = try Repository(path: path)
        #expect(
            try repository.branches().map(\.name)
                == (try await gitLines(["branch", "--format=%(refname:short)"], in: path)))
        #expect(try repository.branches().filter(\.isCheckedOut).map(\.name) == ["main"])

        // Given paths land on a new branch; main, the index and the work tree stay as they were.
        let head = try repository.head().commit
        try directory.write("src/parser.swift", "rewritten\n")
        try directory.write("added.txt", "new file\n")
        let commit = try repository.commit(
            .paths(["src/parser.swift", "added.txt", "src/feature.swift"]), on: "switchyard/fix",
            message: "Fix the parser")
        #expect(try repository.head().commit == head)
        #expect(commit.parents == [head].compactMap { $0 })
        #expect(try await GitCommand.run(["show", "switchyard/fix:src/parser.swift"], in: path) == "rewritten\n")
        #expect(try await GitCommand.run(["show", "switchyard/fix:added.txt"], in: path) == "new file\n")
        let files = try await gitLines(["diff", "--name-status", "main", "switchyard/fix"], in: path)
        #expect(files == ["A\tadded.txt", "M\tsrc/parser.swift"])
        #expect(try await gitLines(["status", "--porcelain"], in: path) == [" M src/parser.swift", "?? added.txt"])
        try await GitCommand.run(["fsck", "--no-progress"], in: path)

        // Deleting through a commit of a missing path.
        try FileManager.default.removeItem(atPath: path + "/added.txt")
        let second = try repository.commit(.paths(["added.txt"]), on: "switchyard/fix", message: "Remove it again")
        #expect(second.parents == [commit.id])
        #expect(
            try await gitLines(["diff", "--name-status", "main", "switchyard/fix"], in: path) == ["M\tsrc/parser.swift"]
        )

        // Nothing changed: refused.
        #expect(throws: GitError.self) {
            try repository.commit(.paths(["README.md"]), on: "switchyard/fix", message: "Nothing")
        }

        // A patch made by git applies to a clean checkout, and a stale one does not.
        try await GitCommand.run(["checkout", "-q", "--", "."], in: path)
        try directory.write("src/tokenizer.swift", "struct Tokenizer {}\n")
        let patch = try await GitCommand.run(["diff"], in: path)
        try await GitCommand.run(["checkout", "-q", "--", "."], in: path)
        #expect(try Repository.paths(inPatch: patch) == ["src/tokenizer.swift"])
        try repository.apply(patch: patch, checkOnly: true)
        #expect(try directory.read("src/tokenizer.swift") == "struct Lexer {}\n")
        try repository.apply(patch: patch)
        #expect(try directory.read("src/tokenizer.swift") == "struct Tokenizer {}\n")
        #expect(throws: GitError.self) { try repository.apply(patch: patch) }
    }

    @Test func unifiedDiffOfTwoTexts() throws {
        let diff = try Repository.unifiedDiff(from: "a\nb\nc\n", to: "a\nB\nc\n", path: "x.txt")
        #expect(diff.contains("--- a/x.txt\n+++ b/x.txt\n"))
        #expect(hunkLines(diff) == ["--- a/x.txt", "+++ b/x.txt", "@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"])
    }
}

/// The same comparisons on real projects, when their bare repositories are on this machine.
/// (The copies here hold one snapshot commit per release tag, so history is short; the
/// trees are large and real.)
@Suite struct RealRepositoryTests {
    static let bares = [
        "/opt/swift-packages/apple/swift-argument-parser.git", "/opt/swift-packages/apple/swift-nio.git",
    ]

    @Test(
        .enabled(if: bares.contains { FileManager.default.fileExists(atPath: $0) }), .usesMuchMemory, arguments: bares)
    func logShowDiffBlameAndStatusAgreeWithGit(bare: String) async throws {
        let directory = try TemporaryDirectory("real")
        guard let path = try await GitCommand.cloneLocal(bare, into: directory.path) else { return }
        let repository = try Repository(path: path)
        let tags = try await gitLines(["tag", "--sort=creatordate"], in: path)
        for start in ["HEAD"] + tags {
            #expect(
                try repository.log(LogQuery(start: start)).map(\.id.hex)
                    == (try await gitLines(["log", "--format=%H", start], in: path)), "log \(start)")
            for file in ["README.md", "Package.swift", "Sources", "Sources/NIOCore"] {
                #expect(
                    try repository.log(LogQuery(start: start, path: file)).map(\.id.hex)
                        == (try await gitLines(["log", "--format=%H", start, "--", file], in: path)),
                    "log \(start) -- \(file)")
            }
            let diff = try repository.diff(commit: try repository.commit(start))
            #expect(diff.files.count > 50)
            #expect(
                hunkLines(diff.patch) == hunkLines(try await GitCommand.run(["show", "--format=", start], in: path)),
                "show \(start)")
        }
        if tags.count >= 2 {
            let (from, to) = (tags[tags.count - 2], tags[tags.count - 1])
            let diff = try repository.diff(.revisions(from: from, to: to))
            #expect(hunkLines(diff.patch) == hunkLines(try await GitCommand.run(["diff", from, to], in: path)))
        }
        let porcelain = try await gitLines(["blame", "--line-porcelain", "HEAD", "--", "Package.swift"], in: path)
        let expected = porcelain.filter { $0.count > 40 && $0.prefix(40).allSatisfy(\.isHexDigit) }.map {
            String($0.prefix(40))
        }
        #expect(try repository.blame(path: "Package.swift").map(\.commit.hex) == expected)
        #expect(try repository.status().isEmpty)
        try directory.write(URL(fileURLWithPath: path).lastPathComponent + "/Package.swift", "// changed\n")
        #expect(
            try repository.status().map(\.description) == (try await gitLines(["status", "--porcelain=v1"], in: path)))
        #expect(
            hunkLines(try repository.diff(.workTree).patch) == hunkLines(try await GitCommand.run(["diff"], in: path)))
    }
}
