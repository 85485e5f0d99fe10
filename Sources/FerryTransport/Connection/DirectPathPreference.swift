/// Which validated direct path a hole-punching client sends on, when a round validates more than one.
///
/// Prefer IPv6, as Happy Eyeballs does (RFC 8305 §4, RFC 6724): an IPv6 path usually crosses no NAT, so it has no
/// mapping to expire. Otherwise prefer the lower round-trip time. Both with hysteresis, because every switch costs
/// the connection its congestion state on the new path (RFC 9000 §9.4) and a path that flaps between two near-equal
/// candidates would pay it again and again:
/// - an IPv6 path replaces an IPv4 one unless it is more than 50 % and 2 ms slower;
/// - an IPv4 path replaces an IPv6 one only if it takes less than half the time and saves at least 10 ms;
/// - within a family, a path replaces another only if it is a third faster and saves at least 5 ms.
/// A candidate without a measured round trip never replaces a path.
public enum DirectPathPreference {
    /// A validated direct path: where it goes and the round trip its validation took.
    public struct Candidate: Sendable, Hashable {
        public var address: NetworkAddress
        public var rtt: Duration?

        public init(address: NetworkAddress, rtt: Duration?) {
            self.address = address
            self.rtt = rtt
        }
    }

    /// Whether the connection should move from `current` to `candidate`.
    public static func shouldSwitch(from current: Candidate, to candidate: Candidate) -> Bool {
        guard let new = candidate.rtt else { return false }
        guard let old = current.rtt else { return true }
        switch (current.address.isIPv4, candidate.address.isIPv4) {
        case (true, false):
            return new <= old * 3 / 2 || new - old <= .milliseconds(2)
        case (false, true):
            return new * 2 < old && old - new >= .milliseconds(10)
        default:
            return new * 3 < old * 2 && old - new >= .milliseconds(5)
        }
    }
}
