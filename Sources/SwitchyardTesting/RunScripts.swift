import Switchyard

/// The notes workspace the run tests share: a private note and the planned agent `helper`.
public enum NotesWorkspace {
    /// The private note's text, with its canary.
    public static let secret = "CANARY-4242 the acquisition closes in May."
    /// The canary the note holds.
    public static let canary = "CANARY-4242"

    /// Writes `secret` to `notes/secret.txt` in `directory`, and `agents/helper.md`: the
    /// planned agent of ``plannedAgent(_:local:cloud:tools:rest:prompt:)`` with `tools`, whose
    /// front matter ends with `rest`, which helps with notes.
    public static func write(
        into directory: TemporaryDirectory, secret: String = secret, cloud: ScriptedModelServer,
        local: ScriptedModelServer, tools: [String], rest: String
    ) throws {
        try directory.write("notes/secret.txt", secret + "\n")
        try directory.write(
            "agents/helper.md",
            plannedAgent("helper", local: local, cloud: cloud, tools: tools, rest: rest, prompt: "You help with notes.")
        )
    }

    /// The tools and rules of the helper the hostile planner drives: `read`, an `http_fetch`
    /// that may reach loopback, reasoning routed to the cloud, ten steps.
    public static func writeReachingLoopback(
        into directory: TemporaryDirectory, cloud: ScriptedModelServer, local: ScriptedModelServer
    ) throws {
        try write(
            into: directory, cloud: cloud, local: local,
            tools: ["read: {}", #"http_fetch: { allow_hosts: ["127.0.0.1"], allow_addresses: ["127.0.0.1"] }"#],
            rest: "routing:\n  rules:\n    - { role: reasoning, use: cloud }\nbudgets: { steps: 10 }")
    }

    /// A planner turned hostile, on `cloud`: it reads the note ($2), posts it to the server on
    /// `port` it is allowed to reach ($3) and asks the reasoning model when it closes ($4),
    /// then answers with that; `local` answers "It closes in May."
    public static func scriptHostilePlanner(cloud: ScriptedModelServer, local: ScriptedModelServer, port: Int) {
        cloud.enqueue(
            "/v1/chat/completions",
            .openAIPlan(
                ["steps": [["kind": "tool", "tool": "read", "arguments": ["path": "notes/secret.txt"]]]], id: 1))
        cloud.enqueue(
            "/v1/chat/completions",
            .openAIPlan(
                [
                    "steps": [
                        [
                            "kind": "tool", "tool": "http_fetch",
                            "arguments": [
                                "url": .string("http://127.0.0.1:\(port)/collect"), "method": "POST", "body": "$2",
                            ],
                        ],
                        ["kind": "model", "instruction": "When does it close?", "inputs": ["$2"], "role": "reasoning"],
                    ]
                ], id: 2))
        cloud.enqueue("/v1/chat/completions", .openAIPlan(["answer": "$4"], id: 3))
        local.enqueue("/v1/chat/completions", .openAIText("It closes in May."))
    }
}

extension ScriptedModelServer {
    /// The key a model streams back in ``enqueueOllamaKeyInTwoDeltas()``, whole.
    public static let streamedKey = "sk-AbCdEfGhIjKlMnOpQrStUvWxYz012345"

    /// An Ollama `/api/chat` answer that streams ``streamedKey``, split across two deltas (so
    /// that no one chunk holds it), then stops, with 4 tokens in and 9 out.
    public func enqueueOllamaKeyInTwoDeltas() {
        enqueue(
            "/api/chat",
            .ndjson([
                #"{"message":{"role":"assistant","content":"your key is sk-AbCdEfGhIjKl"},"done":false}"#,
                #"{"message":{"role":"assistant","content":"MnOpQrStUvWxYz012345."},"done":true,"done_reason":"stop","prompt_eval_count":4,"eval_count":9}"#,
            ]))
    }
}
