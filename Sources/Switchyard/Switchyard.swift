/// Switchyard: a hybrid agent orchestrator.
public enum Switchyard {
    public static let version = "0.1.0"
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
