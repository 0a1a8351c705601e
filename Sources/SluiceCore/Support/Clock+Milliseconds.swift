import Foundation

extension Date {
    /// Milliseconds since the Unix epoch, as message timestamps carry them.
    public static var nowMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
