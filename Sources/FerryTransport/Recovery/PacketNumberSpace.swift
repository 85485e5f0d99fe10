/// One of the three packet number spaces (RFC 9000 §12.3).
///
/// Packet numbers, acknowledgements and loss recovery state are kept separately per space, so recovery types index
/// their per-space state with this enum. The raw value matches `EncryptionLevelIndex` (0-RTT and 1-RTT share the
/// application space).
public enum PacketNumberSpace: Int, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case initial = 0
    case handshake = 1
    case application = 2

    /// The space name as RFC 9000 spells it.
    public var description: String {
        switch self {
        case .initial: "Initial"
        case .handshake: "Handshake"
        case .application: "Application"
        }
    }
}
