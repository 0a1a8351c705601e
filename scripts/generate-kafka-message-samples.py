#!/usr/bin/env python3
"""Generates the sample values KafkaWire's message codec tests round-trip.

Usage: scripts/generate-kafka-message-samples.py [SCHEMA_DIR]
       (default SCHEMA_DIR: ../shared/reference/kafka-protocol)

For every message type in Sources/KafkaWire/Messages/Generated/ (`Kafka<Name>.swift` with a `<Name>.json` schema),
writes into Tests/KafkaWireTests/Messages/Generated/MessageSamples.swift:

- `static func sample(version:nulls:)` on the message type and on each of its nested structs. A sample sets every
  field that exists in `version` (according to the schema) to a distinct, non-default value: strings with a
  non-ASCII character, integers that use every byte, arrays of two populated elements, non-zero UUIDs, non-empty
  bytes, nullable fields non-nil. With `nulls: true`, fields that are nullable in `version` are nil instead.
  Fields that do not exist in `version` keep their default, so the value read back from the encoding must equal
  the sample exactly.
- `MessageCodecCase.all`: one entry per message type, with the valid and flexible versions the schema declares
  (compared with the generated type's `supportedVersions` and `firstFlexibleVersion`) and, for every version with
  and without nulls, the length and FNV-1a hash of the sample's encoding as this script computes it from the schema
  and protocol.html's primitive types. A field written in a version the schema does not give it, or in the wrong
  (classic or compact) encoding, round-trips fine but changes this encoding.

To see one expected encoding in hex (to compare with what a failing test prints):
       scripts/generate-kafka-message-samples.py --dump FetchResponse 12 [nulls] [SCHEMA_DIR]

This script reads the schemas on its own rather than sharing code with generate-kafka-messages.py, so that the
tests check the message generator against an independent reading of the same schemas. The output is committed;
run this script again after the schemas or the list of generated messages change, then format the output with
`swift format --in-place --configuration .swift-format Tests/KafkaWireTests/Messages/Generated/MessageSamples.swift`.
"""

import json
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESSAGES = os.path.join(ROOT, "Sources", "KafkaWire", "Messages", "Generated")
OUT_DIR = os.path.join(ROOT, "Tests", "KafkaWireTests", "Messages", "Generated")
OUT = os.path.join(OUT_DIR, "MessageSamples.swift")

SWIFT_KEYWORDS = {"protocol", "default", "operator", "internal", "private", "public", "static", "type", "self",
                  "repeat", "in", "is", "as", "case", "class", "struct", "enum", "func", "let", "var", "return",
                  "where", "throws", "extension", "import", "init", "subscript", "switch", "for", "while", "do",
                  "if", "else", "guard", "defer", "break", "continue", "true", "false", "nil", "try", "catch"}

PRIMITIVE_TYPES = {"bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "bytes",
                   "records", "uuid"}


def load(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return json.loads(text)


def parse_range(text, top=32767):
    """A schema version range ("3+", "0-7", "5", "none") as (low, high), or None when empty."""
    text = (text or "none").strip()
    if text == "none":
        return None
    if text.endswith("+"):
        return int(text[:-1]), top
    if "-" in text:
        low, high = text.split("-")
        return int(low), int(high)
    return int(text), int(text)


def intersect(a, b):
    if a is None or b is None:
        return None
    low, high = max(a[0], b[0]), min(a[1], b[1])
    return (low, high) if low <= high else None


def condition(r, valid):
    """A Swift condition on `version` for range r, within the message's valid versions."""
    r = intersect(r, valid)
    if r is None:
        return "false"
    parts = []
    if r[0] > valid[0]:
        parts.append(f"version >= {r[0]}")
    if r[1] < valid[1]:
        parts.append(f"version <= {r[1]}")
    return " && ".join(parts) if parts else "true"


def ident(name):
    s = name[0].lower() + name[1:]
    return f"`{s}`" if s in SWIFT_KEYWORDS else s


class Counter:
    def __init__(self):
        self.n = 0

    def next(self):
        self.n += 1
        return self.n


def hex_literal(n):
    """0x0102_0304 style: groups of four hex digits."""
    digits = f"{n:X}"
    digits = digits.zfill((len(digits) + 3) // 4 * 4)
    return "0x" + "_".join(digits[i:i + 4] for i in range(0, len(digits), 4))


def primitive_value(base, k, default, index_expr, field_name):
    """A Swift expression for a distinct non-default value of a primitive type; `index_expr` varies it."""
    if base == "bool":
        # The only non-default value; defaults are "false" unless the schema says otherwise.
        return "false" if str(default).lower() == "true" else "true"
    if base == "int8":
        return f"Int8({k % 100 + 1} + {index_expr})"
    if base == "int16":
        return f"Int16({hex_literal(0x0100 + k * 4)} + {index_expr})"
    if base == "uint16":
        return f"UInt16({hex_literal(0x8100 + k * 4)} + {index_expr})"
    if base == "int32":
        return f"Int32({hex_literal(0x0102_0000 + k * 4)} + {index_expr})"
    if base == "uint32":
        return f"UInt32({hex_literal(0x8102_0000 + k * 4)} + {index_expr})"
    if base == "int64":
        return f"Int64({hex_literal(0x0102_0304_0506_0000 + k * 4)} + {index_expr})"
    if base == "float64":
        return f"Double({k}) + 0.25 + Double({index_expr})"
    if base == "string":
        return f'"{field_name}-\\({index_expr})-é{k}"'
    if base in ("bytes", "records"):
        return f"ByteBuffer(bytes: [{k % 256}, UInt8({index_expr}), 0xFF, 0x00, 0x80])"
    if base == "uuid":
        return (f"KafkaUUID(mostSignificantBits: {hex_literal(0x0123_4567_89AB_0000 + k)} + UInt64({index_expr}), "
                f"leastSignificantBits: {hex_literal(0xFEDC_BA98_7654_0000 + k)})")
    raise ValueError(base)


# MARK: Expected encodings, computed from the schema (protocol.html, "Protocol Primitive Types")


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_prefix(n, compact, width):
    """Length or count prefix; n None is null."""
    if compact:
        return uvarint(0 if n is None else n + 1)
    return (-1 if n is None else n).to_bytes(width, "big", signed=True)


def primitive_python(base, k, default, index, field_name):
    """The value primitive_value's Swift expression evaluates to."""
    if base == "bool":
        return str(default).lower() != "true"
    if base == "int8":
        return k % 100 + 1 + index
    if base == "int16":
        return 0x0100 + k * 4 + index
    if base == "uint16":
        return 0x8100 + k * 4 + index
    if base == "int32":
        return 0x0102_0000 + k * 4 + index
    if base == "uint32":
        return 0x8102_0000 + k * 4 + index
    if base == "int64":
        return 0x0102_0304_0506_0000 + k * 4 + index
    if base == "float64":
        return k + 0.25 + index
    if base == "string":
        return f"{field_name}-{index}-é{k}"
    if base in ("bytes", "records"):
        return bytes([k % 256, index, 0xFF, 0x00, 0x80])
    if base == "uuid":
        return (0x0123_4567_89AB_0000 + k + index, 0xFEDC_BA98_7654_0000 + k)
    raise ValueError(base)


def encode_primitive(base, value, compact):
    widths = {"int8": 1, "int16": 2, "int32": 4, "int64": 8}
    if base == "bool":
        return b"\x01" if value else b"\x00"
    if base in widths:
        return value.to_bytes(widths[base], "big", signed=True)
    if base == "uint16":
        return value.to_bytes(2, "big")
    if base == "uint32":
        return value.to_bytes(4, "big")
    if base == "float64":
        return struct.pack(">d", value)
    if base == "uuid":
        return value[0].to_bytes(8, "big") + value[1].to_bytes(8, "big")
    if base == "string":
        if value is None:
            return length_prefix(None, compact, 2)
        data = value.encode("utf-8")
        return length_prefix(len(data), compact, 2) + data
    if base in ("bytes", "records"):
        if value is None:
            return length_prefix(None, compact, 4)
        return length_prefix(len(value), compact, 4) + value
    raise ValueError(base)


class Message:
    def __init__(self, swift_name, schema):
        self.swift_name = swift_name
        self.schema = schema
        valid = parse_range(schema["validVersions"])
        if schema.get("latestVersionUnstable"):
            valid = (valid[0], valid[1] - 1)
        self.valid = valid
        flexible = intersect(parse_range(schema.get("flexibleVersions", "none")), valid)
        self.first_flexible = None if flexible is None else flexible[0]
        self.structs = []  # (qualified swift name, fields)
        self.common = {cs["name"]: cs["fields"] for cs in schema.get("commonStructs", [])}
        self.counter = Counter()
        self.struct_names = set()
        self.collect(schema["fields"])
        for name, fields in self.common.items():
            self.add_struct(name, fields)

    def collect(self, fields):
        for f in fields:
            base = f["type"][2:] if f["type"].startswith("[]") else f["type"]
            if base not in PRIMITIVE_TYPES and "fields" in f:
                self.add_struct(base, f["fields"])

    def add_struct(self, name, fields):
        if name in self.struct_names:
            return
        self.struct_names.add(name)
        self.structs.append((name, fields))
        self.collect(fields)

    def field_lines(self, fields, indent):
        """Swift statements setting each field of `value` present in `version`."""
        lines = []
        for f in fields:
            versions = intersect(parse_range(f["versions"]), self.valid)
            if versions is None:
                continue
            nullable = intersect(parse_range(f.get("nullableVersions")), versions)
            is_array = f["type"].startswith("[]")
            base = f["type"][2:] if is_array else f["type"]
            k = self.counter.next()
            f["_k"] = k
            default = f.get("default")
            if base in PRIMITIVE_TYPES:
                if is_array:
                    first = primitive_value(base, k, default, "index * 2", f["name"])
                    second = primitive_value(base, k, default, "index * 2 + 1", f["name"])
                    value = f"[{first}, {second}]"
                else:
                    value = primitive_value(base, k, default, "index", f["name"])
            else:
                element = f"{self.qualified(base)}.sample(version: version, index: {{i}}, nulls: nulls)"
                if is_array:
                    value = f"[{element.format(i='index * 2')}, {element.format(i='index * 2 + 1')}]"
                else:
                    value = element.format(i="index")
            present = condition(versions, self.valid)
            target = f"value.{ident(f['name'])}"
            if nullable is not None:
                null_cond = condition(nullable, versions)
                null_test = "nulls" if null_cond == "true" else f"nulls && {null_cond}"
                body = [f"if {null_test} {{", f"    {target} = nil", "} else {", f"    {target} = {value}", "}"]
            else:
                body = [f"{target} = {value}"]
            if present == "true":
                lines.extend(indent + line for line in body)
            else:
                lines.append(f"{indent}if {present} {{")
                lines.extend(indent + "    " + line for line in body)
                lines.append(f"{indent}}}")
        return lines

    def struct_fields(self, field):
        return field["fields"] if "fields" in field else self.common[field["type"].lstrip("[]")]

    def encode(self, version, nulls):
        flexible = self.first_flexible is not None and version >= self.first_flexible
        return self.encode_struct(self.schema["fields"], version, 0, nulls, flexible)

    def field_value(self, f, version, index, nulls):
        """The sample's value for field f, as (is_null, python value or element list)."""
        versions = intersect(parse_range(f["versions"]), self.valid)
        nullable = intersect(parse_range(f.get("nullableVersions")), versions)
        if nulls and nullable is not None and nullable[0] <= version <= nullable[1]:
            return None
        is_array = f["type"].startswith("[]")
        base = f["type"][2:] if is_array else f["type"]
        k = f["_k"]
        if base in PRIMITIVE_TYPES:
            def make(i):
                return primitive_python(base, k, f.get("default"), i, f["name"])

            return [make(index * 2), make(index * 2 + 1)] if is_array else make(index)
        return [index * 2, index * 2 + 1] if is_array else index

    def encode_field(self, f, value, version, nulls, flexible):
        is_array = f["type"].startswith("[]")
        base = f["type"][2:] if is_array else f["type"]
        out = bytearray()
        if is_array:
            out += length_prefix(None if value is None else len(value), flexible, 4)
            for element in value or []:
                if base in PRIMITIVE_TYPES:
                    out += encode_primitive(base, element, flexible)
                else:
                    out += self.encode_struct(self.struct_fields(f), version, element, nulls, flexible)
        elif base in PRIMITIVE_TYPES:
            out += encode_primitive(base, value, flexible)
        else:
            if value is None:
                raise ValueError("nullable structs are not used by these schemas")
            out += self.encode_struct(self.struct_fields(f), version, value, nulls, flexible)
        return bytes(out)

    def encode_struct(self, fields, version, index, nulls, flexible):
        out = bytearray()
        tagged = []
        for f in fields:
            versions = intersect(parse_range(f["versions"]), self.valid)
            if versions is None or not versions[0] <= version <= versions[1]:
                continue
            value = self.field_value(f, version, index, nulls)
            tagged_versions = parse_range(f.get("taggedVersions"))
            if tagged_versions is not None and tagged_versions[0] <= version <= tagged_versions[1]:
                # Written only when it differs from its default; every sample value does, nulls are the default.
                if value is not None:
                    tagged.append((f["tag"], self.encode_field(f, value, version, nulls, True)))
                continue
            out += self.encode_field(f, value, version, nulls, flexible)
        if flexible:
            out += uvarint(len(tagged))
            for tag, data in sorted(tagged):
                out += uvarint(tag) + uvarint(len(data)) + data
        return bytes(out)

    def qualified(self, struct_name):
        return f"{self.swift_name}.{struct_name}"

    def swift(self):
        out = []
        fields = self.schema["fields"]
        out.append(f"extension {self.swift_name}: SampledMessage {{")
        out.append("    /// Every field that exists in `version` set to a distinct non-default value; those that are")
        out.append("    /// nullable in `version` nil instead if `nulls`.")
        out.append("    static func sample(version: Int16, nulls: Bool = false) -> Self {")
        body = self.field_lines(fields, "        ")
        if any("index" in line for line in body):
            out.append("        let index = 0")
        out.append("        var value = Self()")
        out.extend(body)
        out.append("        return value")
        out.append("    }")
        out.append("}")
        for name, struct_fields in self.structs:
            out.append("")
            out.append(f"extension {self.qualified(name)} {{")
            out.append("    static func sample(version: Int16, index: Int, nulls: Bool) -> Self {")
            out.append("        var value = Self()")
            body = self.field_lines(struct_fields, "        ")
            out.extend(body)
            out.append("        return value")
            out.append("    }")
            out.append("}")
        return out


def messages(schema_dir):
    found = []
    for fn in sorted(os.listdir(MESSAGES)):
        m = re.fullmatch(r"Kafka(\w+)\.swift", fn)
        if not m:
            continue
        path = os.path.join(schema_dir, f"{m.group(1)}.json")
        if not os.path.exists(path):
            continue
        found.append(Message(f"Kafka{m.group(1)}", load(path)))
    return found


def generate(schema_dir):
    found = messages(schema_dir)
    bodies = [m.swift() for m in found]  # assigns each field's sample number, which encode() uses
    out = [
        "// Generated by scripts/generate-kafka-message-samples.py from Apache Kafka's message schemas. Do not edit:",
        "// run `scripts/generate-kafka-message-samples.py`, then `swift format --in-place --configuration",
        "// .swift-format Tests/KafkaWireTests/Messages/Generated/MessageSamples.swift`.",
        "",
        "import KafkaWire",
        "import NIOCore",
        "",
        "extension MessageCodecCase {",
        "    /// Every message type KafkaWire generates, with the versions its schema declares and, for each version,",
        "    /// the length and FNV-1a hash of the sample's encoding as this script computes it from the schema.",
        "    static let all: [MessageCodecCase] = [",
    ]
    for m in found:
        flexible = "nil" if m.first_flexible is None else str(m.first_flexible)
        out.append("        MessageCodecCase(")
        out.append(f"            {m.swift_name}.self, schemaVersions: {m.valid[0]}...{m.valid[1]}, "
                   f"schemaFirstFlexibleVersion: {flexible},")
        out.append("            expectedEncodings: [")
        for version in range(m.valid[0], m.valid[1] + 1):
            for nulls in (False, True):
                data = m.encode(version, nulls)
                flag = "true" if nulls else "false"
                out.append(f"                ExpectedEncoding(version: {version}, nulls: {flag}, "
                           f"length: {len(data)}, fnv1a: {hex_literal(fnv1a(data))}),")
        out.append("            ]")
        out.append("        ),")
    out.append("    ]")
    out.append("}")
    for body in bodies:
        out.append("")
        out.extend(body)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(found)} message types")


def dump(schema_dir, name, version, nulls):
    """Prints the expected encoding of one sample in hex, to compare with what a failing test prints."""
    for m in messages(schema_dir):
        m.swift()
        if m.swift_name in (name, "Kafka" + name):
            print(m.encode(version, nulls).hex())
            return
    sys.exit(f"no message type {name}")


if __name__ == "__main__":
    default_dir = os.path.join(ROOT, "..", "shared", "reference", "kafka-protocol")
    if len(sys.argv) > 1 and sys.argv[1] == "--dump":
        # --dump NAME VERSION [nulls] [SCHEMA_DIR]
        args = sys.argv[2:]
        nulls = len(args) > 2 and args[2] == "nulls"
        rest = args[3:] if nulls else args[2:]
        dump(rest[0] if rest else default_dir, args[0], int(args[1]), nulls)
    else:
        generate(sys.argv[1] if len(sys.argv) > 1 else default_dir)
