import XCTest

@testable import FerryTransport

/// The connection ID pool (RFC 9000 §5.1, §19.15, §19.16) behind migration.
final class PathConnectionIDTests: XCTestCase {
    private func frame(_ sequence: UInt64, retirePriorTo: UInt64 = 0, byte: UInt8? = nil) -> NewConnectionIDFrame {
        NewConnectionIDFrame(
            sequenceNumber: sequence, retirePriorTo: retirePriorTo,
            connectionID: ConnectionID([UInt8](repeating: byte ?? UInt8(sequence), count: 8))!,
            statelessResetToken: StatelessResetToken([UInt8](repeating: byte ?? UInt8(sequence), count: 16))!)
    }

    func testPeerLimitIsEnforced() throws {
        var pool = PeerConnectionIDs(initial: ConnectionID([0, 0, 0, 0, 0, 0, 0, 0])!)
        try pool.add(frame(1), limit: 3)
        try pool.add(frame(2), limit: 3)
        XCTAssertThrowsError(try pool.add(frame(3), limit: 3)) { error in
            XCTAssertEqual((error as? TransportError)?.code, .connectionIDLimitError)
        }
    }

    func testReusedSequenceWithOtherIDIsAViolation() throws {
        var pool = PeerConnectionIDs(initial: ConnectionID([0, 0, 0, 0, 0, 0, 0, 0])!)
        try pool.add(frame(1), limit: 4)
        try pool.add(frame(1), limit: 4)  // a retransmission is fine
        XCTAssertThrowsError(try pool.add(frame(1, byte: 9), limit: 4)) { error in
            XCTAssertEqual((error as? TransportError)?.code, .protocolViolation)
        }
    }

    func testActivateSpareParksAndRetiresAndNeverReadds() throws {
        var pool = PeerConnectionIDs(initial: ConnectionID([0, 0, 0, 0, 0, 0, 0, 0])!)
        try pool.add(frame(1), limit: 4)
        try pool.add(frame(2), limit: 4)
        let spare = try XCTUnwrap(pool.activateSpare())
        XCTAssertEqual(spare.sequenceNumber, 1)
        XCTAssertEqual(pool.active.sequenceNumber, 1)
        XCTAssertEqual(pool.parked.map(\.sequenceNumber), [0])
        XCTAssertTrue(pool.reactivate(0), "fallback to the old path's ID")
        XCTAssertEqual(pool.active.sequenceNumber, 0)
        pool.retireParked(1)
        XCTAssertEqual(pool.pendingRetirements, [1])
        try pool.add(frame(1), limit: 4)  // a late retransmission of a retired ID
        XCTAssertFalse(pool.isUsable(1))
        XCTAssertEqual(pool.spareCount, 1)
    }

    func testRetirePriorToRetiresActiveParkedAndSpare() throws {
        var pool = PeerConnectionIDs(initial: ConnectionID([0, 0, 0, 0, 0, 0, 0, 0])!)
        try pool.add(frame(1), limit: 4)
        _ = pool.parkSpare()
        try pool.add(frame(2), limit: 4)
        try pool.add(frame(3, retirePriorTo: 3), limit: 4)
        XCTAssertEqual(pool.active.sequenceNumber, 3)
        XCTAssertEqual(Set(pool.pendingRetirements), [0, 1, 2])
        XCTAssertTrue(pool.parked.isEmpty)
        XCTAssertEqual(pool.spareCount, 0)
    }

    func testLocalRetirementRulesAndRetirePriorTo() throws {
        var local = LocalConnectionIDs()
        let token = StatelessResetToken([UInt8](repeating: 1, count: 16))!
        let first = ConnectionID([1, 1, 1, 1, 1, 1, 1, 1])!
        let second = ConnectionID([2, 2, 2, 2, 2, 2, 2, 2])!
        _ = local.add(first, resetToken: token, announce: false)
        _ = local.add(second, resetToken: token, announce: true)
        XCTAssertThrowsError(try local.retire(sequenceNumber: 5)) { error in
            XCTAssertEqual((error as? TransportError)?.code, .protocolViolation)
        }
        XCTAssertThrowsError(try local.retire(sequenceNumber: 1, usedConnectionID: second)) { error in
            XCTAssertEqual((error as? TransportError)?.code, .protocolViolation, "retiring the ID in use")
        }
        XCTAssertEqual(local.activeCount, 2)
        local.requestRetirement(priorTo: 1)
        XCTAssertEqual(local.retirePriorTo, 1)
        XCTAssertEqual(local.activeCount, 1, "IDs asked to be retired do not count against the peer's limit")
        XCTAssertEqual(try local.retire(sequenceNumber: 0), first)
        XCTAssertNil(try local.retire(sequenceNumber: 0))
    }
}
