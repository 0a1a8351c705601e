/// A User Property: a name and value pair whose meaning the application defines. A packet may carry any number;
/// names may repeat, and their order is kept.
public struct MQTTUserProperty: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}
