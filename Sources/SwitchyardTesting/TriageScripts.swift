import Switchyard

/// What a triage agent's servers answer, in OpenAI's wire format, for the triage tests.
extension ScriptedModelServer {
    /// A ticket's embedding, as `/v1/embeddings` returns it. It is asked for once a ticket: the
    /// duplicate search embeds the ticket and storing it reuses that vector (the first ticket,
    /// with nothing stored to search yet, is embedded to be stored).
    public func enqueueEmbedding(_ vector: [Double]) {
        let numbers = vector.map { JSONValue.number($0).canonicalText }.joined(separator: ",")
        enqueue(
            "/v1/embeddings",
            .json(
                #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[\#(numbers)]}],"model":"e","usage":{"prompt_tokens":5,"total_tokens":5}}"#
            ))
    }

    /// A reading of a ticket as a model answers it: with a summary and a duplicate (a local
    /// reading), or without them (`secondOpinion`, as the escalation's schema asks).
    public func enqueueTriageReading(
        _ component: String, priority: String = "P2", confidence: Double, duplicateOf: String? = nil,
        secondOpinion: Bool = false
    ) {
        var reading: [String: JSONValue] = [
            "component": .string(component), "labels": ["bug"], "priority": .string(priority),
            "confidence": .number(confidence),
        ]
        if !secondOpinion {
            reading["summary"] = "A short summary."
            reading["duplicate_of"] = duplicateOf.map(JSONValue.string) ?? .null
        }
        enqueue("/v1/chat/completions", .openAIText(JSONValue.object(reading).canonicalText))
    }
}
