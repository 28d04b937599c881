import FileTools
import Foundation
import Switchyard
import SwitchyardTesting
import Synchronization
import Testing

/// A thread that keeps swapping a path of the workspace between what belongs there and a
/// symlink out of it, as a hostile command running beside the tools would: each state held
/// for about 50 µs, so that a check and the open after it often see different ones.
final class Swapper: Sendable {
    private let running = Atomic(true)
    private let finished = Mutex(false)
    let swaps = Atomic(0)

    /// Swaps the file `path` between a regular file holding `inside` and a symlink to `target`.
    static func file(_ path: String, inside: String, target: String) -> Swapper {
        let swapper = Swapper()
        Thread.detachNewThread {
            let spare = path + ".spare"
            let link = path + ".link"
            while swapper.running.load(ordering: .relaxed) {
                _ = FileManager.default.createFile(atPath: spare, contents: Data(inside.utf8))
                rename(spare, path)
                usleep(50)
                symlink(target, link)
                rename(link, path)
                usleep(50)
                swapper.swaps.add(1, ordering: .relaxed)
            }
            _ = FileManager.default.createFile(atPath: spare, contents: Data(inside.utf8))
            rename(spare, path)
            swapper.finished.withLock { $0 = true }
        }
        return swapper
    }

    /// Swaps the directory `path` between itself and a symlink to `target`.
    static func directory(_ path: String, target: String) -> Swapper {
        let swapper = Swapper()
        Thread.detachNewThread {
            let away = path + ".away"
            while swapper.running.load(ordering: .relaxed) {
                rename(path, away)
                symlink(target, path)
                usleep(50)
                unlink(path)
                rename(away, path)
                usleep(50)
                swapper.swaps.add(1, ordering: .relaxed)
            }
            swapper.finished.withLock { $0 = true }
        }
        return swapper
    }

    func stop() async throws {
        running.store(false, ordering: .relaxed)
        while !finished.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
    }
}

/// The tools race a swapping thread and never read, list or write outside the workspace:
/// checked by what they returned and by what is on disk outside, not by their labels.
@Suite(.serialized) struct RaceTests {
    static let calls = 300

    /// Calls `tool` `calls` times while `swapper` runs, and returns what the calls that
    /// succeeded answered. It goes on past `calls` (up to 50 times as many) until a few have
    /// succeeded: under load the scheduler can hold the swapper in its symlink state for a
    /// whole burst of calls, which would leave the race with nothing to check.
    func race(_ tool: any Tool, _ swapper: Swapper, calls: Int = calls, _ arguments: (Int) -> JSONValue)
        async throws -> [String]
    {
        var answers: [String] = []
        var index = 0
        while index < calls || (answers.count < 5 && index < calls * 50) {
            if let output = try? await tool.invoke(arguments(index)) { answers.append(output.text) }
            index += 1
        }
        try await swapper.stop()
        #expect(swapper.swaps.load(ordering: .relaxed) > 0)
        return answers
    }

    @Test func readNeverReturnsTheFileASymlinkSwappedInPointsAt() async throws {
        let outside = try TemporaryDirectory("race-outside")
        try outside.write("secret.txt", "CANARY-5151 outside\n")
        let directory = try TemporaryDirectory("race-read")
        try directory.write("notes.txt", "inside\n")
        let answers = try await race(
            ReadTool(workspace: try Workspace(path: directory.path)),
            .file(directory.path + "/notes.txt", inside: "inside\n", target: outside.path + "/secret.txt")
        ) { _ in ["path": "notes.txt"] }
        #expect(!answers.isEmpty)
        #expect(!answers.contains { $0.contains("CANARY-5151") })
    }

    @Test func searchNeverFindsWhatASymlinkSwappedInPointsAt() async throws {
        let outside = try TemporaryDirectory("race-outside")
        try outside.write("secret.txt", "CANARY-5252 outside\n")
        // The same name as the file inside, so that a path checked after the search still exists.
        try outside.write("notes.txt", "CANARY-5252 outside, same name\n")
        let directory = try TemporaryDirectory("race-search")
        try directory.write("src/notes.txt", "CANARY-inside\n")
        let answers = try await race(
            SearchTool(workspace: try Workspace(path: directory.path)),
            .directory(directory.path + "/src", target: outside.path), calls: Self.calls / 3
        ) { index in
            // The directory named as the path, and the whole workspace.
            index.isMultiple(of: 2) ? ["pattern": "CANARY", "path": "src"] : ["pattern": "CANARY"]
        }
        #expect(!answers.isEmpty)
        #expect(!answers.contains { $0.contains("CANARY-5252") })
    }

    @Test func listNeverShowsTheDirectoryASymlinkSwappedInPointsAt() async throws {
        let outside = try TemporaryDirectory("race-outside")
        try outside.write("outside-only.txt", "x\n")
        let directory = try TemporaryDirectory("race-list")
        try directory.write("src/inside.txt", "x\n")
        let answers = try await race(
            ListTool(workspace: try Workspace(path: directory.path)),
            .directory(directory.path + "/src", target: outside.path)
        ) { _ in ["path": "src"] }
        #expect(!answers.isEmpty)
        #expect(!answers.contains { $0.contains("outside-only") })
    }

    /// Creating and changing files below a directory that keeps turning into a symlink to a
    /// host directory: nothing is ever written there.
    @Test func editNeverWritesWhereASymlinkSwappedInPointsAt() async throws {
        let outside = try TemporaryDirectory("race-outside")
        let directory = try TemporaryDirectory("race-edit")
        try directory.write("src/file.txt", "one\n")
        let answers = try await race(
            EditTool(workspace: try Workspace(path: directory.path)),
            .directory(directory.path + "/src", target: outside.path)
        ) { index in
            index.isMultiple(of: 2)
                ? ["path": .string("src/new-\(index).txt"), "old_string": "", "new_string": "owned\n"]
                : ["path": "src/file.txt", "old_string": "one", "new_string": .string("one\(index)")]
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == [])
        #expect(!answers.isEmpty)
    }

    /// A patch that creates and changes files below the swapping directory: applied through
    /// descriptors, it never writes outside.
    @Test func aPatchNeverWritesWhereASymlinkSwappedInPointsAt() async throws {
        let outside = try TemporaryDirectory("race-outside")
        try outside.write("file.txt", "one\n")
        let directory = try TemporaryDirectory("race-patch")
        try await GitCommand.initialize(directory.path)
        try directory.write("src/file.txt", "one\n")
        let answers = try await race(
            EditTool(workspace: try Workspace(path: directory.path)),
            .directory(directory.path + "/src", target: outside.path), calls: Self.calls / 3
        ) { index in
            let patch = """
                diff --git a/src/new-\(index).txt b/src/new-\(index).txt
                new file mode 100644
                --- /dev/null
                +++ b/src/new-\(index).txt
                @@ -0,0 +1 @@
                +owned

                """
            return ["patch": .string(patch)]
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["file.txt"])
        #expect(try outside.read("file.txt") == "one\n")
        #expect(!answers.isEmpty)
    }
}
