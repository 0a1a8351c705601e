import Foundation
import Testing

@testable import SluiceCore

/// The counters' window maths and the policies' decisions, as pure values with a manual clock.
@Suite("rate-limit windows and decisions")
struct RateLimitWindowTests {
    static let rate = RateLimitPolicy(
        kind: .rateLimit, limit: 3, period: RateLimitPeriod(count: 10, unit: .seconds), addHeaders: true)

    @Test("a fixed window opens at the first hit, counts every hit, and a hit at its end opens the next")
    func fixedWindow() {
        var window = RateLimitWindow.first(windowEnd: Self.rate.windowEnd(from: 1_000))
        #expect(window == RateLimitWindow(count: 1, resetAt: 11_000))
        window.hit(now: 5_000, newWindowEnd: Self.rate.windowEnd(from: 5_000))
        window.hit(now: 10_999, newWindowEnd: Self.rate.windowEnd(from: 10_999))
        // Aligned to the first hit, not to the clock: still the window that opened at 1 000.
        #expect(window == RateLimitWindow(count: 3, resetAt: 11_000))
        window.hit(now: 11_000, newWindowEnd: Self.rate.windowEnd(from: 11_000))
        #expect(window == RateLimitWindow(count: 1, resetAt: 21_000))
        // Long after: the next window opens at the hit that comes.
        window.hit(now: 60_123, newWindowEnd: Self.rate.windowEnd(from: 60_123))
        #expect(window == RateLimitWindow(count: 1, resetAt: 70_123))
    }

    @Test("allowed while the count is at most the limit; headers as Gravitee sets them, Retry-After when refused")
    func decisions() {
        let now: Int64 = 2_000
        let third = Self.rate.decide(RateLimitWindow(count: 3, resetAt: 11_000), now: now)
        #expect(third.refusal == nil)
        #expect(third.headers.map(\.name) == ["X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"])
        #expect(third.headers.map(\.value) == ["3", "0", "11000"])
        let fourth = Self.rate.decide(RateLimitWindow(count: 4, resetAt: 11_000), now: now)
        #expect(fourth.refusal?.status == 429)
        #expect(fourth.refusal?.key == "RATE_LIMIT_TOO_MANY_REQUESTS")
        #expect(fourth.refusal?.message == "Rate limit exceeded! You reached the limit of 3 requests per 10 seconds")
        #expect(fourth.headers.first { $0.name == "X-Rate-Limit-Remaining" }?.value == "0")
        #expect(fourth.headers.first { $0.name == "Retry-After" }?.value == "9")
        var quiet = Self.rate
        quiet.addHeaders = false
        #expect(quiet.decide(RateLimitWindow(count: 4, resetAt: 11_000), now: now).headers.isEmpty)
        #expect(quiet.decide(RateLimitWindow(count: 4, resetAt: 11_000), now: now).refusal != nil)
    }

    @Test("quota: X-Quota-* headers and QUOTA_TOO_MANY_REQUESTS; spike arrest: its slice headers and key")
    func otherKinds() {
        let quota = RateLimitPolicy(
            kind: .quota, limit: 2, period: RateLimitPeriod(count: 1, unit: .months, calendarDays: true))
        let ok = quota.decide(RateLimitWindow(count: 1, resetAt: 99), now: 0)
        #expect(ok.headers.map(\.name) == ["X-Quota-Limit", "X-Quota-Remaining", "X-Quota-Reset"])
        #expect(ok.headers.map(\.value) == ["2", "1", "99"])
        let refused = quota.decide(RateLimitWindow(count: 3, resetAt: 99), now: 0)
        #expect(refused.refusal?.key == "QUOTA_TOO_MANY_REQUESTS")
        #expect(refused.refusal?.message == "Quota exceeded! You reached the limit of 2 requests per 1 months")
        let spike = RateLimitPolicy(
            kind: .spikeArrest, limit: 10, period: RateLimitPeriod(count: 1, unit: .seconds), addHeaders: true)
        let spiked = spike.decide(RateLimitWindow(count: 2, resetAt: 600), now: 500)
        #expect(spiked.refusal?.key == "SPIKE_ARREST_TOO_MANY_REQUESTS")
        #expect(spiked.refusal?.message == "Spike limit exceeded! You reached the limit of 1 requests per 100 ms.")
        #expect(
            spiked.headers.map(\.name) == [
                "X-Spike-Arrest-Limit", "X-Spike-Arrest-Slice-Period", "X-Spike-Arrest-Reset", "Retry-After",
            ])
        #expect(spiked.headers.map(\.value) == ["1", "100ms", "600", "1"])
    }

    @Test(
        "spike arrest slices as Gravitee computes them (in single precision): one hit per period/limit, or about 100 ms slices",
        arguments: [
            (10, 1_000, 1, 100), (3, 1_000, 1, 333), (1, 60_000, 1, 60_000), (100, 1_000, 10, 100),
            (250, 1_000, 25, 100), (30, 1_000, 3, 100), (7, 100, 7, 100), (1_000_000, 1_000, 100_000, 100),
        ] as [(Int64, Int64, Int64, Int64)])
    func spikeSlices(limit: Int64, period: Int64, sliceLimit: Int64, slice: Int64) {
        let computed = RateLimitPolicy.spikeSlice(limit: limit, periodMilliseconds: period)
        #expect(computed.limit == sliceLimit)
        #expect(computed.milliseconds == slice)
    }

    @Test("a spike-arrest counter's window is one slice long")
    func spikeWindow() {
        let spike = RateLimitPolicy(kind: .spikeArrest, limit: 5, period: RateLimitPeriod(count: 1, unit: .seconds))
        #expect(spike.windowEnd(from: 1_000) == 1_200)
        var window = RateLimitWindow.first(windowEnd: spike.windowEnd(from: 1_000))
        window.hit(now: 1_100, newWindowEnd: spike.windowEnd(from: 1_100))
        #expect(spike.decide(window, now: 1_100).refusal != nil)
        window.hit(now: 1_200, newWindowEnd: spike.windowEnd(from: 1_200))
        #expect(spike.decide(window, now: 1_200).refusal == nil)
    }

    @Test("quota periods of days and months follow the calendar; rate-limit days are 24 hours")
    func calendarPeriods() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        let january31 = Int64(
            try #require(calendar.date(from: DateComponents(year: 2026, month: 1, day: 31, hour: 12)))
                .timeIntervalSince1970 * 1000)
        let month = RateLimitPeriod(count: 1, unit: .months, calendarDays: true)
        let end = Date(timeIntervalSince1970: Double(month.end(from: january31, calendar: calendar)) / 1000)
        #expect(
            calendar.dateComponents([.month, .day, .hour], from: end) == DateComponents(month: 2, day: 28, hour: 12))
        #expect(RateLimitPeriod(count: 2, unit: .days).end(from: 0, calendar: calendar) == 172_800_000)
        #expect(
            RateLimitPeriod(count: 1, unit: .weeks, calendarDays: true).end(from: 0, calendar: calendar) == 604_800_000)
        #expect(RateLimitPeriod(count: 3, unit: .minutes).fixedMilliseconds == 180_000)
    }

    @Test(
        "when the store cannot count: through with Gravitee's fallback headers, or refused by BLOCK_ON_INTERNAL_ERROR")
    func storeFailure() {
        let through = Self.rate.decideWithoutCounter()
        #expect(through.refusal == nil)
        #expect(through.headers.map(\.value) == ["3", "3", "-1"])
        var blocking = Self.rate
        blocking.errorStrategy = .blockOnInternalError
        let blocked = blocking.decideWithoutCounter()
        #expect(blocked.refusal?.status == 429)
        #expect(blocked.refusal?.key == "RATE_LIMIT_BLOCK_ON_INTERNAL_ERROR")
        #expect(blocked.headers.isEmpty)
    }
}
