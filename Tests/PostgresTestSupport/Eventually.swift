public import Testing

/// Waits until `condition` holds, checking every 50 ms; returns how long it took, or fails after `limit`.
@discardableResult
package func eventually(
    within limit: Duration, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws -> Duration {
    let start = ContinuousClock.now
    while ContinuousClock.now - start < limit {
        if (try? await condition()) == true { return ContinuousClock.now - start }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("\(what): not within \(limit)", sourceLocation: sourceLocation)
    return ContinuousClock.now - start
}
