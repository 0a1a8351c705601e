/// A JAAS login configuration as Kafka clients take it in `sasl.jaas.config`, e.g.
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`.
///
/// Read the way Kafka's own parser reads it: a login module class, a control flag, then `name=value` options
/// whose values are bare words or quoted with `"` or `'` (a backslash escapes the next character inside quotes),
/// ended by `;`.
public struct KafkaJAASConfiguration: Sendable, Hashable {
    public var loginModule: String
    /// `required`, `requisite`, `sufficient` or `optional`.
    public var controlFlag: String
    public var options: [String: String]

    /// Why a JAAS text could not be read; never contains the text itself (it holds secrets).
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(ParseError) {
        var scanner = Scanner(Array(text.unicodeScalars))
        guard let module = scanner.word(), !module.isEmpty else {
            throw ParseError(description: "expected a login module class name")
        }
        guard let flag = scanner.word()?.lowercased(),
            ["required", "requisite", "sufficient", "optional"].contains(flag)
        else {
            throw ParseError(description: "expected the control flag 'required' after the login module class")
        }
        var options: [String: String] = [:]
        while true {
            scanner.skipWhitespace()
            if scanner.atEnd { break }
            if scanner.peek == ";" {
                scanner.advance()
                scanner.skipWhitespace()
                guard scanner.atEnd else {
                    throw ParseError(description: "only one login module is supported; text follows the ';'")
                }
                break
            }
            guard let name = scanner.word(stoppingAt: "="), !name.isEmpty else {
                throw ParseError(description: "expected an option name")
            }
            scanner.skipWhitespace()
            guard scanner.peek == "=" else { throw ParseError(description: "option '\(name)' has no '=' and value") }
            scanner.advance()
            scanner.skipWhitespace()
            let value: String
            if let quote = scanner.peek, quote == "\"" || quote == "'" {
                scanner.advance()
                guard let quoted = scanner.quoted(until: quote) else {
                    throw ParseError(description: "the value of option '\(name)' has no closing quote")
                }
                value = quoted
            } else {
                guard let word = scanner.word(stoppingAt: ";"), !word.isEmpty else {
                    throw ParseError(description: "option '\(name)' has no value")
                }
                value = word
            }
            options[name] = value
        }
        self.loginModule = module
        self.controlFlag = flag
        self.options = options
    }

    /// A tiny scanner over Unicode scalars.
    private struct Scanner {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var atEnd: Bool { index >= scalars.count }
        var peek: Unicode.Scalar? { atEnd ? nil : scalars[index] }
        mutating func advance() { index += 1 }

        mutating func skipWhitespace() {
            while let scalar = peek, scalar.properties.isWhitespace { advance() }
        }

        /// A run of characters up to whitespace, `;` or `stop`.
        mutating func word(stoppingAt stop: Unicode.Scalar = ";") -> String? {
            skipWhitespace()
            var result = String.UnicodeScalarView()
            while let scalar = peek, !scalar.properties.isWhitespace, scalar != ";", scalar != stop {
                result.append(scalar)
                advance()
            }
            return atEnd && result.isEmpty ? nil : String(result)
        }

        /// The text up to the closing `quote` (consumed); a backslash takes the next character as it is.
        mutating func quoted(until quote: Unicode.Scalar) -> String? {
            var result = String.UnicodeScalarView()
            while let scalar = peek {
                advance()
                if scalar == quote { return String(result) }
                if scalar == "\\", let escaped = peek {
                    advance()
                    result.append(escaped)
                } else {
                    result.append(scalar)
                }
            }
            return nil
        }
    }
}
