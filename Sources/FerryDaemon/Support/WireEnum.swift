/// A string field of a JSON line protocol (control socket, plugins) as an enum: the known values are cases, and
/// anything else decodes to the catch-all `other` case instead of failing the whole line, so the daemon answers
/// "unknown command 'x'" or "decision 'maybe'" by name rather than "malformed request".
public protocol WireEnum: Codable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The value as it appears on the wire.
    var wireValue: String { get }
    /// The case for a wire value (`other` when unknown).
    init(wireValue: String)
}

extension WireEnum {
    public init(from decoder: any Decoder) throws {
        self.init(wireValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wireValue)
    }

    public init(stringLiteral value: String) {
        self.init(wireValue: value)
    }

    public var description: String { wireValue }
}
