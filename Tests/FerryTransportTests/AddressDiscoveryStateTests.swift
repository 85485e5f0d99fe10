import XCTest

@testable import FerryTransport

/// The rules of `AddressDiscovery` on their own: negotiation, sequence numbers, retransmission of current
/// reports only, and ordering of received observations (draft-ietf-quic-address-discovery-00 §3, §4.1, §5).
final class AddressDiscoveryStateTests: XCTestCase {
    private let first = NetworkAddress(ipBytes: [192, 0, 2, 1], port: 4433)!
    private let second = NetworkAddress(ipBytes: [192, 0, 2, 1], port: 5000)!
    private let third = NetworkAddress(ipBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 12), port: 1)!

    private func sending() -> AddressDiscovery {
        var discovery = AddressDiscovery(localRole: .both)
        discovery.start(peerMode: .provideAndReceive)
        return discovery
    }

    private func frame(_ sequenceNumber: UInt64, _ address: NetworkAddress) -> ObservedAddressFrame {
        ObservedAddressFrame(sequenceNumber: sequenceNumber, ipAddress: address.ipBytes, port: address.port)!
    }

    func testSendsOnlyWhenItProvidesAndThePeerAsked() {
        let peerModes: [AddressDiscoveryMode?] = [nil, .provideOnly, .receiveOnly, .provideAndReceive]
        for role in [AddressDiscoveryRole.disabled, .provide, .receive, .both] {
            for peerMode in peerModes {
                var discovery = AddressDiscovery(localRole: role)
                discovery.start(peerMode: peerMode)
                let expected = role.providesObservations && (peerMode?.receivesObservations ?? false)
                XCTAssertEqual(discovery.isSending, expected, "\(role) with peer \(String(describing: peerMode))")
                let queued = discovery.observe(first, onPath: 0)
                XCTAssertEqual(queued, expected)
                XCTAssertEqual(discovery.reports.isEmpty, !expected, "no report may be owed to a peer that did not ask")
                // Accepting frames depends on what this side asked for, not on the peer (§4.1).
                XCTAssertEqual(discovery.acceptsObservations, role == .receive || role == .both)
            }
        }
        XCTAssertNil(AddressDiscoveryRole.disabled.transportParameterValue)
        XCTAssertEqual(AddressDiscoveryRole.provide.transportParameterValue, .provideOnly)
        XCTAssertEqual(AddressDiscoveryRole.receive.transportParameterValue, .receiveOnly)
        XCTAssertEqual(AddressDiscoveryRole.both.transportParameterValue, .provideAndReceive)
        XCTAssertEqual(TransportConfig().addressDiscovery, .both)
    }

    func testSequenceNumbersIncreaseOverTheConnection() throws {
        var discovery = sending()
        var queued = discovery.observe(first, onPath: 0)
        XCTAssertTrue(queued)
        queued = discovery.observe(first, onPath: 0)
        XCTAssertFalse(queued, "the peer's view is already current")
        XCTAssertEqual(try XCTUnwrap(discovery.pendingFrame(onPath: 0)), frame(0, first))
        XCTAssertNil(discovery.pendingFrame(onPath: 1))
        discovery.markSent(onPath: 0)
        XCTAssertFalse(discovery.hasPendingReport(onPath: 0))
        queued = discovery.observe(second, onPath: 1)
        XCTAssertTrue(queued)
        XCTAssertEqual(discovery.pendingFrame(onPath: 1)?.sequenceNumber, 1)
        queued = discovery.observe(third, onPath: 1)
        XCTAssertTrue(queued, "the path's remote address changed")
        XCTAssertEqual(discovery.pendingFrame(onPath: 1)?.sequenceNumber, 2)
        XCTAssertEqual(discovery.pendingFrame(onPath: 1)?.isIPv6, true)
        // Back on path 0: its report (0) is older than what the peer saw since, so it is issued anew.
        queued = discovery.observe(first, onPath: 0)
        XCTAssertTrue(queued)
        XCTAssertEqual(discovery.pendingFrame(onPath: 0)?.sequenceNumber, 3)
        XCTAssertEqual(discovery.nextSequenceNumber, 4)
        XCTAssertEqual(discovery.reports.count, 2, "one report per path")
    }

    func testLostReportIsOwedAgainOnlyWhileCurrent() {
        var discovery = sending()
        discovery.observe(first, onPath: 0)
        discovery.markSent(onPath: 0)
        discovery.onReportLost(pathID: 0, sequenceNumber: 0)
        XCTAssertEqual(discovery.pendingFrame(onPath: 0), frame(0, first), "repeated with its own sequence number")
        discovery.markSent(onPath: 0)
        // A newer report for the path replaces the lost one: the old one is not repeated.
        discovery.observe(second, onPath: 0)
        discovery.markSent(onPath: 0)
        discovery.onReportLost(pathID: 0, sequenceNumber: 0)
        XCTAssertFalse(discovery.hasPendingReport(onPath: 0))
        // A report whose path is gone is not repeated either (§4.1: only on the path it was sent on).
        discovery.observe(third, onPath: 1)
        discovery.markSent(onPath: 1)
        discovery.forgetPath(1)
        discovery.onReportLost(pathID: 1, sequenceNumber: 2)
        XCTAssertFalse(discovery.hasPendingReport(onPath: 1))
        XCTAssertEqual(discovery.reports.map(\.pathID), [0])
    }

    func testReceivedObservationsKeepTheHighestSequenceNumber() {
        var discovery = AddressDiscovery(localRole: .receive)
        discovery.start(peerMode: nil)
        var changed = discovery.receive(frame(3, first))
        XCTAssertEqual(changed, first)
        changed = discovery.receive(frame(2, second))
        XCTAssertNil(changed, "older: ignored")
        changed = discovery.receive(frame(3, second))
        XCTAssertNil(changed, "equal: ignored")
        XCTAssertEqual(discovery.observedAddress, first)
        changed = discovery.receive(frame(4, first))
        XCTAssertNil(changed, "newer but unchanged: no change to report")
        XCTAssertEqual(discovery.largestReceivedSequenceNumber, 4)
        changed = discovery.receive(frame(9, third))
        XCTAssertEqual(changed, third)
        XCTAssertEqual(discovery.observedAddress, third)
        XCTAssertEqual(discovery.largestReceivedSequenceNumber, 9)
    }

    func testObservedAddressIsAProbingFrame() {
        // RFC 9000 §9.1 with draft-ietf-quic-address-discovery-00 §4.1: it does not make a packet non-probing.
        XCTAssertTrue(Frame.observedAddress(frame(0, first)).isProbing)
    }
}
