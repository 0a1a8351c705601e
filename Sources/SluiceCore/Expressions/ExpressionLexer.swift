/// One token of an expression, with its 1-based column in the whole definition value.
struct ExpressionToken: Sendable {
    enum Kind: Sendable, Hashable {
        case identifier(String)
        /// `#name`
        case variable(String)
        case string(String)
        case int(Int64)
        case double(Double)
        case dot, safeDot, openBracket, closeBracket, openParen, closeParen, openBrace, closeBrace, comma
        case question, colon, elvis
        case not, and, or
        case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual, matches
        case plus, minus, times, divide, remainder
        case end

        var description: String {
            switch self {
            case .identifier(let name): "'\(name)'"
            case .variable(let name): "'#\(name)'"
            case .string: "a string"
            case .int, .double: "a number"
            case .end: "the end of the expression"
            default: "'\(Self.symbols.first { $0.value == self }?.key ?? "\(self)")'"
            }
        }

        /// Symbols, longest first where one is a prefix of another.
        static let symbols: [(key: String, value: Kind)] = [
            ("?.", .safeDot), ("?:", .elvis), ("==", .equal), ("!=", .notEqual), ("<=", .lessOrEqual),
            (">=", .greaterOrEqual), ("&&", .and), ("||", .or), (".", .dot), ("[", .openBracket),
            ("]", .closeBracket), ("(", .openParen), (")", .closeParen), ("{", .openBrace), ("}", .closeBrace),
            (",", .comma), ("?", .question), (":", .colon), ("!", .not), ("<", .less), (">", .greater), ("+", .plus),
            ("-", .minus), ("*", .times), ("/", .divide), ("%", .remainder),
        ]

        /// SpEL's word operators (any case).
        static let words: [String: Kind] = [
            "and": .and, "or": .or, "not": .not, "eq": .equal, "ne": .notEqual, "lt": .less, "le": .lessOrEqual,
            "gt": .greater, "ge": .greaterOrEqual, "matches": .matches, "div": .divide, "mod": .remainder,
        ]
    }

    var kind: Kind
    var column: Int
}

/// Splits an expression into tokens.
struct ExpressionLexer {
    private let chars: [Unicode.Scalar]
    private let columnOffset: Int
    private var index = 0

    init(_ source: String, columnOffset: Int) {
        self.chars = Array(source.unicodeScalars)
        self.columnOffset = columnOffset
    }

    mutating func tokens() throws(ExpressionSyntaxError) -> [ExpressionToken] {
        var tokens: [ExpressionToken] = []
        while true {
            let token = try next()
            tokens.append(token)
            if case .end = token.kind { return tokens }
        }
    }

    private func error(_ message: String, at position: Int) -> ExpressionSyntaxError {
        ExpressionSyntaxError(message: message, column: columnOffset + position + 1)
    }

    private static func isIdentifierStart(_ char: Unicode.Scalar) -> Bool {
        char == "_" || char == "$" || (char.properties.isAlphabetic && char.isASCII)
    }

    private static func isIdentifierPart(_ char: Unicode.Scalar) -> Bool {
        isIdentifierStart(char) || ("0"..."9").contains(char)
    }

    private mutating func next() throws(ExpressionSyntaxError) -> ExpressionToken {
        while index < chars.count, chars[index].properties.isWhitespace { index += 1 }
        let start = index
        let column = columnOffset + start + 1
        guard index < chars.count else { return ExpressionToken(kind: .end, column: column) }
        let char = chars[index]
        if char == "'" || char == "\"" {
            return ExpressionToken(kind: .string(try string(quote: char)), column: column)
        }
        if ("0"..."9").contains(char) {
            return ExpressionToken(kind: try number(), column: column)
        }
        if char == "#" {
            index += 1
            guard index < chars.count, Self.isIdentifierStart(chars[index]) else {
                throw error("'#' must be followed by a name", at: start)
            }
            return ExpressionToken(kind: .variable(identifier()), column: column)
        }
        if Self.isIdentifierStart(char) {
            let name = identifier()
            if let word = ExpressionToken.Kind.words[name.lowercased()] {
                return ExpressionToken(kind: word, column: column)
            }
            return ExpressionToken(kind: .identifier(name), column: column)
        }
        for (symbol, kind) in ExpressionToken.Kind.symbols {
            let scalars = Array(symbol.unicodeScalars)
            if index + scalars.count <= chars.count, Array(chars[index..<(index + scalars.count)]) == scalars {
                index += scalars.count
                return ExpressionToken(kind: kind, column: column)
            }
        }
        throw error("unexpected character '\(char)'", at: start)
    }

    private mutating func identifier() -> String {
        var name = ""
        while index < chars.count, Self.isIdentifierPart(chars[index]) {
            name.unicodeScalars.append(chars[index])
            index += 1
        }
        return name
    }

    /// A quoted string: the quote doubled inside it stands for itself.
    private mutating func string(quote: Unicode.Scalar) throws(ExpressionSyntaxError) -> String {
        let start = index
        index += 1
        var value = ""
        while index < chars.count {
            let char = chars[index]
            if char == quote {
                if index + 1 < chars.count, chars[index + 1] == quote {
                    value.unicodeScalars.append(quote)
                    index += 2
                    continue
                }
                index += 1
                return value
            }
            value.unicodeScalars.append(char)
            index += 1
        }
        throw error("unterminated string", at: start)
    }

    private mutating func number() throws(ExpressionSyntaxError) -> ExpressionToken.Kind {
        let start = index
        var text = ""
        var isDouble = false
        while index < chars.count {
            let char = chars[index]
            if ("0"..."9").contains(char) {
                text.unicodeScalars.append(char)
            } else if char == ".", !isDouble, index + 1 < chars.count, ("0"..."9").contains(chars[index + 1]) {
                isDouble = true
                text.unicodeScalars.append(char)
            } else if (char == "e" || char == "E"), !text.isEmpty {
                isDouble = true
                text.unicodeScalars.append(char)
                if index + 1 < chars.count, chars[index + 1] == "-" || chars[index + 1] == "+" {
                    index += 1
                    text.unicodeScalars.append(chars[index])
                }
            } else {
                break
            }
            index += 1
        }
        // Java's suffixes: L for long, d/f for floating point.
        if index < chars.count, "lLdDfF".unicodeScalars.contains(chars[index]) {
            if chars[index] != "l" && chars[index] != "L" { isDouble = true }
            index += 1
        }
        if isDouble, let value = Double(text) { return .double(value) }
        if !isDouble, let value = Int64(text) { return .int(value) }
        throw error("not a number: \(text)", at: start)
    }
}
