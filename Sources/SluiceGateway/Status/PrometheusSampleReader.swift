/// Reads samples back from Prometheus text (format 0.0.4): what the status snapshot sums per API from the
/// gateway's own registry, so that the numbers it shows are the numbers the metrics count, counted once.
///
/// Only the families asked for are read; other lines are skipped after their name. A malformed line is skipped,
/// never fatal.
struct PrometheusSampleReader {
    /// One sample: its family's name, the labels asked for, and its value.
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The families to read (their sample names, e.g. `sluice_requests_total`).
    let names: Set<String>
    /// The labels to keep of each sample.
    let labels: Set<String>

    func samples(in text: String) -> [Sample] {
        var samples: [Sample] = []
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            if let sample = read(line) { samples.append(sample) }
        }
        return samples
    }

    /// One line `name{label="value",…} value`; nil for a comment, another family, or a line that does not parse.
    func read(_ line: Substring.UTF8View.SubSequence) -> Sample? {
        guard let first = line.first, first != UInt8(ascii: "#") else { return nil }
        var index = line.startIndex
        while index < line.endIndex, line[index] != UInt8(ascii: "{"), line[index] != UInt8(ascii: " ") {
            index = line.index(after: index)
        }
        let name = String(decoding: line[line.startIndex..<index], as: UTF8.self)
        guard names.contains(name), index < line.endIndex else { return nil }
        var kept: [String: String] = [:]
        if line[index] == UInt8(ascii: "{") {
            index = line.index(after: index)
            guard let end = readLabels(line, from: &index, into: &kept) else { return nil }
            index = end
        }
        let valueText = String(decoding: line[index...], as: UTF8.self).split(separator: " ").first
        guard let valueText, let value = Self.number(valueText) else { return nil }
        return Sample(name: name, labels: kept, value: value)
    }

    /// Reads `label="value",…}` from `index`; returns the index after the closing brace.
    private func readLabels(
        _ line: Substring.UTF8View.SubSequence, from index: inout Substring.UTF8View.Index,
        into kept: inout [String: String]
    ) -> Substring.UTF8View.Index? {
        while index < line.endIndex {
            if line[index] == UInt8(ascii: "}") { return line.index(after: index) }
            if line[index] == UInt8(ascii: ",") || line[index] == UInt8(ascii: " ") {
                index = line.index(after: index)
                continue
            }
            let nameStart = index
            while index < line.endIndex, line[index] != UInt8(ascii: "=") { index = line.index(after: index) }
            guard index < line.endIndex else { return nil }
            let labelName = String(decoding: line[nameStart..<index], as: UTF8.self)
            index = line.index(after: index)
            guard index < line.endIndex, line[index] == UInt8(ascii: "\"") else { return nil }
            index = line.index(after: index)
            var value: [UInt8] = []
            var closed = false
            while index < line.endIndex {
                let byte = line[index]
                index = line.index(after: index)
                if byte == UInt8(ascii: "\"") {
                    closed = true
                    break
                }
                if byte == UInt8(ascii: "\\"), index < line.endIndex {
                    let escaped = line[index]
                    index = line.index(after: index)
                    value.append(escaped == UInt8(ascii: "n") ? UInt8(ascii: "\n") : escaped)
                } else {
                    value.append(byte)
                }
            }
            guard closed else { return nil }
            if labels.contains(labelName) { kept[labelName] = String(decoding: value, as: UTF8.self) }
        }
        return nil
    }

    static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": Double.infinity
        case "-Inf": -Double.infinity
        case "NaN": Double.nan
        default: Double(text)
        }
    }
}
