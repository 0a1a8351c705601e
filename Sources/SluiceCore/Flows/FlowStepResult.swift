/// What a step decided.
public enum FlowStepResult: Sendable, Equatable {
    /// Go on with the next step.
    case proceed
    /// Go on after this long (the `latency` policy); the runner waits without blocking a thread.
    case delay(Duration)
    /// Drop this message (message phases only): it goes no further, and the exchange goes on.
    case drop
    /// End the exchange with this error (its status and key are the policy's).
    case fail(GatewayError)
}
