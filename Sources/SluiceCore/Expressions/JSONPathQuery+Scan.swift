/// `#jsonPath` on JSON text without building the document: a definite path of names and non-negative indexes
/// (`$.type`, `$.data.order['id']`, `$.items[0]`), the common filter, is answered by one pass over the bytes that
/// checks the whole text as ``JSONTextParser`` does (what it refuses is refused here, and the same value is found,
/// the last of duplicate keys winning) and keeps only the byte range of the value the path leads to. Only that
/// value is then parsed. Other paths build the document (``JSONPathQuery/evaluate(_:on:limit:)``).
extension JSONPathQuery {
    /// The value at `steps` in `text`, or nil when the scan does not apply (a path it does not take); throws when
    /// `text` is not JSON.
    static func scan(_ steps: [Step], in text: String) throws(ExpressionError) -> ExpressionValue? {
        var text = text
        let scanned: Result<ExpressionValue?, ExpressionError> = text.withUTF8 { bytes in
            do throws(ExpressionError) {
                return .success(try scan(steps, in: bytes))
            } catch {
                return .failure(error)
            }
        }
        return try scanned.get()
    }

    /// The value at `steps` in the JSON text `bytes` (UTF-8; a byte sequence that is not UTF-8 reads as the text
    /// made from it would, with replacement characters), or nil when the scan does not apply.
    static func scan(_ steps: [Step], in bytes: UnsafeBufferPointer<UInt8>) throws(ExpressionError) -> ExpressionValue?
    {
        for step in steps {
            switch step {
            case .child: continue
            case .index(let index) where index >= 0: continue
            default: return nil
            }
        }
        var scanner = JSONPathScanner(bytes: bytes, steps: steps)
        guard let found = scanner.document() else { throw ExpressionError("#jsonPath: the value is not JSON") }
        guard let range = found else { return .null }
        // A string without escapes (`"created"`) is its bytes, as the parser would decode them.
        if bytes[range.lowerBound] == UInt8(ascii: "\""), !bytes[range].contains(UInt8(ascii: "\\")) {
            let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
            return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes[inner]), as: UTF8.self))
        }
        let value: JSONValue
        do {
            // Through the text made from the bytes, as the parser reads a message's content.
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            var parser = JSONTextParser(bytes: Array(text.utf8))
            value = try parser.parseDocument()
        } catch {
            throw ExpressionError("#jsonPath: the value is not JSON")
        }
        return expressionValue(value)
    }
}

/// One scan of JSON text along a definite path: the same grammar as ``JSONTextParser`` (its lenient numbers, its
/// escapes, its depth limit), no value built.
struct JSONPathScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let steps: [JSONPathQuery.Step]
    /// How many steps the path has: a value at that level is the one the path leads to.
    let stepCount: Int
    /// The steps' names, and as UTF-8 when they are ASCII (then an ASCII key is compared without decoding it).
    let names: [(text: String, ascii: [UInt8]?)?]
    var index = 0
    var depth = 0
    /// Where the value the path leads to is, if the scan has met it.
    var found: Range<Int>?

    init(bytes: UnsafeBufferPointer<UInt8>, steps: [JSONPathQuery.Step]) {
        self.bytes = bytes
        self.steps = steps
        self.stepCount = steps.count
        self.names = steps.map { step in
            guard case .child(let name) = step else { return nil }
            return (name, name.utf8.allSatisfy { $0 < 0x80 } ? Array(name.utf8) : nil)
        }
    }

    /// The range of the value at the path (nil inside when there is none), or nil when the text is not JSON.
    mutating func document() -> Range<Int>?? {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        guard value(at: 0) else { return nil }
        skipWhitespace()
        guard index == bytes.count else { return nil }
        return .some(found)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Scans one value; `level` is how many steps of the path lead to it (nil: off the path). False when the text
    /// is not JSON.
    mutating func value(at level: Int?) -> Bool {
        guard index < bytes.count else { return false }
        let start = index
        let ok: Bool
        switch bytes[index] {
        case UInt8(ascii: "{"): ok = object(at: level)
        case UInt8(ascii: "["): ok = array(at: level)
        case UInt8(ascii: "\""): ok = string() != nil
        case UInt8(ascii: "t"): ok = literal("true")
        case UInt8(ascii: "f"): ok = literal("false")
        case UInt8(ascii: "n"): ok = literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): ok = number()
        default: return false
        }
        if ok, level == stepCount { found = start..<index }
        return ok
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let expected = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != expected[offset] { return false }
        index += count
        return true
    }

    mutating func object(at level: Int?) -> Bool {
        depth += 1
        defer { depth -= 1 }
        guard depth <= JSONTextParser.maxDepth else { return false }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return true
        }
        // Off the path (most of a document) no key is compared.
        let wanted = level.map { $0 < stepCount && names[$0] != nil } ?? false
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return false }
            let keyStart = index + 1
            guard let escaped = string() else { return false }
            var next: Int?
            if wanted, let level, key(keyStart..<(index - 1), escaped: escaped, is: names[level]!) {
                // A later duplicate key replaces the earlier one, as in the parsed document.
                found = nil
                next = level + 1
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
            index += 1
            skipWhitespace()
            guard value(at: next) else { return false }
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return true
            }
            return false
        }
    }

    /// Whether the key's text (between its quotes) is `name`, as the parsed document's keys compare: as Swift
    /// strings, so canonically equivalent texts are one key (`\u212A`, the Kelvin sign, is `K`). ASCII against ASCII
    /// is compared byte by byte.
    func key(_ range: Range<Int>, escaped: Bool, is name: (text: String, ascii: [UInt8]?)) -> Bool {
        if !escaped, let ascii = name.ascii {
            var plain = true
            for index in range where bytes[index] >= 0x80 {
                plain = false
                break
            }
            if plain {
                guard range.count == ascii.count else { return false }
                for offset in 0..<ascii.count where bytes[range.lowerBound + offset] != ascii[offset] { return false }
                return true
            }
        }
        let key: String
        if escaped {
            // Through the text made from the bytes, as a key of the parsed text reads.
            let text = String(
                decoding: UnsafeBufferPointer(rebasing: bytes[(range.lowerBound - 1)...range.upperBound]), as: UTF8.self
            )
            var parser = JSONTextParser(bytes: Array(text.utf8))
            guard let decoded = try? parser.parseString() else { return false }
            key = decoded
        } else {
            key = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
        return key == name.text
    }

    mutating func array(at level: Int?) -> Bool {
        depth += 1
        defer { depth -= 1 }
        guard depth <= JSONTextParser.maxDepth else { return false }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return true
        }
        var wanted = -1
        if let level, level < stepCount, case .index(let position) = steps[level] { wanted = position }
        var position = 0
        while true {
            skipWhitespace()
            guard value(at: position == wanted ? level! + 1 : nil) else { return false }
            position += 1
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return true
            }
            return false
        }
    }

    /// Scans a string from its opening quote: nil when it is not valid, else whether it holds escapes.
    mutating func string() -> Bool? {
        index += 1
        var escaped = false
        while true {
            index = Self.plainText(bytes, from: index)
            guard index < bytes.count else { return nil }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return escaped
            }
            if byte < 0x20 { return nil }
            escaped = true
            index += 1
            guard index < bytes.count else { return nil }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                continue
            case UInt8(ascii: "u"):
                guard let code = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(code) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    else { return nil }
                    index += 2
                    guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                } else if (0xDC00..<0xE000).contains(code) {
                    return nil  // a lone low surrogate is no scalar
                }
            default: return nil
            }
        }
    }

    /// Where the text that needs no look (no quote, no backslash, no control character) starting at `start` ends.
    @inline(__always)
    static func plainText(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = bytes.baseAddress else { return start }
        let end = bytes.count
        var index = start
        // Eight bytes at a time: the lowest byte the mask flags is the first one that needs a look.
        while index + 8 <= end {
            let flags = specialBytes(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            if flags != 0 { return index + flags.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < end {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
            index += 1
        }
        return end
    }

    /// The high bit of each of the eight bytes (little-endian: the first byte is the lowest) that may be `"`, `\\`
    /// or below 0x20. The lowest flagged byte is always one of those (a borrow only flags bytes above a true match),
    /// and no such byte goes unflagged.
    @inline(__always)
    static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        let control = (word &- ones &* 0x20) & ~word
        return (zeroQuote | zeroBackslash | control) & highs
    }

    mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    /// The parser's number: the longest run of digits, `.`, `e`, `E`, `+`, `-`, refused unless it reads as a finite
    /// `Double`. A run in JSON's own grammar without an exponent always does; any other run is read as the parser
    /// reads it.
    mutating func number() -> Bool {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        var plain = true  // -?(0|[1-9][0-9]*)(\.[0-9]+)? so far
        var integerDigits = 0
        var fractionDigits = 0
        var sawDot = false
        scan: while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if sawDot {
                    fractionDigits += 1
                } else {
                    if integerDigits == 1, bytes[index - 1] == UInt8(ascii: "0") { plain = false }
                    integerDigits += 1
                }
            case UInt8(ascii: "."):
                if sawDot || integerDigits == 0 { plain = false }
                sawDot = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-"):
                plain = false
            default:
                break scan
            }
            index += 1
        }
        if integerDigits == 0 || (sawDot && fractionDigits == 0) { plain = false }
        // 300 digits stay below Double's largest finite value.
        if plain, integerDigits <= 300 { return true }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return false }
        return true
    }
}
