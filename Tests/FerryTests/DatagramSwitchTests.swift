import XCTest

@testable import Ferry

/// The relay's fast path in the runtime (`DatagramSwitch`): datagrams switched inside the driver from one
/// connection to another, the rest left for `receiveDatagram()`.
final class DatagramSwitchTests: XCTestCase {
    /// Forwards datagrams whose first byte is 1 to `target`, minus that byte; declines the rest.
    struct Forwarder: DatagramSwitch {
        let target: Connection

        func switchDatagram(_ datagram: inout [UInt8], board: DatagramSwitchboard) -> Bool {
            guard datagram.first == 1 else { return false }
            return (try? board.send(Array(datagram.dropFirst()), on: target).get()) != nil
        }
    }

    func testSwitchedDatagramsReachTheOtherConnectionAndDeclinedOnesStayReadable() async throws {
        let server = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: ["switch/1"])
        let a = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        let b = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        let other = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: ["switch/1"])
        do {
            try await withTimeout(20) {
                var incoming = server.incomingConnections.makeAsyncIterator()
                let fromA = try await a.connect(to: server.address, alpn: "switch/1")
                guard let acceptedA = await incoming.next() else { return XCTFail("no connection from A") }
                let fromB = try await b.connect(to: server.address, alpn: "switch/1")
                guard let acceptedB = await incoming.next() else { return XCTFail("no connection from B") }
                XCTAssertEqual(acceptedA.remoteID, a.id)
                await acceptedA.installDatagramSwitch(Forwarder(target: acceptedB))

                for index in 0..<20 { try await fromA.sendDatagram([1, UInt8(index)]) }
                var forwarded: Set<UInt8> = []
                while forwarded.count < 10 {
                    let datagram = try await fromB.receiveDatagram()
                    XCTAssertEqual(datagram.count, 1)
                    forwarded.insert(datagram[0])
                }
                // Declined: readable on A's connection at the server, as without a switch.
                try await fromA.sendDatagram([2, 42])
                var declined: [UInt8] = []
                repeat { declined = try await acceptedA.receiveDatagram() } while declined != [2, 42]
                XCTAssertEqual(declined, [2, 42])

                // A connection of another endpoint is refused by the switchboard, not written to.
                let c = try await a.connect(to: other.address, alpn: "switch/1")
                var otherIncoming = other.incomingConnections.makeAsyncIterator()
                guard let foreign = await otherIncoming.next() else { return XCTFail("no foreign connection") }
                await acceptedA.installDatagramSwitch(Forwarder(target: foreign))
                try await fromA.sendDatagram([1, 7])
                var leftover: [UInt8] = []
                repeat { leftover = try await acceptedA.receiveDatagram() } while leftover != [1, 7]
                XCTAssertEqual(leftover, [1, 7], "declined because the target belongs to another endpoint")
                c.close()
            }
        } catch {
            XCTFail("\(error)")
        }
        await a.close()
        await b.close()
        await other.close()
        await server.close()
    }
}
