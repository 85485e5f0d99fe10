/// Which end of a connection this is.
///
/// It lives in FerryWire because the wire format itself depends on it: stream ID bits (RFC 9000 §2.1) and
/// which transport parameters each side may send (RFC 9000 §18.2).
public enum Side: Sendable, Hashable, CustomStringConvertible {
    case client
    case server

    /// The other end.
    public var opposite: Side { self == .client ? .server : .client }

    public var description: String { self == .client ? "client" : "server" }
}
