/// Switchyard: a hybrid agent orchestrator.
public enum Switchyard {
    public static let version = "0.1.0"
}
