import ArgumentParser
import Composition
import Foundation
import Switchyard

/// Which trace store a command reads or writes.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The trace store (default $SWITCHYARD_HOME/traces.db).", valueName: "PATH"))
    var store: String?

    var path: String {
        get throws(ConfigurationError) {
            if let store { return store }
            return try TraceStore.defaultPath(ProcessInfo.processInfo.environment)
        }
    }

    /// Opens the store and finds the run `prefix` names.
    func open(_ prefix: String) async throws -> (TraceStore, RunSummary) {
        let store = try TraceStore(path: path)
        let id = try await store.resolve(prefix)
        guard let summary = try await store.run(id) else { throw TraceError("no run \(id) in \(try path)") }
        return (store, summary)
    }
}

/// Where runs are recorded, and whether.
struct RecordingOptions: ParsableArguments {
    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Do not record this call as a run.")
    var noRecord = false

    var path: String {
        get throws(ConfigurationError) { try storeOptions.path }
    }

    /// The store to record a run in; nil with `--no-record`.
    func store() throws -> TraceStore? {
        noRecord ? nil : try TraceStore(path: path)
    }
}

let now = TraceStore.wallClock

struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "List and show recorded runs.",
        subcommands: [List.self, Show.self, Export.self, Diff.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List recent runs, newest first.")

        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "How many runs.") var limit = 20
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let path = try storeOptions.path
            let runs: [RunSummary]
            do {
                runs = try await TraceStore(path: path).runs(limit: limit)
            } catch {
                throw fail(error)
            }
            if json {
                printJSON(.array(runs.map(\.json)))
                return
            }
            guard !runs.isEmpty else {
                print("No runs recorded in \(path) yet.")
                return
            }
            // Columns as wide as their widest entry, two spaces apart.
            let statusWidth = runs.map(\.status.rawValue.count).max() ?? 0
            let agentWidth = runs.map(\.agent.count).max() ?? 0
            for run in runs {
                let duration = run.endedAt.map { " \(formatDuration($0 - run.startedAt))" } ?? ""
                let status = run.status.rawValue.padding(toLength: statusWidth, withPad: " ", startingAt: 0)
                let agent = run.agent.padding(toLength: agentWidth, withPad: " ", startingAt: 0)
                let task = String(run.task.prefix(60)).replacingOccurrences(of: "\n", with: " ")
                print(
                    "\(run.id)  \(formatTime(run.startedAt))  \(status)  \(agent)  \(run.eventCount) events\(duration)  \(task)"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show a run as a tree of its steps, and check its hash chain.",
            discussion: """
                Each planner round is shown with the steps it planned under it; for each step, what \
                it did (the tool call, the instruction), where its model calls were routed and why, \
                tokens, cost (when the profile has a price), time taken, the labels and size of its \
                result, and anything refused or failed (marked !). --events shows every recorded \
                event in order instead (a chat or a tool call is always shown so).
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Every event in order, with results under their requests.") var events = false
        @Argument(help: "The run id, or its first characters.") var run: String

        func run() async throws {
            do {
                let (store, summary) = try await storeOptions.open(run)
                let id = summary.id
                let header = try await store.header(id)
                let events = try await store.events(id, resolvingBlobs: true)
                let chain = try await store.verify(id)
                // An edited store is shown, and then the command fails: what it showed is not the record.
                let verdict = "hash chain: \(chain)"
                defer { if !chain.holds { FileHandle.standardError.write(Data("switchyard: \(verdict)\n".utf8)) } }
                if json {
                    printJSON([
                        "run": summary.json, "header": header, "chain": .string("\(chain)"),
                        "chain_holds": .bool(chain.holds), "events": .array(events.map(\.json)),
                    ])
                    if !chain.holds { throw ExitStatus.brokenChain }
                    return
                }
                print(
                    "run \(summary.id)  \(summary.agent)  \(summary.status.rawValue)  started \(formatTime(summary.startedAt))"
                        + (summary.endedAt.map { ", took \(formatDuration($0 - summary.startedAt))" } ?? ""))
                print("task: \(summary.task)")
                let recorded = try RunHeader(recorded: header)
                if let profile = recorded.profile {
                    print(
                        "profile: \(profile.name) — \(profile.provider) \(profile.model) at \(profile.baseURL), clearance \(profile.clearance)"
                    )
                }
                let outline = RunOutline(events: events, header: recorded)
                // Agent runs and triaged tickets have steps worth a tree; a chat or a tool call
                // is one effect, shown as its events.
                if !self.events, recorded.agent != nil, !outline.steps.isEmpty {
                    show(outline, startedAt: summary.startedAt)
                    print(verdict)
                    if !chain.holds { throw ExitStatus.brokenChain }
                    return
                }
                for event in events {
                    let offset = "+\(formatDuration(event.time - summary.startedAt))".padding(
                        toLength: 9, withPad: " ", startingAt: 0)
                    // A result sits under the request or call it answers.
                    let indent = event.parent == nil ? "" : "  └ "
                    let kind = (indent + event.kind.rawValue).padding(toLength: 19, withPad: " ", startingAt: 0)
                    print(
                        "  #\(event.sequence)  \(offset) \(kind) \(event.step ?? "  ")  \(RunOutline.describe(event))")
                }
                print(verdict)
                if !chain.holds { throw ExitStatus.brokenChain }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                throw fail(error)
            }
        }

        func show(_ outline: RunOutline, startedAt: Int64) {
            func show(_ step: RunOutline.Step, indent: String) {
                let offset = "+" + formatDuration(step.started - startedAt)
                let what = step.what.first ?? step.kind ?? (step.modelCalls > 0 ? "model" : "")
                print("\(indent)\(step.name)  \(offset)  \(what)")
                let more = indent + String(repeating: " ", count: step.name.count + 2)
                // An agent step's further tool calls.
                for call in step.what.dropFirst().prefix(8) { print("\(more)\(call)") }
                if step.what.count > 9 { print("\(more)… \(step.what.count - 9) more") }
                var details: [String] = []
                if let route = step.route {
                    details.append("→ \(route)")
                } else if !step.profiles.isEmpty {
                    details.append(step.profiles.joined(separator: ", "))
                }
                if step.modelCalls > 1 { details.append("\(step.modelCalls) model calls") }
                if step.inputTokens + step.outputTokens > 0 {
                    details.append("\(step.inputTokens) in / \(step.outputTokens) out")
                }
                if let cost = step.costUSD { details.append(String(format: "$%.4f", cost)) }
                details.append(formatDuration(step.ended - step.started))
                if let outcome = step.outcome { details.append("result \(outcome)") }
                print("\(more)\(details.joined(separator: " · "))")
                for problem in step.problems { print("\(more)! \(clip(problem, 160))") }
                for child in step.children { show(child, indent: indent + "  ") }
            }
            print("")
            for step in outline.steps { show(step, indent: "") }
            if let ending = outline.ending {
                print("")
                print("\(ending.reason)\(ending.answer.isEmpty ? "" : ": \(clip(ending.answer, 300))")")
            }
        }

        func clip(_ text: String, _ limit: Int = 100) -> String { RunOutline.clip(text, limit) }
    }
}

extension TraceCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a run as JSON Lines (the default) or as an OTLP/JSON trace.",
            discussion: """
                --jsonl: the run and its header, then one event a line, as recorded. --otlp: one \
                ExportTraceServiceRequest with OpenTelemetry GenAI spans (invoke_agent, chat MODEL, \
                execute_tool TOOL) and gen_ai.* attributes; message and tool contents only with --content.
                """)

        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "JSON Lines.") var jsonl = false
        @Flag(help: "OTLP/JSON with OpenTelemetry GenAI attributes.") var otlp = false
        @Flag(help: "With --otlp: include messages and tool arguments and results.") var content = false
        @Argument(help: "The run id, or its first characters.") var run: String

        func validate() throws {
            if jsonl && otlp { throw ValidationError("choose one of --jsonl and --otlp") }
            if content && !otlp { throw ValidationError("--content applies to --otlp") }
        }

        func run() async throws {
            do {
                let (store, summary) = try await storeOptions.open(run)
                let id = summary.id
                if otlp {
                    let document = OTLPExport.document(
                        run: summary, header: try await store.runHeader(id),
                        events: try await store.events(id, resolvingBlobs: true),
                        includeContent: content)
                    print(document.canonicalText)
                    return
                }
                var header = summary.json
                if case .object(var object) = header {
                    object["header"] = try await store.header(id)
                    header = .object(object)
                }
                print(header.canonicalText)
                for event in try await store.events(id, resolvingBlobs: true) { print(event.json.canonicalText) }
            } catch {
                throw fail(error)
            }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff", abstract: "Compare two runs event by event and show the first difference.",
            discussion: "Events compare on kind, step and payload. Exit status 6 when the runs differ.")

        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Print JSON.") var json = false
        @Argument(help: "The first run.") var first: String
        @Argument(help: "The second run.") var second: String

        func run() async throws {
            let path = try storeOptions.path
            let divergence: Divergence?
            do {
                let store = try TraceStore(path: path)
                let a = try await store.events(try await store.resolve(first), resolvingBlobs: true)
                let b = try await store.events(try await store.resolve(second), resolvingBlobs: true)
                divergence = Divergence.between(a, b)
            } catch {
                throw fail(error)
            }
            if json {
                printJSON(divergence?.json ?? ["same": true])
            } else {
                print(divergence.map { "runs differ: \($0)" } ?? "the runs record the same events")
            }
            if divergence != nil { throw ExitStatus.diverged }
        }
    }
}

func formatTime(_ milliseconds: Int64) -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

func formatDuration(_ milliseconds: Int64) -> String {
    milliseconds < 1000 ? "\(milliseconds) ms" : String(format: "%.1f s", Double(milliseconds) / 1000)
}
