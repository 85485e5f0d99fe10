/// The value of the address_discovery transport parameter (0x9f81a176, draft-ietf-quic-address-discovery-00 §3).
///
/// It says whether the sender provides OBSERVED_ADDRESS frames, wants to receive them, or both. Any other value
/// is a TRANSPORT_PARAMETER_ERROR; an absent parameter means the peer does not support the extension.
public enum AddressDiscoveryMode: UInt64, Sendable, Hashable, CaseIterable {
    /// 0: willing to provide address observations, not interested in receiving them.
    case provideOnly = 0
    /// 1: interested in receiving address observations, not willing to provide them.
    case receiveOnly = 1
    /// 2: both provides and receives address observations.
    case provideAndReceive = 2

    /// Whether the sender of this value reports the addresses it observes (values 0 and 2).
    public var providesObservations: Bool { self != .receiveOnly }

    /// Whether the sender of this value wants OBSERVED_ADDRESS frames (values 1 and 2).
    public var receivesObservations: Bool { self != .provideOnly }
}
