@testable import Ferry
import FerryCrypto
@testable import FerryRelay
import FerryTransport
import XCTest

/// The relay protocol's codec (docs/relay.md §3.2), the stand-in address book and the rate limiter.
final class RelayMessageTests: XCTestCase {
    let a = EndpointIdentity.generate().id
    let b = EndpointIdentity.generate().id

    var samples: [RelayMessage] {
        [
            .clientHello(version: 1, isMeshPeer: false, token: Array("secret".utf8)),
            .clientHello(version: 1, isMeshPeer: true, token: []),
            .serverHello(version: 1),
            .sendPacket(destination: a, packet: [1, 2, 3][...]),
            .receivePacket(source: b, packet: ArraySlice(repeating: 9, count: 1500)),
            .peerUnreachable(peer: a, reason: .notConnected),
            .ping(0x0102_0304_0506_0708),
            .pong(42),
            .close(code: 2, reason: "wrong relay token"),
            .peersPresent([a, b]),
            .peersAbsent([]),
            .meshForward(source: a, destination: b, packet: [7][...]),
        ]
    }

    func testEveryMessageRoundTripsInBothForms() throws {
        var stream: [UInt8] = []
        for message in samples {
            XCTAssertEqual(try RelayMessage(decoding: message.encoded[...]), message)
            RelayFrameDecoder.frame(message, into: &stream)
        }
        // The stream form, fed one byte at a time, yields the same messages in order.
        var decoder = RelayFrameDecoder()
        var decoded: [RelayMessage] = []
        for byte in stream {
            decoder.append([byte])
            while let message = try decoder.next() { decoded.append(message) }
        }
        XCTAssertEqual(decoded, samples)
    }

    func testMalformedMessagesAreTypedErrors() {
        let cases: [([UInt8], RelayProtocolError)] = [
            ([], .truncated),
            ([0x99], .unknownType(0x99)),
            ([0x02] + a.rawValue, .badLength(.sendPacket)),
            ([0x02] + a.rawValue + [UInt8](repeating: 0, count: 1501), .badLength(.sendPacket)),
            ([0x03, 1, 2], .truncated),
            ([0x01], .badLength(.serverHello)),
            ([0x00, 1, 0, 5, 1], .badLength(.clientHello)),
            ([0x00, 1, 2, 0], .malformed(.clientHello, "unknown flags 2")),
            ([0x04] + a.rawValue + [9], .malformed(.peerUnreachable, "reason 9")),
            ([0x05, 1, 2, 3], .badLength(.ping)),
            ([0x10] + [UInt8](repeating: 1, count: 33), .badLength(.peersPresent)),
        ]
        for (bytes, expected) in cases {
            XCTAssertThrowsError(try RelayMessage(decoding: bytes[...]), "\(bytes.prefix(4))") { error in
                XCTAssertEqual(error as? RelayProtocolError, expected)
            }
        }
        var decoder = RelayFrameDecoder()
        decoder.append([0, 0])
        XCTAssertThrowsError(try decoder.next()) { XCTAssertEqual($0 as? RelayProtocolError, .frameTooLarge(0)) }
    }

    func testStandInAddressesAreStableBoundedAndRecognisable() throws {
        var book = RelayAddressBook(capacity: 2)
        let first = try XCTUnwrap(book.address(for: .init(relay: a, peer: b)))
        XCTAssertTrue(RelayAddressBook.isRelayed(first))
        XCTAssertEqual(book.address(for: .init(relay: a, peer: b)), first)
        XCTAssertEqual(book.route(for: first), .init(relay: a, peer: b))
        let second = try XCTUnwrap(book.address(for: .init(relay: b, peer: a)))
        XCTAssertNotEqual(first, second)
        _ = book.address(for: .init(relay: a, peer: b))  // first is now the most recently used
        let third = try XCTUnwrap(book.address(for: .init(relay: a, peer: a)))
        XCTAssertEqual(book.count, 2)
        XCTAssertNil(book.route(for: second), "the least recently used pair made room")
        XCTAssertNotNil(book.route(for: first))
        XCTAssertNotNil(book.route(for: third))
        XCTAssertFalse(RelayAddressBook.isRelayed(try XCTUnwrap(NetworkAddress(ipBytes: [127, 0, 0, 1], port: 1))))
    }

    func testTheRateLimiterAllowsTheBurstThenTheRate() {
        var limiter = RelayRateLimiter(bytesPerSecond: 1000, burstBytes: 3000)
        XCTAssertTrue(limiter.allow(3000, now: 0))
        XCTAssertFalse(limiter.allow(1, now: 0))
        XCTAssertFalse(limiter.allow(600, now: 0.5))
        XCTAssertTrue(limiter.allow(500, now: 0.5))
        XCTAssertTrue(limiter.allow(3000, now: 100), "refills up to the burst, not beyond")
        XCTAssertFalse(limiter.allow(1, now: 100))
    }

    func testAddressesParseWithAndWithoutRelays() throws {
        let id = EndpointIdentity.generate().id
        let relay = EndpointIdentity.generate().id
        XCTAssertEqual(try EndpointAddress(parsing: id.hex), EndpointAddress(id: id))
        let withRelay = try EndpointAddress(parsing: "\(id.hex);relay=\(relay.hex)@relay.example:443")
        XCTAssertEqual(withRelay.relay, RelayAddress(id: relay, address: HostPort(host: "relay.example", port: 443)))
        XCTAssertTrue(withRelay.directAddresses.isEmpty)
        let both = try EndpointAddress(parsing: "\(id.hex)@198.18.0.1:7777;relay=\(relay.hex)@198.18.0.10:443")
        XCTAssertEqual(both.directAddresses, [HostPort(host: "198.18.0.1", port: 7777)])
        XCTAssertEqual(try EndpointAddress(parsing: both.description), both)
        XCTAssertThrowsError(try EndpointAddress(parsing: "\(id.hex);via=x")) {
            XCTAssertEqual($0 as? EndpointAddressError, .unknownOption("via=x"))
        }
        XCTAssertThrowsError(try EndpointAddress(parsing: "\(id.hex);relay=\(relay.hex)")) {
            XCTAssertEqual($0 as? EndpointAddressError, .missingSeparator)
        }
    }
}
