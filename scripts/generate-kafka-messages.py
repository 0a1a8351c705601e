#!/usr/bin/env python3
"""Generates KafkaWire's message types from Apache Kafka's JSON message schemas.

Usage: scripts/generate-kafka-messages.py [SCHEMA_DIR]
       (default SCHEMA_DIR: ../shared/reference/kafka-protocol)

Each `<Name>Request.json`, `<Name>Response.json` and consumer-protocol `data` schema becomes one Swift file in
Sources/KafkaWire/Messages/Generated/, holding a value type with version-aware `init(from:version:)` and
`write(into:version:)`. The schema is the authority for every version's layout: which fields exist, which are
nullable, which are tagged, and where the flexible (compact) encodings start. The output is committed, so building
Sluice never needs the schemas.
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Sources", "KafkaWire", "Messages", "Generated")

# The APIs KafkaWire carries; the schemas hold more.
APIS = [
    "ApiVersions", "Metadata", "Produce", "Fetch", "ListOffsets", "FindCoordinator", "JoinGroup", "SyncGroup",
    "Heartbeat", "LeaveGroup", "OffsetCommit", "OffsetFetch", "CreateTopics", "DeleteTopics", "InitProducerId",
    "SaslHandshake", "SaslAuthenticate", "DescribeGroups", "ListGroups",
]
DATA = ["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"]

SWIFT_KEYWORDS = {"protocol", "default", "operator", "internal", "private", "public", "static", "type", "self",
                  "repeat", "in", "is", "as", "case", "class", "struct", "enum", "func", "let", "var", "return",
                  "where", "throws", "extension", "import", "init", "subscript", "switch", "for", "while", "do",
                  "if", "else", "guard", "defer", "break", "continue", "true", "false", "nil", "try", "catch"}

PRIMITIVES = {
    "bool": ("Bool", "false"),
    "int8": ("Int8", "0"),
    "int16": ("Int16", "0"),
    "uint16": ("UInt16", "0"),
    "int32": ("Int32", "0"),
    "uint32": ("UInt32", "0"),
    "int64": ("Int64", "0"),
    "float64": ("Double", "0"),
    "string": ("String", '""'),
    "bytes": ("ByteBuffer", "ByteBuffer()"),
    "records": ("ByteBuffer", "ByteBuffer()"),
    "uuid": ("KafkaUUID", ".zero"),
}


def load(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return json.loads(text)


class Versions:
    """A version range from the schema: "3+", "0-7", "5", "none"."""

    def __init__(self, text, cap=None):
        text = (text or "none").strip()
        if text == "none":
            self.low, self.high = None, None
        elif text.endswith("+"):
            self.low, self.high = int(text[:-1]), 32767
        elif "-" in text:
            a, b = text.split("-")
            self.low, self.high = int(a), int(b)
        else:
            self.low = self.high = int(text)
        if cap is not None and self.high is not None:
            self.high = min(self.high, cap)

    def empty(self):
        return self.low is None or self.low > self.high

    def contains(self, v):
        return not self.empty() and self.low <= v <= self.high

    def intersect(self, other):
        r = Versions("none")
        if self.empty() or other.empty():
            return r
        r.low, r.high = max(self.low, other.low), min(self.high, other.high)
        return r

    def minus(self, other):
        """Versions in self but not in other, when the result is one range (true for every schema used)."""
        if other.empty() or self.empty():
            return self
        r = Versions("none")
        if other.low <= self.low and other.high >= self.high:
            return r
        if other.low > self.low:
            r.low, r.high = self.low, min(self.high, other.low - 1)
            if other.high < self.high:
                raise ValueError("split range")
            return r
        r.low, r.high = max(self.low, other.high + 1), self.high
        return r

    def condition(self, valid):
        """A Swift condition on `version`, simplified within the message's valid versions."""
        r = self.intersect(valid)
        if r.empty():
            return "false"
        low = r.low > valid.low
        high = r.high < valid.high
        if low and high:
            if r.low == r.high:
                return f"version == {r.low}"
            return f"({r.low}...{r.high}).contains(version)"
        if low:
            return f"version >= {r.low}"
        if high:
            return f"version <= {r.high}"
        return "true"


def lower_camel(name):
    s = name[0].lower() + name[1:]
    # Leading acronyms: "IsrNodes" is fine; "ACLs" does not occur.
    return f"`{s}`" if s in SWIFT_KEYWORDS else s


def doc(about, indent):
    if not about:
        return ""
    return f"{indent}/// {about.strip()}\n"


class Field:
    def __init__(self, spec, valid, flexible, structs, prefix):
        self.spec = spec
        self.name = spec["name"]
        self.ident = lower_camel(self.name)
        self.type = spec["type"]
        self.versions = Versions(spec["versions"]).intersect(valid)
        self.nullable = Versions(spec.get("nullableVersions")).intersect(self.versions)
        self.tagged = Versions(spec.get("taggedVersions")).intersect(self.versions)
        self.tag = spec.get("tag")
        self.regular = self.versions.minus(self.tagged)
        self.about = spec.get("about", "")
        self.valid = valid
        self.flexible = flexible
        self.is_array = self.type.startswith("[]")
        base = self.type[2:] if self.is_array else self.type
        self.base = base
        self.is_struct = base not in PRIMITIVES
        if self.is_struct and "fields" in spec:
            structs.append(Struct(base, spec["fields"], valid, flexible, structs, spec.get("about", "")))
        self.default_text = spec.get("default")

    def swift_base(self):
        if self.is_struct:
            return self.base
        return PRIMITIVES[self.base][0]

    def optional(self):
        return not self.nullable.empty()

    def swift_type(self):
        t = f"[{self.swift_base()}]" if self.is_array else self.swift_base()
        return t + "?" if self.optional() else t

    def default(self):
        d = self.default_text
        if self.optional() and (d is None or d == "null"):
            return "nil"
        if self.is_array:
            return "[]"
        if self.is_struct:
            return f"{self.base}()"
        if d is None or d == "null":
            return PRIMITIVES[self.base][1]
        d = str(d)
        if self.base == "bool":
            return d
        if self.base == "string":
            return json.dumps(d)
        if d.startswith("0x"):
            return str(int(d, 16))
        if self.base in ("int32",) and d == "-2147483648":
            return "Int32.min"
        return d


class Struct:
    def __init__(self, name, fields, valid, flexible, structs, about=""):
        self.name = name
        self.about = about
        self.valid = valid
        self.flexible = flexible
        self.fields = [Field(f, valid, flexible, structs, name) for f in fields]


def primitive_read(base, compact, nullable):
    """Swift expression reading one primitive value from `buffer`."""
    c = "true" if compact == "true" else ("false" if compact == "false" else compact)
    if base == "bool":
        return "try buffer.readKafkaBool()"
    if base in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
        return f"try buffer.readKafkaInteger(as: {PRIMITIVES[base][0]}.self)"
    if base == "float64":
        return "try buffer.readKafkaFloat64()"
    if base == "uuid":
        return "try buffer.readKafkaUUID()"
    if base == "string":
        return (f"try buffer.readKafkaNullableString(compact: {c})" if nullable
                else f"try buffer.readKafkaString(compact: {c})")
    if base in ("bytes", "records"):
        return (f"try buffer.readKafkaNullableBytes(compact: {c})" if nullable
                else f"try buffer.readKafkaBytes(compact: {c})")
    raise ValueError(base)


def primitive_write(base, value, compact):
    if base == "bool":
        return f"buffer.writeKafkaBool({value})"
    if base in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
        return f"buffer.writeKafkaInteger({value})"
    if base == "float64":
        return f"buffer.writeKafkaFloat64({value})"
    if base == "uuid":
        return f"buffer.writeKafkaUUID({value})"
    if base == "string":
        return f"try buffer.writeKafkaString({value}, compact: {compact})"
    if base in ("bytes", "records"):
        return f"buffer.writeKafkaBytes({value}, compact: {compact})"
    raise ValueError(base)


def gen_read_value(f, ind, target, compact, nullable_cond):
    """Lines reading field f into `target` (already declared var)."""
    out = []
    if f.is_array:
        elem = (f"try {f.base}(from: &buffer, version: version)" if f.is_struct
                else primitive_read(f.base, compact, False))
        out.append(f"{ind}if let count = try buffer.readKafkaArrayCount(compact: {compact}) {{")
        out.append(f"{ind}    var elements: [{f.swift_base()}] = []")
        # Capped: a hostile count within the bytes left must not reserve gigabytes of elements up front.
        out.append(f"{ind}    elements.reserveCapacity(Swift.min(count, 1024))")
        out.append(f"{ind}    for _ in 0..<count {{ elements.append({elem}) }}")
        out.append(f"{ind}    {target} = elements")
        out.append(f"{ind}}} else {{")
        if f.optional():
            out.append(f"{ind}    guard {nullable_cond} else {{")
            out.append(f"{ind}        throw KafkaWireError(.unexpectedNull, \"{f.name} is null\")")
            out.append(f"{ind}    }}")
            out.append(f"{ind}    {target} = nil")
        else:
            out.append(f"{ind}    throw KafkaWireError(.unexpectedNull, \"{f.name} is null\")")
        out.append(f"{ind}}}")
        return out
    if f.is_struct:
        if f.optional():
            out.append(f"{ind}let present: Int8 = try buffer.readKafkaInteger()")
            out.append(f"{ind}{target} = present < 0 ? nil : try {f.base}(from: &buffer, version: version)")
        else:
            out.append(f"{ind}{target} = try {f.base}(from: &buffer, version: version)")
        return out
    if f.optional() and f.base in ("string", "bytes", "records"):
        if nullable_cond == "true":
            out.append(f"{ind}{target} = {primitive_read(f.base, compact, True)}")
        else:
            out.append(f"{ind}{target} = {nullable_cond} ? {primitive_read(f.base, compact, True)} : "
                       f"{primitive_read(f.base, compact, False)}")
        return out
    out.append(f"{ind}{target} = {primitive_read(f.base, compact, False)}")
    return out


def gen_write_value(f, ind, value, compact, nullable_cond):
    out = []
    if f.is_array:
        if f.optional():
            out.append(f"{ind}if let elements = {value} {{")
            inner = ind + "    "
            src = "elements"
        else:
            inner = ind
            src = value
        out.append(f"{inner}buffer.writeKafkaArrayCount({src}.count, compact: {compact})")
        if f.is_struct:
            out.append(f"{inner}for element in {src} {{ try element.write(into: &buffer, version: version) }}")
        else:
            out.append(f"{inner}for element in {src} {{ {primitive_write(f.base, 'element', compact)} }}")
        if f.optional():
            out.append(f"{ind}}} else {{")
            out.append(f"{ind}    guard {nullable_cond} else {{")
            out.append(f"{ind}        throw KafkaWireError(.unexpectedNull, \"{f.name} is null in version \\(version)\")")
            out.append(f"{ind}    }}")
            out.append(f"{ind}    buffer.writeKafkaArrayCount(nil, compact: {compact})")
            out.append(f"{ind}}}")
        return out
    if f.is_struct:
        if f.optional():
            out.append(f"{ind}if let value = {value} {{")
            out.append(f"{ind}    buffer.writeKafkaInteger(Int8(1))")
            out.append(f"{ind}    try value.write(into: &buffer, version: version)")
            out.append(f"{ind}}} else {{")
            out.append(f"{ind}    buffer.writeKafkaInteger(Int8(-1))")
            out.append(f"{ind}}}")
        else:
            out.append(f"{ind}try {value}.write(into: &buffer, version: version)")
        return out
    if f.optional():
        if nullable_cond != "true":
            out.append(f"{ind}if {value} == nil && !({nullable_cond}) {{")
            out.append(f"{ind}    throw KafkaWireError(.unexpectedNull, \"{f.name} is null in version \\(version)\")")
            out.append(f"{ind}}}")
    out.append(f"{ind}{primitive_write(f.base, value, compact)}")
    return out


def gen_struct(s, ind, top=None):
    """Swift source for a struct. `top` is (kind, schema) for the message type itself."""
    flex_cond = s.flexible.condition(s.valid)
    lines = []
    name = s.name
    conformances = "Hashable, Sendable"
    if top:
        kind = top[0]
        conformances = {"request": "KafkaRequestMessage", "response": "KafkaResponseMessage",
                        "data": "KafkaVersionedData"}[kind] + ", Hashable"
    if s.about:
        lines.append(doc(s.about, ind).rstrip("\n"))
    lines.append(f"{ind}public struct {name}: {conformances} {{")
    i2 = ind + "    "
    if top:
        kind, schema = top
        if kind != "data":
            lines.append(f"{i2}public static let apiKey = KafkaAPIKey.{lower_camel(API_NAME[schema['apiKey']]).strip('`')}")
        lines.append(f"{i2}public static let supportedVersions: ClosedRange<Int16> = {s.valid.low}...{s.valid.high}")
        fl = "nil" if s.flexible.empty() else str(s.flexible.low)
        lines.append(f"{i2}public static let firstFlexibleVersion: Int16? = {fl}")
        lines.append("")
    for f in s.fields:
        if f.about:
            lines.append(doc(f.about, i2).rstrip("\n"))
        vr = f"{f.versions.low}+" if f.versions.high == s.valid.high else f"{f.versions.low}-{f.versions.high}"
        if f.versions.empty():
            vr = "none"
        lines.append(f"{i2}/// Versions: {vr}.")
        lines.append(f"{i2}public var {f.ident}: {f.swift_type()}")
    lines.append("")
    # Memberwise init with defaults.
    if s.fields:
        params = ", ".join(f"{f.ident.strip('`')}: {f.swift_type()} = {f.default()}" for f in s.fields)
        lines.append(f"{i2}public init({params}) {{")
        for f in s.fields:
            lines.append(f"{i2}    self.{f.ident.strip('`')} = {f.ident}")
        lines.append(f"{i2}}}")
    else:
        lines.append(f"{i2}public init() {{}}")
    lines.append("")
    # Reader.
    access = "public" if top else "public"
    lines.append(f"{i2}{access} init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError) {{")
    i3 = i2 + "    "
    if top:
        lines.append(f"{i3}guard Self.supportedVersions.contains(version) else {{")
        lines.append(f"{i3}    throw KafkaWireError(.unsupportedVersion, \"{name} version \\(version)\")")
        lines.append(f"{i3}}}")
    uses_flex = not s.flexible.empty()
    if uses_flex:
        lines.append(f"{i3}let flexible = {flex_cond}")
    compact = "flexible" if uses_flex else "false"
    for f in s.fields:
        mutable = "let" if f.versions.empty() else "var"
        lines.append(f"{i3}{mutable} {f.ident}: {f.swift_type()} = {f.default()}")
    for f in s.fields:
        if f.regular.empty():
            continue
        cond = f.regular.condition(s.valid)
        ncond = f.nullable.condition(f.regular)
        body = gen_read_value(f, i3 + ("    " if cond != "true" else ""), f.ident, compact, ncond)
        if cond == "true":
            lines.extend(body)
        else:
            lines.append(f"{i3}if {cond} {{")
            lines.extend(body)
            lines.append(f"{i3}}}")
    tagged = [f for f in s.fields if not f.tagged.empty()]
    if uses_flex:
        lines.append(f"{i3}if flexible {{")
        if tagged:
            lines.append(f"{i3}    try buffer.readKafkaTaggedFields {{ tag, buffer throws(KafkaWireError) in")
            lines.append(f"{i3}        switch tag {{")
            for f in tagged:
                tc = f.tagged.condition(s.valid)
                guard = "" if tc == "true" else f" where {tc}"
                lines.append(f"{i3}        case {f.tag}{guard}:")
                lines.extend(gen_read_value(f, i3 + "            ", f.ident, "true", f.nullable.condition(f.tagged)))
                lines.append(f"{i3}            return true")
            lines.append(f"{i3}        default:")
            lines.append(f"{i3}            return false")
            lines.append(f"{i3}        }}")
            lines.append(f"{i3}    }}")
        else:
            lines.append(f"{i3}    try buffer.skipKafkaTaggedFields()")
        lines.append(f"{i3}}}")
    if s.fields:
        args = ", ".join(f"{f.ident.strip('`')}: {f.ident}" for f in s.fields)
        lines.append(f"{i3}self.init({args})")
    else:
        lines.append(f"{i3}self.init()")
    lines.append(f"{i2}}}")
    lines.append("")
    # Writer.
    lines.append(f"{i2}public func write(into buffer: inout ByteBuffer, version: Int16) throws(KafkaWireError) {{")
    if top:
        lines.append(f"{i3}guard Self.supportedVersions.contains(version) else {{")
        lines.append(f"{i3}    throw KafkaWireError(.unsupportedVersion, \"{name} version \\(version)\")")
        lines.append(f"{i3}}}")
    if uses_flex:
        lines.append(f"{i3}let flexible = {flex_cond}")
    for f in s.fields:
        if f.regular.empty():
            continue
        cond = f.regular.condition(s.valid)
        ncond = f.nullable.condition(f.regular)
        body = gen_write_value(f, i3 + ("    " if cond != "true" else ""), f"self.{f.ident.strip('`')}", compact, ncond)
        if cond == "true":
            lines.extend(body)
        else:
            lines.append(f"{i3}if {cond} {{")
            lines.extend(body)
            lines.append(f"{i3}}}")
    if uses_flex:
        lines.append(f"{i3}if flexible {{")
        if tagged:
            lines.append(f"{i3}    var taggedCount: UInt32 = 0")
            for f in sorted(tagged, key=lambda x: x.tag):
                tc = f.tagged.condition(s.valid)
                c = f"self.{f.ident.strip('`')} != {f.default()}"
                if tc != "true":
                    c = f"{tc} && {c}"
                lines.append(f"{i3}    let write{f.name} = {c}")
                lines.append(f"{i3}    if write{f.name} {{ taggedCount += 1 }}")
            lines.append(f"{i3}    buffer.writeUnsignedVarint(taggedCount)")
            for f in sorted(tagged, key=lambda x: x.tag):
                lines.append(f"{i3}    if write{f.name} {{")
                lines.append(f"{i3}        try buffer.writeKafkaTaggedField(tag: {f.tag}) {{ buffer throws(KafkaWireError) in")
                lines.extend(gen_write_value(f, i3 + "            ", f"self.{f.ident.strip('`')}", "true",
                                             f.nullable.condition(f.tagged)))
                lines.append(f"{i3}        }}")
                lines.append(f"{i3}    }}")
        else:
            lines.append(f"{i3}    buffer.writeUnsignedVarint(0)")
        lines.append(f"{i3}}}")
    lines.append(f"{i2}}}")
    return lines


API_NAME = {}


def generate(schema_dir):
    os.makedirs(OUT, exist_ok=True)
    for fn in os.listdir(OUT):
        if fn.endswith(".swift"):
            os.remove(os.path.join(OUT, fn))
    requests = {}
    for api in APIS:
        req = load(os.path.join(schema_dir, f"{api}Request.json"))
        API_NAME[req["apiKey"]] = api
        requests[api] = req
    keys = ["/// The Kafka API keys KafkaWire carries.", "public struct KafkaAPIKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {",
            "    public var rawValue: Int16", "", "    public init(rawValue: Int16) {", "        self.rawValue = rawValue", "    }", ""]
    for k in sorted(API_NAME):
        keys.append(f"    public static let {lower_camel(API_NAME[k])} = KafkaAPIKey(rawValue: {k})")
    keys.append("")
    keys.append("    public var description: String {")
    keys.append("        switch rawValue {")
    for k in sorted(API_NAME):
        keys.append(f"        case {k}: \"{API_NAME[k]}\"")
    keys.append("        default: \"ApiKey(\\(rawValue))\"")
    keys.append("        }")
    keys.append("    }")
    keys.append("}")
    write_file("KafkaAPIKey.swift", "\n".join(keys) + "\n", imports=False)

    names = [(f"{api}Request", "request") for api in APIS] + [(f"{api}Response", "response") for api in APIS]
    names += [(d, "data") for d in DATA]
    for base, kind in names:
        schema = load(os.path.join(schema_dir, f"{base}.json"))
        cap = None
        if schema.get("latestVersionUnstable"):
            cap = Versions(schema["validVersions"]).high - 1
        valid = Versions(schema["validVersions"], cap)
        flexible = Versions(schema.get("flexibleVersions", "none")).intersect(valid)
        structs = []
        top = Struct("Kafka" + base, schema["fields"], valid, flexible, structs)
        for cs in schema.get("commonStructs", []):
            structs.append(Struct(cs["name"], cs["fields"], valid, flexible, structs))
        lines = gen_struct(top, "", (kind, schema))
        # Nested types.
        lines.append("")
        nested = []
        seen = set()
        for s in structs:
            if s.name in seen:
                continue
            seen.add(s.name)
            nested.extend(gen_struct(s, "    "))
            nested.append("    }")
            nested.append("")
        lines.extend(nested)
        while lines and lines[-1] == "":
            lines.pop()
        lines.append("}")
        if kind == "request":
            api = base[: -len("Request")]
            lines.append("")
            lines.append(f"extension Kafka{base} {{")
            lines.append(f"    public typealias Response = Kafka{api}Response")
            lines.append("}")
        write_file(f"Kafka{base}.swift", "\n".join(lines) + "\n")


def write_file(name, body, imports=True):
    header = (f"// Generated by scripts/generate-kafka-messages.py from Apache Kafka's message schema. Do not edit.\n\n")
    if imports:
        header += "import NIOCore\n\n"
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        f.write(header + body)


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "reference", "kafka-protocol"))
