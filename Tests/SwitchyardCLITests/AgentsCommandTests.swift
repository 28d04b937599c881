import Foundation
import Switchyard
import SwitchyardTesting
import Testing

@Suite struct AgentsCommandTests {
    let binary = BuiltProducts.executable("switchyard")
    let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    /// The repository's own `agents/` directory.
    static let agents = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("agents").path

    /// `agents validate --json` reports each file; `agents ls` lists a directory's specs.
    @Test func validatesAndListsTheRepositorysSpecs() async throws {
        let specs = AgentSpec.paths(in: Self.agents)
        let result = try await runProgram(binary, ["agents", "validate", "--json"] + specs, environment: environment)
        #expect(result.status == 0, "\(result.standardOutput)")
        let results = try JSONValue(parsing: result.standardOutput).arrayValue ?? []
        #expect(results.map { $0["file"]?.stringValue } == specs)
        #expect(results.allSatisfy { $0["valid"]?.boolValue == true })
        let listed = try await runProgram(
            binary, ["agents", "ls", "--directory", Self.agents], environment: environment)
        #expect(listed.standardOutput.contains("code-assistant"))
    }

    @Test func unknownToolsAndToolOptionsAreErrorsWithTheirLine() async throws {
        let directory = try TemporaryDirectory("agents")
        let header = "---\nname: NAME\nprofiles:\n  local: { provider: ollama, model: m }\ntools:\n"
        try directory.write("teleport.md", header.replacing("NAME", with: "teleport") + "  teleport: {}\n---\nHi\n")
        try directory.write("typo.md", header.replacing("NAME", with: "typo") + "  shell:\n    alow: [ls]\n---\nHi\n")
        try directory.write("good.md", header.replacing("NAME", with: "good") + "  read: {}\n---\nHi\n")
        let result = try await runProgram(
            binary,
            [
                "agents", "validate", "\(directory.path)/teleport.md", "\(directory.path)/typo.md",
                "\(directory.path)/good.md",
            ],
            environment: environment)
        #expect(result.status == 2)
        #expect(result.standardOutput.contains("teleport.md:6: unknown tool 'teleport'"))
        #expect(result.standardOutput.contains("typo.md:7: tools.shell.alow is not an option"))
        #expect(result.standardOutput.contains("ok    \(directory.path)/good.md"))
    }
}
