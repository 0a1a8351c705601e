import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Gravitee's `mock`: `{ "status": 200, "headers": [{ "name": …, "value": … }], "content": "…" }` answers the
/// request in the endpoint's place. It runs in the request phase of proxy APIs only (Gravitee offers it nowhere
/// else); like Gravitee's, the step only chooses the answer: the rest of the request phase still runs, then the
/// answer is made from the request as the phase left it, the endpoint is never called, and the response phase
/// runs on the answer.
///
/// `content` and header values are templates (`{#request.headers['x'][0]}`). A non-blank `content` gets a
/// `Content-Type` guessed as Gravitee guesses it (`application/json` for a JSON object or array, `text/xml` for
/// well-formed XML, else `text/plain`), which a configured `Content-Type` header replaces; a blank one answers with
/// an empty body and no `Content-Type`. Content that evaluates to null or fails answers 500
/// `MOCK_CONTENT_FAILURE`; a header value that evaluates to null or fails is left out, as Gravitee leaves it.
struct MockPolicy: FlowPolicy, FlowResponder {
    var status: Int
    var headers: [(name: String, value: ExpressionTemplate)]
    /// Nil when the configured content is absent or blank.
    var content: ExpressionTemplate?
    var evaluator = ExpressionEvaluator()

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        // `scope` is written by Gravitee's older exports (`"scope": "REQUEST"`) and ignored by its v4 engine.
        reader.warnUnknown(["status", "headers", "content", "scope"], &diagnostics)
        var status = 200
        if reader.has("status") {
            guard let configured = reader.integer("status", &diagnostics, minimum: 100, maximum: 599) else {
                return nil
            }
            status = Int(configured)
        } else {
            diagnostics.warning(
                reader.path.key("status"), "Gravitee's mock requires a status; 200 is answered",
                code: "MISSING_FIELD")
        }
        let headers = FlowPolicies.namedTemplates(reader, "headers", &diagnostics)
        var content: ExpressionTemplate?
        if let source = reader.string("content", &diagnostics), !source.allSatisfy(\.isWhitespace) {
            guard let template = FlowEngine.parseTemplate(source, at: reader.path.key("content"), &diagnostics) else {
                return nil
            }
            content = template
        }
        return MockPolicy(status: status, headers: headers, content: content)
    }

    func apply(to exchange: inout FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        exchange.responder = self
        return .proceed
    }

    func respond(in scope: ExpressionScope) -> Result<FlowResponse, GatewayError> {
        var answer = FlowResponse(status: status)
        if let content {
            let value: ExpressionValue
            do {
                value = try evaluator.evaluate(content, in: scope)
            } catch {
                return .failure(Self.failure("Unable to evaluate body: \(error)"))
            }
            guard !value.isNull else { return .failure(Self.failure("Unable to evaluate body")) }
            answer.body = value.text
            answer.headers.set(name: "Content-Type", value: Self.contentType(of: answer.body))
        }
        for (name, template) in headers {
            guard let value = try? evaluator.evaluate(template, in: scope), !value.isNull else { continue }
            answer.headers.set(name: name, value: value.text)
        }
        return .success(answer)
    }

    static func failure(_ message: String) -> GatewayError {
        GatewayError(status: 500, key: "MOCK_CONTENT_FAILURE", message: message)
    }

    /// The content type Gravitee's mock guesses from the answer's body.
    static func contentType(of body: String) -> String {
        if case .object? = try? JSONValue.parse(json: Data(body.utf8)) { return "application/json" }
        if case .array? = try? JSONValue.parse(json: Data(body.utf8)) { return "application/json" }
        if XMLParser(data: Data(body.utf8)).parse() { return "text/xml" }
        return "text/plain"
    }
}
