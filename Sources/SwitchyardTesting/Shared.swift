import Synchronization

/// A value tests share with server handlers and tasks.
public final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    public init(_ value: Value) { storage = Mutex(value) }
    public var value: Value { storage.withLock { $0 } }
    public func update<R>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
}
