import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// JSON to XML and back, as Gravitee's `json-xml` and `xml-json` policies convert (their converters are org.json's
/// `XML` class): an object's keys become elements, an array repeats its key's element, a `content` key is the
/// element's text; back from XML, an element with only text becomes a value (numbers and booleans read as such),
/// one with attributes or children an object (attributes as keys, text as `content`), repeated elements an array.
enum JSONXMLConversion {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `{ rootElement: payload }` as XML. The payload must be a JSON object, as Gravitee's policy requires.
    static func xml(fromJSON data: Data, rootElement: String) throws -> String {
        guard case .object(let object) = try JSONValue.parse(json: data) else {
            throw Failure(description: "a JSON object is expected")
        }
        var out = ""
        element(rootElement, .object(object), into: &out)
        return out
    }

    private static func element(_ name: String, _ value: JSONValue, into out: inout String) {
        switch value {
        case .array(let items):
            for item in items {
                if case .array = item {
                    out += "<\(name)>"
                    element("array", item, into: &out)
                    out += "</\(name)>"
                } else {
                    element(name, item, into: &out)
                }
            }
        case .object(let object):
            out += "<\(name)>"
            for (key, child) in object.entries {
                if key == "content" {
                    text(child, into: &out)
                } else {
                    element(key, child, into: &out)
                }
            }
            out += "</\(name)>"
        default:
            out += "<\(name)>"
            text(value, into: &out)
            out += "</\(name)>"
        }
    }

    private static func text(_ value: JSONValue, into out: inout String) {
        switch value {
        case .string(let string): out += escape(string)
        case .array(let items):
            out += items.map { item -> String in
                var part = ""
                text(item, into: &part)
                return part
            }.joined(separator: "\n")
        case .object(let object): out += escape(JSONValue.object(object).jsonText())
        default: out += escape(value.jsonText())
        }
    }

    static func escape(_ text: String) -> String { XMLText.escape(text) }

    /// XML as JSON text (the document's element as the one key of the object).
    static func json(fromXML data: Data, maximumDepth: Int = 100) throws -> String {
        let builder = TreeBuilder(maximumDepth: maximumDepth)
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw Failure(description: builder.failure ?? parser.parserError.map { "\($0)" } ?? "not XML")
        }
        var object = JSONObject()
        object[root.name] = root.value
        return JSONValue.object(object).jsonText()
    }

    /// An element being read.
    final class Node {
        let name: String
        var fields = JSONObject()
        var text = ""

        init(name: String, attributes: [String: String]) {
            self.name = name
            for key in attributes.keys.sorted() { fields[key] = JSONXMLConversion.scalar(attributes[key]!) }
        }

        func add(_ child: Node) {
            let value = child.value
            switch fields[child.name] {
            case nil: fields[child.name] = value
            case .array(var items)?:
                items.append(value)
                fields[child.name] = .array(items)
            case let existing?: fields[child.name] = .array([existing, value])
            }
        }

        var value: JSONValue {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if fields.isEmpty { return trimmed.isEmpty ? .string("") : JSONXMLConversion.scalar(trimmed) }
            var result = fields
            if !trimmed.isEmpty { result["content"] = JSONXMLConversion.scalar(trimmed) }
            return .object(result)
        }
    }

    /// org.json's reading of text: booleans, `null`, and numbers become values; anything else stays text.
    static func scalar(_ text: String) -> JSONValue {
        switch text.lowercased() {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "null": return .null
        default: break
        }
        if let first = text.first, first == "-" || first.isNumber,
            !text.hasPrefix("0") || text == "0" || text.hasPrefix("0."),
            let number = Double(text), number.isFinite, text.count < 16
        {
            return .number(number)
        }
        return .string(text)
    }

    final class TreeBuilder: NSObject, XMLParserDelegate {
        let maximumDepth: Int
        var stack: [Node] = []
        var root: Node?
        var failure: String?

        init(maximumDepth: Int) {
            self.maximumDepth = maximumDepth
        }

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
            qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
        ) {
            guard stack.count < maximumDepth else {
                failure = "nesting deeper than \(maximumDepth) levels"
                parser.abortParsing()
                return
            }
            stack.append(Node(name: elementName, attributes: attributeDict))
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
        ) {
            guard let node = stack.popLast() else { return }
            if let parent = stack.last { parent.add(node) } else { root = node }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            stack.last?.text += String(decoding: CDATABlock, as: UTF8.self)
        }
    }
}
