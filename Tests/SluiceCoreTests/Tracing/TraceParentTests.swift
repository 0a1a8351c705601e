import SluiceCore
import Testing

@Suite("W3C traceparent")
struct TraceParentTests {
    static let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    @Test("a valid version 00 value gives its trace id, parent id and flags")
    func parsesValid() throws {
        let parent = try #require(TraceParent(Self.valid))
        #expect(parent.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(parent.parentID == "b7ad6b7169203331")
        #expect(parent.flags == 1)
        #expect(parent.isSampled)
        let unsampled = try #require(TraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"))
        #expect(!unsampled.isSampled)
    }

    @Test("a later version may be longer, after a dash")
    func laterVersion() throws {
        let parent = try #require(TraceParent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-comes"))
        #expect(parent.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(TraceParent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x") == nil)
    }

    @Test(
        "invalid values are ignored, never an error",
        arguments: [
            "",
            "00",
            // wrong length for version 00
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
            "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
            // bad hex, uppercase hex
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333z-01",
            "0x-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            // version ff
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            // all-zero ids
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            // wrong separators
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01",
            // multi-byte characters of the right byte length
            "00-0af7651916cd43dd8448eb211c8031é-b7ad6b7169203331-01",
        ])
    func invalid(value: String) {
        #expect(TraceParent(value) == nil, "\(value)")
    }

    @Test("a client's trace context is added to message headers only when its traceparent is valid")
    func addsValidContextOnly() {
        var headers = MessageHeaders()
        headers.addTraceContext { ["traceparent": Self.valid, "tracestate": "vendor=abc"][$0] }
        #expect(headers["traceparent"] == [Self.valid])
        #expect(headers["tracestate"] == ["vendor=abc"])
        #expect(headers.traceContext?.parent == Self.valid)
        #expect(headers.traceContext?.state == "vendor=abc")

        var rejected = MessageHeaders()
        rejected.addTraceContext {
            ["traceparent": "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "vendor=abc"][$0]
        }
        #expect(rejected.isEmpty)

        var stateOnly = MessageHeaders()
        stateOnly.addTraceContext { ["tracestate": "vendor=abc"][$0] }
        #expect(stateOnly.isEmpty)

        var badState = MessageHeaders()
        badState.addTraceContext { ["traceparent": Self.valid, "tracestate": "a=b\nc=d"][$0] }
        #expect(badState["traceparent"] == [Self.valid])
        #expect(badState["tracestate"].isEmpty)
        var longState = MessageHeaders()
        longState.addTraceContext {
            ["traceparent": Self.valid, "tracestate": String(repeating: "a", count: TraceParent.maxStateLength + 1)][$0]
        }
        #expect(longState["tracestate"].isEmpty)
    }

    @Test("a message's trace context is read case-insensitively, and an invalid one is none")
    func readsMessageContext() {
        let headers: MessageHeaders = [("TraceParent", Self.valid), ("other", "x")]
        #expect(headers.traceContext?.parent == Self.valid)
        #expect(headers.traceContext?.state == nil)
        let invalid: MessageHeaders = [("traceparent", "00-zz")]
        #expect(invalid.traceContext == nil)
    }

    @Test("setting a trace context replaces the old one, state included")
    func replaces() {
        var headers: MessageHeaders = [("traceparent", Self.valid), ("tracestate", "old=1"), ("k", "v")]
        let next = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
        headers.setTraceContext(parent: next, state: nil)
        #expect(headers["traceparent"] == [next])
        #expect(headers["tracestate"].isEmpty)
        #expect(headers["k"] == ["v"])
        headers.setTraceContext(parent: next, state: "new=2")
        #expect(headers["tracestate"] == ["new=2"])
    }
}
