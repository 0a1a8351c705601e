public import Foundation

/// How long a counter's window lasts: `count` units. Rate limit and spike arrest count in fixed durations (Gravitee's
/// `TimeUnit`); a quota's days, weeks, months and years are calendar periods in the gateway's time zone, as
/// Gravitee's `ChronoUnit` arithmetic on the system zone gives them (a month from 31 January ends on the last day of
/// February).
public struct RateLimitPeriod: Sendable, Hashable, CustomStringConvertible {
    public enum Unit: String, Sendable, CaseIterable {
        case milliseconds = "MILLISECONDS"
        case seconds = "SECONDS"
        case minutes = "MINUTES"
        case hours = "HOURS"
        case days = "DAYS"
        case weeks = "WEEKS"
        case months = "MONTHS"
        case years = "YEARS"

        /// The unit's length when it is a fixed duration; nil for calendar units.
        var fixedMilliseconds: Int64? {
            switch self {
            case .milliseconds: 1
            case .seconds: 1000
            case .minutes: 60_000
            case .hours: 3_600_000
            case .days, .weeks, .months, .years: nil
            }
        }

        var calendarComponent: Calendar.Component {
            switch self {
            case .milliseconds: .nanosecond
            case .seconds: .second
            case .minutes: .minute
            case .hours: .hour
            case .days: .day
            case .weeks: .weekOfYear
            case .months: .month
            case .years: .year
            }
        }
    }

    public var count: Int64
    public var unit: Unit
    /// Whether days count as calendar days (quota) or as 24 hours (rate limit, spike arrest).
    public var calendarDays: Bool

    public init(count: Int64, unit: Unit, calendarDays: Bool = false) {
        self.count = count
        self.unit = unit
        self.calendarDays = calendarDays
    }

    /// The period's length when it does not depend on the calendar.
    public var fixedMilliseconds: Int64? {
        if let unit = unit.fixedMilliseconds { return count.multipliedReportingOverflow(by: unit).partialValue }
        if unit == .days && !calendarDays { return count * 86_400_000 }
        return nil
    }

    /// The end of a window that opens at `start` (milliseconds since the epoch).
    public func end(from start: Int64, calendar: Calendar = RateLimitPeriod.calendar) -> Int64 {
        if let length = fixedMilliseconds {
            let (end, overflow) = start.addingReportingOverflow(length)
            return overflow ? .max : end
        }
        let date = Date(timeIntervalSince1970: Double(start) / 1000)
        guard count <= Int64(Int32.max),
            let end = calendar.date(byAdding: unit.calendarComponent, value: Int(count), to: date)
        else { return .max }
        return Int64((end.timeIntervalSince1970 * 1000).rounded())
    }

    /// The gateway's calendar: Gregorian, in the process's time zone.
    public static var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        return calendar
    }

    /// `10 seconds`, as Gravitee's messages name periods.
    public var description: String { "\(count) \(unit.rawValue.lowercased())" }
}
