import FerryTestSupport

@testable import FerryTransport

/// Datagrams in flight between a simulated client and server, delivered in time order (ties in send order), and
/// the virtual-time step both path test networks run (PathTestNetwork, PunchTestNetwork).
struct DeliveryQueue {
    private struct Delivery {
        var time: Instant
        var sequence: UInt64
        var toServer: Bool
        var from: NetworkAddress
        var bytes: [UInt8]
    }

    private var inFlight: [Delivery] = []
    private var sequence: UInt64 = 0

    /// Queues `bytes` from `from` for the server (or the client) at `time`.
    mutating func schedule(toServer: Bool, from: NetworkAddress, bytes: [UInt8], at time: Instant) {
        sequence += 1
        inFlight.append(Delivery(time: time, sequence: sequence, toServer: toServer, from: from, bytes: bytes))
    }

    /// The next instant anything happens: a delivery or either endpoint's timer.
    func nextEvent(client: TransportEndpoint, server: TransportEndpoint) -> Instant? {
        var next = inFlight.map(\.time).min()
        for endpoint in [client, server] {
            if let timeout = endpoint.nextTimeout(), next.map({ timeout < $0 }) ?? true { next = timeout }
        }
        return next
    }

    /// Delivers everything due at `now`, then fires the endpoints' due timers.
    mutating func advance(to now: Instant, client: TransportEndpoint, server: TransportEndpoint) {
        inFlight.sort { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        while let first = inFlight.first, first.time <= now {
            inFlight.removeFirst()
            (first.toServer ? server : client).handle(datagram: first.bytes, from: first.from, now: now)
        }
        for endpoint in [client, server] {
            if let timeout = endpoint.nextTimeout(), timeout <= now { endpoint.handleTimeout(now: now) }
        }
    }
}
