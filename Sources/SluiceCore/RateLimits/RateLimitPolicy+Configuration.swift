extension RateLimitPolicy {
    /// Reads a step's `configuration`, reporting every problem by its JSON path; nil when it cannot run.
    /// What Sluice cannot evaluate yet (expressions in `key`, `dynamicLimit`, `dynamicPeriodTime`) is refused,
    /// never ignored.
    public static func parse(
        kind: Kind, configuration: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
    ) -> RateLimitPolicy? {
        let before = diagnostics.diagnostics.count
        let root = ConfigurationReader(configuration, at: path)
        root.warnUnknown(["addHeaders", "async", "errorStrategy", kind.configurationField], &diagnostics)
        var errorStrategy = ErrorStrategy.fallbackPassThrough
        if let text = root.string("errorStrategy", &diagnostics) {
            // Gravitee's own value misspells "through"; the correct spelling is taken too.
            let normalised = text.uppercased() == "FALLBACK_PASS_THROUGH" ? "FALLBACK_PASS_TROUGH" : text.uppercased()
            if let parsed = ErrorStrategy(rawValue: normalised) {
                errorStrategy = parsed
            } else {
                diagnostics.error(path.key("errorStrategy"), "must be FALLBACK_PASS_TROUGH or BLOCK_ON_INTERNAL_ERROR")
            }
        }
        let addHeaders = root.bool("addHeaders", &diagnostics) ?? kind.addsHeadersByDefault
        let async = root.bool("async", &diagnostics) ?? false

        let field = kind.configurationField
        guard root.has(field) else {
            diagnostics.error(path.key(field), "is required", code: "MISSING_FIELD")
            return nil
        }
        let limits = root.object(field, &diagnostics)
        limits.warnUnknown(
            ["limit", "dynamicLimit", "periodTime", "periodTimeUnit", "dynamicPeriodTime", "key", "useKeyOnly"],
            &diagnostics)
        let limit = limits.integer("limit", &diagnostics, minimum: 0) ?? 0
        let dynamicLimit = limits.string("dynamicLimit", &diagnostics).flatMap { $0.isBlank ? nil : $0 }
        if limit > 0, dynamicLimit != nil {
            diagnostics.warning(limits.path.key("dynamicLimit"), "ignored: the static limit is used when it is above 0")
        } else if limit == 0, dynamicLimit != nil {
            diagnostics.error(
                limits.path.key("dynamicLimit"), "expressions are not evaluated yet: give a static 'limit' above 0",
                code: "UNSUPPORTED_EXPRESSION")
        } else if limit == 0 {
            diagnostics.error(limits.path.key("limit"), "must be a positive integer", code: "MISSING_FIELD")
        }
        if let dynamic = limits.string("dynamicPeriodTime", &diagnostics), !dynamic.isBlank {
            diagnostics.error(
                limits.path.key("dynamicPeriodTime"),
                "expressions are not evaluated yet: give a static 'periodTime' and 'periodTimeUnit'",
                code: "UNSUPPORTED_EXPRESSION")
        }
        let periodTime = limits.integer("periodTime", &diagnostics, minimum: 1) ?? 1
        var unit = kind.defaultUnit
        if let text = limits.string("periodTimeUnit", &diagnostics) {
            if let parsed = RateLimitPeriod.Unit(rawValue: text.uppercased()), kind.units.contains(parsed) {
                unit = parsed
            } else {
                diagnostics.error(
                    limits.path.key("periodTimeUnit"),
                    "must be one of \(kind.units.map(\.rawValue).joined(separator: ", "))")
            }
        }
        var key = limits.string("key", &diagnostics)
        if let text = key, text.isEmpty { key = nil }
        if let text = key, text.contains("{#") || text.contains("#{") {
            diagnostics.error(
                limits.path.key("key"),
                "expressions are not evaluated yet: leave 'key' empty (per plan and subscription) or give a fixed text",
                code: "UNSUPPORTED_EXPRESSION")
        }
        let useKeyOnly = limits.bool("useKeyOnly", &diagnostics) ?? false
        if useKeyOnly, key == nil {
            diagnostics.warning(limits.path.key("useKeyOnly"), "has no effect without a 'key'")
        }
        let failed = diagnostics.diagnostics[before...].contains { $0.severity == .error }
        guard !failed else { return nil }
        let period = RateLimitPeriod(count: periodTime, unit: unit, calendarDays: kind == .quota)
        if kind == .spikeArrest, (period.fixedMilliseconds ?? 0) < 1 {
            diagnostics.error(limits.path.key("periodTime"), "is too long")
            return nil
        }
        return RateLimitPolicy(
            kind: kind, limit: limit, period: period, addHeaders: addHeaders, async: async,
            errorStrategy: errorStrategy, key: key, useKeyOnly: useKeyOnly && key != nil)
    }
}

extension String {
    fileprivate var isBlank: Bool { allSatisfy(\.isWhitespace) }
}
