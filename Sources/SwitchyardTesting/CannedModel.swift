import Providers
public import Switchyard

/// A model that answers at once, in this process: for benchmarks and crash tests that need
/// model effects without a server. It renders its requests as Chat Completions would.
public struct CannedModel: ModelProvider {
    public var answer: String
    /// How long each answer takes.
    public var delay: Duration
    /// Told of each request the model answers.
    public var onAsk: @Sendable (ModelRequest) -> Void
    private let rendering = OpenAIChatProvider(baseURL: "http://127.0.0.1:9/v1", apiKey: nil, model: "canned")

    public init(
        answer: String = #"{"steps": [{"kind": "tool", "tool": "read"}]}"#, delay: Duration = .zero,
        onAsk: @escaping @Sendable (ModelRequest) -> Void = { _ in }
    ) {
        self.answer = answer
        self.delay = delay
        self.onAsk = onAsk
    }

    /// The request of call `index` in a scripted run of model calls.
    public static func request(_ index: Int) -> ModelRequest {
        ModelRequest(messages: [.user("step \(index)")])
    }

    public func wire(_ request: ModelRequest) -> WireRequest { rendering.wire(request) }

    public func stream(_ request: ModelRequest) -> ModelEventStream {
        onAsk(request)
        let (answer, delay) = (answer, delay)
        return ModelEventStream { batch in
            if delay > .zero { try await Task.sleep(for: delay) }
            batch.append(contentsOf: [.textDelta(answer), .finish(.stop)])
        }
    }
}
