import Foundation

/// Waits until `condition` holds, for at most `limit`; returns whether it did. The limit is
/// generous: the local model server can hold both cores while other suites run.
func eventually(within limit: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
