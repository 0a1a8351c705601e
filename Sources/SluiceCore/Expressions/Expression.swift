/// A parsed expression of Gravitee's expression language (the part of Spring's SpEL that Gravitee definitions
/// use): written between `{#` and `}` in a definition, parsed once at deploy time and evaluated per request or per
/// message by ``ExpressionEvaluator``.
public indirect enum Expression: Sendable, Equatable {
    case literal(ExpressionValue)
    /// `#name`: a root variable (`#request`, `#context`, `#message`, …).
    case variable(String)
    /// `target.name`, or `target?.name` (`safe`: null when the target is null).
    case member(Expression, String, safe: Bool)
    /// `target[index]`, or `target?.[index]`.
    case index(Expression, Expression, safe: Bool)
    /// `target.name(arguments)`, or `target?.name(arguments)`.
    case method(Expression, String, [Expression], safe: Bool)
    /// `#name(arguments)`: a function (`#jsonPath`).
    case function(String, [Expression])
    /// `{a, b}`: an inline list.
    case list([Expression])
    case unary(UnaryOperator, Expression)
    case binary(BinaryOperator, Expression, Expression)
    /// `condition ? then : else`
    case conditional(Expression, Expression, Expression)
    /// `value ?: fallback` (the fallback when the value is null or an empty string).
    case elvis(Expression, Expression)

    public enum UnaryOperator: String, Sendable {
        case not = "!"
        case negate = "-"
    }

    public enum BinaryOperator: String, Sendable {
        case or = "||"
        case and = "&&"
        case equal = "=="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
        case matches
        case plus = "+"
        case minus = "-"
        case times = "*"
        case divide = "/"
        case remainder = "%"
    }
}

/// A definition value that may mix text with `{#…}` expressions (`"topic-{#request.headers['x'][0]}"`). Plain
/// text is a template of one text part.
public struct ExpressionTemplate: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case text(String)
        case expression(Expression)
    }

    public var parts: [Part]

    /// The template's only expression when it is nothing but one `{#…}` (a condition, say): its value keeps its
    /// type instead of becoming text.
    public var soleExpression: Expression? {
        if parts.count == 1, case .expression(let expression) = parts[0] { return expression }
        return nil
    }

    /// Whether the value holds any expression at all.
    public var hasExpressions: Bool {
        parts.contains { if case .expression = $0 { true } else { false } }
    }
}

/// Why an expression does not parse, with the 1-based column (in the whole definition value) where it went wrong.
public struct ExpressionSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var column: Int

    public var description: String { "column \(column): \(message)" }
}
