import ArgumentParser
import Composition
import Switchyard

@main
struct SwitchyardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "A hybrid agent orchestrator: local models for private data, cloud models for the rest.",
        discussion: """
            Environment: OLLAMA_HOST (default 127.0.0.1:11434), OPENAI_API_KEY, OPENAI_BASE_URL, \
            NO_COLOR, and the usual http_proxy / https_proxy / no_proxy.
            """,
        version: Switchyard.version,
        subcommands: [
            DoctorCommand.self, ChatCommand.self, EmbedCommand.self, TraceCommand.self, ReplayCommand.self,
            ResumeCommand.self, ToolCommand.self, IndexCommand.self, AgentsCommand.self, RunCommand.self,
            AuditCommand.self,
            TriageCommand.self,
        ]
    )
}
