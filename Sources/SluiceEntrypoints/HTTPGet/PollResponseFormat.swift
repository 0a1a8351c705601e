import Foundation
import NIOCore
import SluiceCore

/// The three bodies a GET poll can answer with, chosen from the `Accept` header as Gravitee chooses:
/// the best-ranked of `application/json`, `application/xml`, `text/plain`; `*/*` means JSON; no `Accept` means
/// plain text; anything else is refused with 400.
enum PollResponseFormat: Sendable {
    case json
    case xml
    case text

    var contentType: String {
        switch self {
        case .json: "application/json"
        case .xml: "application/xml"
        case .text: "text/plain"
        }
    }

    static func negotiate(acceptValues: [String]) -> Result<PollResponseFormat, GatewayError> {
        var ranked: [(type: String, quality: Double, order: Int)] = []
        for value in acceptValues {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let type = parts.first, !type.isEmpty else { continue }
                var quality = 1.0
                for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                    quality = Double(parameter.dropFirst(2)) ?? 0
                }
                ranked.append((type.lowercased(), quality, ranked.count))
            }
        }
        ranked.sort { $0.quality != $1.quality ? $0.quality > $1.quality : $0.order < $1.order }
        for entry in ranked where entry.quality > 0 {
            switch entry.type {
            case "application/json": return .success(.json)
            case "application/xml": return .success(.xml)
            case "text/plain": return .success(.text)
            default: continue
            }
        }
        guard let best = ranked.first else { return .success(.text) }
        if best.type == "*/*" { return .success(.json) }
        return .failure(
            GatewayError(
                status: 400, key: "UNSUPPORTED_ACCEPT",
                message: "Unsupported accept header: [\(acceptValues.joined(separator: ", "))]"
            )
        )
    }

    func render(messages: [Message], nextCursor: String?, limit: String?, headers: Bool, metadata: Bool) -> ByteBuffer {
        var out = ""
        out.reserveCapacity(64 + messages.reduce(0) { $0 + $1.content.readableBytes + 32 })
        switch self {
        case .json: renderJSON(messages, nextCursor, limit, headers, metadata, &out)
        case .xml: renderXML(messages, nextCursor, limit, headers, metadata, &out)
        case .text: renderText(messages, nextCursor, limit, headers, metadata, &out)
        }
        return ByteBuffer(string: out)
    }

    private func renderJSON(
        _ messages: [Message], _ nextCursor: String?, _ limit: String?, _ headers: Bool, _ metadata: Bool,
        _ out: inout String
    ) {
        out += "{\"items\":["
        for (index, message) in messages.enumerated() {
            if index > 0 { out += "," }
            out += "{"
            if let id = message.id {
                out += "\"id\":"
                JSONString.append(id, to: &out)
                out += ","
            }
            out += "\"content\":"
            JSONString.append(String(decoding: message.content.readableBytesView, as: UTF8.self), to: &out)
            if headers {
                out += ",\"headers\":{"
                for (i, header) in message.headers.grouped.enumerated() {
                    if i > 0 { out += "," }
                    JSONString.append(header.name, to: &out)
                    out += ":["
                    out += header.values.map(JSONString.quoted).joined(separator: ",")
                    out += "]"
                }
                out += "}"
            }
            if metadata {
                out += ",\"metadata\":{\"sourceTimestamp\":\(message.timestamp)"
                for key in message.metadata.keys.sorted() {
                    out += ","
                    JSONString.append(key, to: &out)
                    out += ":"
                    JSONString.append(message.metadata[key]!, to: &out)
                }
                out += "}"
            }
            out += "}"
        }
        out += "]"
        if let nextCursor {
            out += ",\"pagination\":{\"nextCursor\":"
            JSONString.append(nextCursor, to: &out)
            if let limit {
                out += ",\"limit\":"
                JSONString.append(limit, to: &out)
            }
            out += "}"
        }
        out += "}"
    }

    private func renderXML(
        _ messages: [Message], _ nextCursor: String?, _ limit: String?, _ headers: Bool, _ metadata: Bool,
        _ out: inout String
    ) {
        out += "<response><items>"
        for message in messages {
            out += "<item>"
            if let id = message.id { out += "<id>\(Self.xmlEscape(id))</id>" }
            out +=
                "<content>\(Self.cdata(String(decoding: message.content.readableBytesView, as: UTF8.self)))</content>"
            if headers {
                out += "<headers>"
                for header in message.headers.grouped {
                    let name = Self.xmlName(header.name)
                    out += "<\(name)>\(Self.xmlEscape(header.values.joined(separator: ",")))</\(name)>"
                }
                out += "</headers>"
            }
            if metadata {
                out += "<metadata><sourceTimestamp>\(message.timestamp)</sourceTimestamp>"
                for key in message.metadata.keys.sorted() {
                    let name = Self.xmlName(key)
                    out += "<\(name)>\(Self.xmlEscape(message.metadata[key]!))</\(name)>"
                }
                out += "</metadata>"
            }
            out += "</item>"
        }
        out += "</items>"
        if let nextCursor {
            out += "<pagination><nextCursor>\(Self.xmlEscape(nextCursor))</nextCursor>"
            if let limit { out += "<limit>\(Self.xmlEscape(limit))</limit>" }
            out += "</pagination>"
        }
        out += "</response>"
    }

    private func renderText(
        _ messages: [Message], _ nextCursor: String?, _ limit: String?, _ headers: Bool, _ metadata: Bool,
        _ out: inout String
    ) {
        out += "items\n"
        for (index, message) in messages.enumerated() {
            if index > 0 { out += "\n" }
            out += "item\n"
            if let id = message.id { out += "id: \(id)\n" }
            out += "content: \(String(decoding: message.content.readableBytesView, as: UTF8.self))\n"
            if headers {
                let rendered = message.headers.grouped.map { "\($0.name)=[\($0.values.joined(separator: ", "))]" }
                out += "headers: {\(rendered.joined(separator: ", "))}\n"
            }
            if metadata {
                let rendered =
                    ["sourceTimestamp=\(message.timestamp)"]
                    + message.metadata.keys.sorted().map { "\($0)=\(message.metadata[$0]!)" }
                out += "metadata: {\(rendered.joined(separator: ", "))}\n"
            }
        }
        if let nextCursor {
            out += "\npagination\nnextCursor: \(nextCursor)"
            if let limit { out += "\nlimit: \(limit)" }
        }
    }

    /// Content goes in CDATA; a `]]>` inside it is split across two sections so the document stays well-formed.
    static func cdata(_ text: String) -> String {
        "<![CDATA[" + text.replacingOccurrences(of: "]]>", with: "]]]]><![CDATA[>") + "]]>"
    }

    static func xmlEscape(_ text: String) -> String { XMLText.escape(text) }

    /// Header and metadata names become element names; characters XML forbids there become `_`.
    static func xmlName(_ name: String) -> String {
        var out = ""
        for (index, scalar) in name.unicodeScalars.enumerated() {
            let allowed =
                CharacterSet.alphanumerics.contains(scalar) || scalar == "_"
                || (index > 0 && (scalar == "-" || scalar == "."))
            out.unicodeScalars.append(allowed && scalar.isASCII ? scalar : "_")
        }
        return out.isEmpty ? "_" : out
    }
}
