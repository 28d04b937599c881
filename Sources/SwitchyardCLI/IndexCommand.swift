import ArgumentParser
import Composition
import Foundation
import Switchyard
import Synchronization
import VectorStore

struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Index a workspace's text files into the vector store, for vector_search.",
        discussion: """
            Files are those ripgrep would search (.gitignore respected, hidden files skipped), cut \
            into overlapping windows of lines that remember their path and line range, and embedded \
            with the embedding profile (--embedder, or the setting index.embedder, default 'embed'). \
            --include (or the setting index.include, a glob or a list of them) limits what is indexed; \
            files it leaves out leave the collection. \
            Re-indexing is incremental: unchanged files are not embedded again, deleted ones leave \
            the collection. The store is $SWITCHYARD_HOME/vectors.db.
            A private workspace (workspace.confidentiality, default private) is embedded only by a \
            profile cleared for it: a local one, never the cloud unless its clearance says so.
            """
    )

    @Argument(help: "The workspace to index.") var directory: String
    @Option(help: "The collection (default: the directory's name and a hash of its path).") var collection: String?
    @Option(help: "The embedding profile.") var embedder: String?
    @Option(help: ArgumentHelp("Only files matching this glob, e.g. 'Sources/**' (repeatable).", valueName: "GLOB"))
    var include: [String] = []
    @Flag(help: "Print the summary as JSON.") var json = false
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a setting, e.g. profiles.embed.model=nomic-embed-text.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let summary: WorkspaceIndexer.Summary
        let collection: String
        do {
            let settings = try Settings.load(workspace: directory, environment: environment, overrides: overrides)
            let meter = ProgressMeter(enabled: !json)
            defer { meter.finish() }
            (collection, summary) = try await Toolbox.index(
                directory, settings: settings, collection: self.collection, embedder: embedder, include: include,
                environment: environment
            ) { meter.show($0) }
        } catch {
            throw fail(error)
        }
        let seconds = summary.elapsed.seconds
        if json {
            printJSON([
                "collection": .string(collection), "files": .number(Double(summary.files)),
                "indexed": .number(Double(summary.indexed)), "unchanged": .number(Double(summary.unchanged)),
                "skipped": .number(Double(summary.skipped)), "removed": .number(Double(summary.removed)),
                "chunks": .number(Double(summary.chunks)), "seconds": .number((seconds * 100).rounded() / 100),
            ])
        } else {
            print(
                "Indexed \(collection): \(summary.files) files — \(summary.indexed) embedded (\(summary.chunks) chunks), \(summary.unchanged) unchanged, \(summary.skipped) skipped (binary or large), \(summary.removed) removed — in \(String(format: "%.1f", seconds)) s"
            )
        }
    }
}

/// A one-line progress display on standard error: files, chunks, rate and time left; shown
/// only on a terminal, and not with NO_COLOR.
final class ProgressMeter: Sendable {
    let enabled: Bool
    /// When the line was last drawn; nil while it is not on the screen.
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    init(enabled: Bool) {
        self.enabled =
            enabled && isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    func show(_ progress: WorkspaceIndexer.Progress) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let due = last.withLock { last in
            if let drawn = last, now - drawn < .milliseconds(100), progress.files != progress.totalFiles {
                return false
            }
            last = now
            return true
        }
        guard due else { return }
        let seconds = max(progress.elapsed.seconds, 0.001)
        let rate = Double(progress.files) / seconds
        let left = rate > 0 ? Double(progress.totalFiles - progress.files) / rate : 0
        let line = String(
            format: "\r\u{1B}[2Kfiles %d/%d  chunks %d  %.1f chunks/s  ETA %ds", progress.files, progress.totalFiles,
            progress.chunks, Double(progress.chunks) / seconds, Int(left.rounded()))
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Clears the line, if it is on the screen.
    func finish() {
        let drawn = last.withLock { last in
            defer { last = nil }
            return last != nil
        }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}
