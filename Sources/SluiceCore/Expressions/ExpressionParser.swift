/// Parses definition values that hold expressions: templates (`text {#expression} text`) and the expressions in
/// them, with SpEL's precedence (lowest first): `? :` and `?:`, `||`/`or`, `&&`/`and`, comparisons and `matches`,
/// `+ -`, `* / %`, `!`/`not` and unary `-`, then member access, indexing and calls. Anything else SpEL has (type
/// references, assignments, bean references, projections, constructors) is refused: a definition that needs it is
/// refused at deploy, with the column where it went wrong.
public struct ExpressionParser: Sendable {
    /// The longest definition value parsed, in UTF-8 bytes. Default: 64 KiB.
    public static let maximumLength = 64 * 1024
    /// How deeply expressions may nest. Default: 64.
    public static let maximumDepth = 64

    public init() {}

    /// Parses a value that may mix text and `{#…}` expressions.
    public func parseTemplate(_ source: String) throws(ExpressionSyntaxError) -> ExpressionTemplate {
        let chars = Array(source.unicodeScalars)
        guard source.utf8.count <= Self.maximumLength else {
            throw ExpressionSyntaxError(message: "longer than \(Self.maximumLength) bytes", column: 1)
        }
        var parts: [ExpressionTemplate.Part] = []
        var text = ""
        var index = 0
        while index < chars.count {
            if chars[index] == "{", index + 1 < chars.count, chars[index + 1] == "#" {
                let end = try Self.closingBrace(chars, from: index)
                if !text.isEmpty {
                    parts.append(.text(text))
                    text = ""
                }
                let inner = String(String.UnicodeScalarView(chars[(index + 1)..<end]))
                parts.append(.expression(try parse(inner, columnOffset: index + 1)))
                index = end + 1
            } else {
                text.unicodeScalars.append(chars[index])
                index += 1
            }
        }
        if !text.isEmpty || parts.isEmpty { parts.append(.text(text)) }
        return ExpressionTemplate(parts: parts)
    }

    /// Parses one expression (the text between `{` and `}`, `#` included). `columnOffset` is where it starts in
    /// the whole value, for the columns of errors.
    public func parse(_ source: String, columnOffset: Int = 0) throws(ExpressionSyntaxError) -> Expression {
        var lexer = ExpressionLexer(source, columnOffset: columnOffset)
        var state = State(tokens: try lexer.tokens())
        let expression = try state.expression(depth: 0)
        guard case .end = state.current.kind else {
            throw state.error("unexpected \(state.current.kind.description)")
        }
        return expression
    }

    /// The index of the `}` that closes the `{` at `start`, skipping quoted text and nested braces.
    private static func closingBrace(_ chars: [Unicode.Scalar], from start: Int) throws(ExpressionSyntaxError) -> Int {
        var depth = 0
        var index = start
        var quote: Unicode.Scalar?
        var quoteStart = start
        while index < chars.count {
            let char = chars[index]
            if let open = quote {
                if char == open {
                    // A doubled quote is an escaped one.
                    if index + 1 < chars.count, chars[index + 1] == open { index += 2; continue }
                    quote = nil
                }
            } else if char == "'" || char == "\"" {
                quote = char
                quoteStart = index
            } else if char == "{" {
                depth += 1
            } else if char == "}" {
                depth -= 1
                if depth == 0 { return index }
            }
            index += 1
        }
        if quote != nil { throw ExpressionSyntaxError(message: "unterminated string", column: quoteStart + 1) }
        throw ExpressionSyntaxError(message: "'{#' without its closing '}'", column: start + 1)
    }

    /// The tokens being parsed and where the parser stands.
    private struct State {
        var tokens: [ExpressionToken]
        var position = 0

        var current: ExpressionToken { tokens[position] }

        func error(_ message: String) -> ExpressionSyntaxError {
            ExpressionSyntaxError(message: message, column: current.column)
        }

        mutating func advance() { if position < tokens.count - 1 { position += 1 } }

        mutating func take(_ kind: ExpressionToken.Kind) -> Bool {
            guard current.kind == kind else { return false }
            advance()
            return true
        }

        mutating func expect(_ kind: ExpressionToken.Kind) throws(ExpressionSyntaxError) {
            guard take(kind) else { throw error("expected \(kind.description), found \(current.kind.description)") }
        }

        mutating func expression(depth: Int) throws(ExpressionSyntaxError) -> Expression {
            guard depth < ExpressionParser.maximumDepth else { throw error("nested too deeply") }
            let condition = try binary(level: 0, depth: depth)
            if take(.elvis) {
                return .elvis(condition, try expression(depth: depth + 1))
            }
            if take(.question) {
                let then = try expression(depth: depth + 1)
                try expect(.colon)
                return .conditional(condition, then, try expression(depth: depth + 1))
            }
            return condition
        }

        /// Binary operators by level, lowest first.
        static let levels: [[ExpressionToken.Kind: Expression.BinaryOperator]] = [
            [.or: .or],
            [.and: .and],
            [
                .equal: .equal, .notEqual: .notEqual, .less: .less, .lessOrEqual: .lessOrEqual, .greater: .greater,
                .greaterOrEqual: .greaterOrEqual, .matches: .matches,
            ],
            [.plus: .plus, .minus: .minus],
            [.times: .times, .divide: .divide, .remainder: .remainder],
        ]

        mutating func binary(level: Int, depth: Int) throws(ExpressionSyntaxError) -> Expression {
            guard level < Self.levels.count else { return try unary(depth: depth) }
            var left = try binary(level: level + 1, depth: depth)
            while let op = Self.levels[level][current.kind] {
                advance()
                let right = try binary(level: level + 1, depth: depth)
                left = .binary(op, left, right)
                // Comparisons do not chain (`a == b == c` is an error in SpEL too).
                if level == 2, Self.levels[2][current.kind] != nil { throw error("comparisons cannot be chained") }
            }
            return left
        }

        mutating func unary(depth: Int) throws(ExpressionSyntaxError) -> Expression {
            guard depth < ExpressionParser.maximumDepth else { throw error("nested too deeply") }
            if take(.not) { return .unary(.not, try unary(depth: depth + 1)) }
            if take(.minus) { return .unary(.negate, try unary(depth: depth + 1)) }
            return try postfix(depth: depth)
        }

        mutating func postfix(depth: Int) throws(ExpressionSyntaxError) -> Expression {
            var target = try primary(depth: depth)
            while true {
                let safe: Bool
                if take(.dot) {
                    safe = false
                } else if take(.safeDot) {
                    safe = true
                    if take(.openBracket) {
                        let key = try expression(depth: depth + 1)
                        try expect(.closeBracket)
                        target = .index(target, key, safe: true)
                        continue
                    }
                } else if take(.openBracket) {
                    let key = try expression(depth: depth + 1)
                    try expect(.closeBracket)
                    target = .index(target, key, safe: false)
                    continue
                } else {
                    return target
                }
                guard case .identifier(let name) = current.kind else {
                    throw error("expected a name after '.', found \(current.kind.description)")
                }
                advance()
                if take(.openParen) {
                    target = .method(target, name, try arguments(depth: depth), safe: safe)
                } else {
                    target = .member(target, name, safe: safe)
                }
            }
        }

        /// The arguments of a call, after its `(`.
        mutating func arguments(depth: Int) throws(ExpressionSyntaxError) -> [Expression] {
            var arguments: [Expression] = []
            if take(.closeParen) { return arguments }
            repeat {
                arguments.append(try expression(depth: depth + 1))
            } while take(.comma)
            try expect(.closeParen)
            return arguments
        }

        mutating func primary(depth: Int) throws(ExpressionSyntaxError) -> Expression {
            let token = current
            switch token.kind {
            case .string(let value):
                advance()
                return .literal(.string(value))
            case .int(let value):
                advance()
                return .literal(.int(value))
            case .double(let value):
                advance()
                return .literal(.double(value))
            case .identifier("true"):
                advance()
                return .literal(.bool(true))
            case .identifier("false"):
                advance()
                return .literal(.bool(false))
            case .identifier("null"):
                advance()
                return .literal(.null)
            case .variable(let name):
                advance()
                if take(.openParen) { return .function(name, try arguments(depth: depth)) }
                return .variable(name)
            case .openParen:
                advance()
                let inner = try expression(depth: depth + 1)
                try expect(.closeParen)
                return inner
            case .openBrace:
                advance()
                var items: [Expression] = []
                if !take(.closeBrace) {
                    repeat {
                        items.append(try expression(depth: depth + 1))
                    } while take(.comma)
                    try expect(.closeBrace)
                }
                return .list(items)
            case .identifier("T"):
                throw error("type references (T(...)) are not allowed")
            case .identifier("new"):
                throw error("constructors are not allowed")
            case .identifier(let name):
                throw error("unknown name '\(name)' (variables start with '#')")
            default:
                throw error("unexpected \(token.kind.description)")
            }
        }
    }
}
