/// What the steps decided for a request: the headers they add to its response, and the refusal if one refused.
public struct RateLimitOutcome: Sendable {
    /// In the order set; a later step setting a header already set replaces its value, as Gravitee's `set` does.
    public private(set) var headers: [(name: String, value: String)] = []
    public private(set) var refusal: GatewayError?

    public init() {}

    /// Records a step's decision on its counter (or on the store's failure); false when the request is refused.
    mutating func record(_ policy: RateLimitPolicy, _ counted: Result<RateLimitWindow, any Error>, now: Int64) -> Bool {
        let decision: RateLimitPolicy.Decision
        switch counted {
        case .success(let window): decision = policy.decide(window, now: now)
        case .failure: decision = policy.decideWithoutCounter()
        }
        for header in decision.headers {
            if let index = headers.firstIndex(where: { $0.name == header.name }) {
                headers[index].value = header.value
            } else {
                headers.append(header)
            }
        }
        refusal = decision.refusal
        return refusal == nil
    }
}
