import ArgumentParser
import Composition
import Foundation
import Switchyard

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run a recorded run on its recorded effects, and report where it first diverges.",
        discussion: """
            No model or tool is called: every result comes from the trace. Each request the run \
            makes is compared with the recorded one (as canonical JSON, so key order never \
            matters), and so is the HTTP body it would send (where it would be sent is not); the \
            first difference is reported with its event, field path, and the old and new values. \
            What-if: --set KEY=VALUE replays with a changed setting (a profile's model, an option); \
            for a chat run, --prompt and --profile change its inputs; for an agent run, --agent \
            FILE replays with an edited spec. --live-from STEP forks an agent or ticket run: \
            recorded effects up to that step (which must match), live models and tools from it on, \
            all of it recorded as a new run whose parent is this one. Exit status 6 means the run \
            diverged.
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "What-if: ask this instead of the recorded prompt.") var prompt: String?
    @Option(help: "What-if: name this profile instead of the recorded one.") var profile: String?
    @Option(help: ArgumentHelp("What-if: replay an agent run with this spec instead.", valueName: "FILE"))
    var agent: String?
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("What-if: replay with this setting changed.", valueName: "KEY=VALUE"))
    var overrides: [String] = []
    @Option(
        help: ArgumentHelp(
            "Fork: replay up to this step (plan-3, $4, decide, …), run live from it on, and record the result as a new run linked to this one.",
            valueName: "STEP"))
    var liveFrom: String?
    @Flag(help: "Print the outcome as JSON.") var json = false
    @Argument(help: "The run id, or its first characters.") var run: String

    func run() async throws {
        do {
            let store = try TraceStore(path: try storeOptions.path)
            let id = try await store.resolve(run)
            let replayer = Replayer(
                store: store, assembly: StandardAssembly(), environment: ProcessInfo.processInfo.environment,
                agent: agent, overrides: overrides, notice: warn)
            if let liveFrom {
                try report(try await replayer.fork(id, at: liveFrom), step: liveFrom)
            } else {
                try report(try await replayer.replay(id, prompt: prompt, profile: profile))
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error)
        }
    }

    /// Prints how a replay went; exit status 6 when it diverged.
    func report(_ outcome: Replayer.Outcome) throws {
        let id = outcome.run
        if let divergence = outcome.divergence {
            if json {
                printJSON(["run": .string(id.rawValue), "diverged": true, "divergence": divergence.json])
            } else {
                print(divergence.description)
            }
            throw ExitStatus.diverged
        }
        if json {
            var object: [String: JSONValue] = [
                "run": .string(id.rawValue), "diverged": false, "events": .number(Double(outcome.events)),
            ]
            if let answer = outcome.answer { object["answer"] = .string(answer) }
            if let text = outcome.text { object["text"] = .string(text) }
            printJSON(.object(object))
        } else {
            print("replayed \(id): \(outcome.events) events, no divergence")
        }
    }

    /// Prints how a fork went; exit status 6 when it diverged before its step.
    func report(_ fork: Replayer.Fork, step: String) throws {
        if let divergence = fork.divergence {
            if json {
                printJSON([
                    "run": .string(fork.run.rawValue), "fork": .string(fork.child.rawValue), "diverged": true,
                    "divergence": divergence.json,
                ])
            } else {
                print("the fork diverged before \(step), so it stopped there:")
                print(divergence.description)
            }
            throw ExitStatus.diverged
        }
        let answer = fork.answer ?? ""
        if json {
            printJSON([
                "run": .string(fork.run.rawValue), "fork": .string(fork.child.rawValue), "diverged": false,
                "answer": .string(answer),
            ])
        } else {
            print(answer)
            FileHandle.standardError.write(
                Data(
                    "\nforked \(fork.run) at \(step) into run \(fork.child): recorded up to \(step), live after\n".utf8)
            )
        }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Finish an interrupted run: completed effects come from the trace, the rest run live.",
        discussion: """
            A run whose process died (a crash, a kill) is marked interrupted when the store is next \
            opened. Resuming serves every effect whose result was recorded, without repeating it, \
            and performs the rest, appending to the same run. A model request made but never \
            answered is made again; a tool call that began but has no recorded result is not \
            repeated (tools are not assumed idempotent) and stops the resume.
            Chat runs and agent runs (switchyard run) resume; the workspace, its settings, the \
            run's --set assignments and an agent's spec come from the run's header (--workspace \
            is not used), and --set can change a profile (say, a moved base_url). The wall-time budget counts from the run's start, time it was down \
            included. A triage batch resumes by running triage again: decided tickets are skipped.
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var settings: SettingsOptions
    @Argument(help: "The run id, or its first characters.") var run: String

    func run() async throws {
        let resumed: Replayer.Resumed
        let id: RunID
        do {
            let store = try TraceStore(path: try storeOptions.path)
            id = try await store.resolve(run)
            let replayer = Replayer(
                store: store, assembly: StandardAssembly(), environment: ProcessInfo.processInfo.environment,
                overrides: settings.overrides, notice: warn, progress: RunCommand.show)
            resumed = try await replayer.resume(id)
        } catch {
            throw fail(error)
        }
        switch resumed {
        case .chat(let response):
            if !response.text.isEmpty { print(response.text) }
            for call in response.toolCalls { print("[tool call] \(call.name) \(call.arguments)") }
            FileHandle.standardError.write(Data("(resumed run \(id); it is finished)\n".utf8))
        case .agent(let result):
            print(result.answer)
            FileHandle.standardError.write(
                Data(
                    "\n(resumed run \(id) — \(result.stopReason); \(result.steps) steps, \(result.tokens) tokens)\n"
                        .utf8))
            if result.status != .finished { throw ExitStatus.stopped }
        }
    }
}
