import Foundation
import Git
import Testing

/// A real repository made with the `git` command line, to check libgit2 against.
final class ScratchRepository {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "switchyard-git-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        try git("config", "user.name", "Test Author")
        try git("config", "user.email", "author@example.com")
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging([
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z",
            "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
        ]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "git \(arguments) failed"])
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func commit(file: String, contents: String, message: String) throws -> String {
        try contents.write(toFile: path + "/" + file, atomically: true, encoding: .utf8)
        try git("add", file)
        try git("commit", "-q", "-m", message)
        return try git("rev-parse", "HEAD")
    }
}

@Suite struct RepositoryTests {
    @Test func freshRepositoryHasAnUnbornHead() throws {
        let scratch = try ScratchRepository()
        let repository = try Repository(path: scratch.path)
        #expect(try repository.head() == .unborn(branch: "main"))
        #expect(repository.workdir?.hasSuffix("/") == true)
        #expect(!repository.isBare)
    }

    @Test func headAndRevisionsAgreeWithGit() throws {
        let scratch = try ScratchRepository()
        let first = try scratch.commit(file: "a.txt", contents: "one\n", message: "First commit")
        let second = try scratch.commit(file: "a.txt", contents: "two\n", message: "Second commit\n\nWith a body.")
        try scratch.git("tag", "-a", "v1", "-m", "release", first)
        let repository = try Repository(path: scratch.path)

        #expect(try repository.head() == .branch(name: "main", commit: ObjectID(hex: second)))
        #expect(try repository.resolve("HEAD~1").hex == first)
        #expect(try repository.resolve("v1").hex == first)  // annotated tag, peeled
        #expect(try repository.resolve(String(second.prefix(8))).hex == second)
        #expect(try repository.resolve("main^{tree}").hex == scratch.git("rev-parse", "main^{tree}"))

        let commit = try repository.commit("HEAD")
        #expect(commit.id.hex == second)
        #expect(commit.summary == "Second commit")
        #expect(commit.message == "Second commit\n\nWith a body.\n")
        #expect(commit.parents == [ObjectID(hex: first)])
        #expect(commit.author.name == "Test Author")
        #expect(commit.author.email == "author@example.com")
        #expect(commit.author.time == 1_767_323_045)
    }

    @Test func detachedHead() throws {
        let scratch = try ScratchRepository()
        let first = try scratch.commit(file: "a.txt", contents: "one\n", message: "First")
        _ = try scratch.commit(file: "a.txt", contents: "two\n", message: "Second")
        try scratch.git("checkout", "-q", "--detach", first)
        let repository = try Repository(path: scratch.path)
        #expect(try repository.head() == .detached(commit: ObjectID(hex: first)))
        #expect(try repository.head().branchName == nil)
    }

    @Test func unknownRevisionIsAClearError() throws {
        let scratch = try ScratchRepository()
        _ = try scratch.commit(file: "a.txt", contents: "one\n", message: "First")
        let repository = try Repository(path: scratch.path)
        let error = #expect(throws: GitError.self) { try repository.resolve("no-such-branch") }
        #expect(error?.code == GitError.notFound)
        #expect(error?.description.contains("no-such-branch") == true)
    }

    @Test func openingANonRepositoryFails() throws {
        let directory = NSTemporaryDirectory() + "switchyard-not-git-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = #expect(throws: GitError.self) { try Repository(path: directory) }
        #expect(error?.code == GitError.notFound)
    }

    @Test func discoveryFindsTheEnclosingRepository() throws {
        let scratch = try ScratchRepository()
        _ = try scratch.commit(file: "a.txt", contents: "one\n", message: "First")
        try FileManager.default.createDirectory(atPath: scratch.path + "/sub/dir", withIntermediateDirectories: true)
        let repository = try Repository(path: scratch.path + "/sub/dir", discover: true)
        #expect(try repository.head().commit?.hex == scratch.git("rev-parse", "HEAD"))
    }

    @Test func dirtyStateAgreesWithGit() throws {
        let scratch = try ScratchRepository()
        _ = try scratch.commit(file: "a.txt", contents: "one\n", message: "First")
        let repository = try Repository(path: scratch.path)
        #expect(try repository.isDirty() == false)
        try "changed\n".write(toFile: scratch.path + "/a.txt", atomically: true, encoding: .utf8)
        #expect(try repository.isDirty() == true)
        #expect(try !scratch.git("status", "--porcelain").isEmpty)
        try scratch.git("checkout", "--", "a.txt")
        #expect(try repository.isDirty() == false)
        try "new\n".write(toFile: scratch.path + "/untracked.txt", atomically: true, encoding: .utf8)
        #expect(try repository.isDirty() == true)
    }

    @Test func libraryVersionIsReported() {
        #expect(Repository.libraryVersion.split(separator: ".").count == 3)
    }
}
