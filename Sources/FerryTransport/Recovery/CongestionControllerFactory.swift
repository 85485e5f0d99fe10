/// Makes the congestion controller of each path of a connection: the user-pluggable half of congestion control,
/// as s2n-quic's congestion controller provider is (design.md: providers behind small protocols).
///
/// RFC 9002 §7 leaves the algorithm to the sender, so `TransportConfig.congestionControl` takes any factory:
/// the built-in `CongestionControlAlgorithm.cubic` (the default) and `.newReno`, or one of the application's own.
/// A connection asks for a controller when it starts and for every new path it validates or migrates to
/// (RFC 9000 §9.4: a new path starts with a fresh controller), so a factory must return a new instance per call.
/// It is called on the connection's thread, with the path's current maximum datagram size.
public protocol CongestionControllerFactory: Sendable {
    /// A fresh controller for a path whose datagrams are `maxDatagramSize` bytes (RFC 9002 §7.2 counts the
    /// window in them).
    func makeCongestionController(maxDatagramSize: Int) -> any CongestionController
}

extension CongestionControlAlgorithm: CongestionControllerFactory {
    public func makeCongestionController(maxDatagramSize: Int) -> any CongestionController {
        switch kind {
        case .cubic: Cubic(maxDatagramSize: maxDatagramSize)
        case .newReno: NewReno(maxDatagramSize: maxDatagramSize)
        }
    }
}

extension CongestionControllerFactory where Self == CongestionControlAlgorithm {
    /// CUBIC (RFC 9438), the default.
    public static var cubic: CongestionControlAlgorithm { CongestionControlAlgorithm(kind: .cubic) }
    /// NewReno (RFC 9002 §7).
    public static var newReno: CongestionControlAlgorithm { CongestionControlAlgorithm(kind: .newReno) }
}
