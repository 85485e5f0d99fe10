import FerryTransport

/// A synchronous hand-off of one connection's received DATAGRAM frames (RFC 9221) on the endpoint's event loop:
/// the relay server's forwarding fast path (docs/relay.md §4.5).
///
/// `Connection.receiveDatagram()` costs two hops between a task and the event loop per datagram, and a relay
/// forwards every packet of every relayed connection. A switch installed on a connection sees each datagram in
/// the driver as it is decoded, and may queue it at once on another connection of the same endpoint
/// (`DatagramSwitchboard.send`), with no task, continuation or copy in between. What it declines goes to
/// `receiveDatagram()` as before, through a bounded queue.
package protocol DatagramSwitch: Sendable {
    /// Called on the event loop for each datagram `connection` received. Returns true when the datagram was
    /// dealt with (forwarded or dropped), false to leave it for `receiveDatagram()`.
    func switchDatagram(_ datagram: inout [UInt8], board: DatagramSwitchboard) -> Bool
}

/// What a `DatagramSwitch` may do from inside the driver.
package struct DatagramSwitchboard {
    let driver: EndpointDriver

    /// Queues `bytes` as a DATAGRAM frame on `connection` (which must belong to the same endpoint); the frame
    /// leaves with the driver's next flush. Fails like `Connection.sendDatagram`, and with `.connectionClosed`
    /// for a connection of another endpoint.
    package func send(_ bytes: [UInt8], on connection: Connection) -> Result<Void, DatagramError> {
        guard let core = driver.core, connection.core === core else { return .failure(.connectionClosed) }
        return driver.sendDatagram(connection.handle, bytes: bytes)
    }
}

extension Connection {
    /// Installs `datagramSwitch` for this connection's received datagrams (see `DatagramSwitch`); datagrams
    /// already queued pass through it too.
    package func installDatagramSwitch(_ datagramSwitch: any DatagramSwitch) async {
        let handle = self.handle
        await core.driver.compute { driver in
            guard let runtime = driver.connections[handle] else { return }
            runtime.datagramSwitch = datagramSwitch
            driver.switchDatagrams(runtime)
        }
    }
}

extension EndpointDriver {
    /// The most declined datagrams kept for `receiveDatagram()`; beyond it the oldest is dropped (datagrams are
    /// unreliable, RFC 9221 §5, and the transport's own receive queue is bounded the same way).
    static let declinedDatagramLimit = 1024

    /// Passes every datagram the transport has for `runtime` through its switch; declined ones are kept for
    /// `receiveDatagram()`.
    func switchDatagrams(_ runtime: ConnectionRuntime) {
        guard let datagramSwitch = runtime.datagramSwitch, let connection = transport.connection(runtime.handle) else {
            return
        }
        let board = DatagramSwitchboard(driver: self)
        while var datagram = connection.receiveDatagram() {
            guard !datagramSwitch.switchDatagram(&datagram, board: board) else { continue }
            if runtime.declinedDatagrams.count >= Self.declinedDatagramLimit { runtime.declinedDatagrams.removeFirst() }
            runtime.declinedDatagrams.append(datagram)
        }
    }

    /// The next datagram for `receiveDatagram()`: a declined one when a switch is installed, else the transport's.
    func nextReceivedDatagram(_ runtime: ConnectionRuntime, _ connection: TransportConnection) -> [UInt8]? {
        if runtime.datagramSwitch != nil { return runtime.declinedDatagrams.popFirst() }
        return connection.receiveDatagram()
    }
}
