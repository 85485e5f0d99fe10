import Ferry
import XCTest

final class EndpointAddressTests: XCTestCase {
    let id = String(repeating: "ab", count: 32)

    func testParsesIPv4() throws {
        let address = try EndpointAddress(parsing: "\(id)@127.0.0.1:4433")
        XCTAssertEqual(address.id.hex, id)
        XCTAssertEqual(address.directAddresses, [HostPort(host: "127.0.0.1", port: 4433)])
        XCTAssertEqual(address.directAddresses[0].ipAddress, [127, 0, 0, 1])
        XCTAssertEqual(address.description, "\(id)@127.0.0.1:4433")
    }

    func testParsesBracketedIPv6AndSeveralAddresses() throws {
        let text = "\(id)@[::1]:1,10.0.0.2:65535,[2001:db8::7:8]:443,example.org:80"
        let address = try EndpointAddress(parsing: text)
        XCTAssertEqual(address.directAddresses.count, 4)
        XCTAssertEqual(address.directAddresses[0].host, "::1")
        XCTAssertEqual(address.directAddresses[0].ipAddress, [UInt8](repeating: 0, count: 15) + [1])
        XCTAssertEqual(address.directAddresses[2].ipAddress?.count, 16)
        XCTAssertEqual(address.directAddresses[3], HostPort(host: "example.org", port: 80))
        XCTAssertNil(address.directAddresses[3].ipAddress)
        XCTAssertEqual(address.description, text)
        XCTAssertEqual(try EndpointAddress(parsing: address.description), address)
    }

    func testUppercaseIDIsCanonicalisedToLowercase() throws {
        let address = try EndpointAddress(parsing: "\(id.uppercased())@1.2.3.4:5")
        XCTAssertEqual(address.description, "\(id)@1.2.3.4:5")
    }

    func testIPv4MappedIPv6Literal() throws {
        let address = try EndpointAddress(parsing: "\(id)@[::ffff:192.0.2.1]:9")
        XCTAssertEqual(address.directAddresses[0].ipAddress, [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 192, 0, 2, 1])
    }

    func testRejectsMalformedInput() {
        let cases: [(String, EndpointAddressError)] = [
            ("127.0.0.1:4433", .missingSeparator),
            ("abc@127.0.0.1:4433", .invalidEndpointID("abc")),
            (String(repeating: "zz", count: 32) + "@127.0.0.1:1", .invalidEndpointID(String(repeating: "zz", count: 32))),
            ("\(id)@", .missingAddress),
            ("\(id)@127.0.0.1:1,", .missingAddress),
            ("\(id)@127.0.0.1", .missingPort("127.0.0.1")),
            ("\(id)@127.0.0.1:", .invalidPort("")),
            ("\(id)@127.0.0.1:65536", .invalidPort("65536")),
            ("\(id)@127.0.0.1:-1", .invalidPort("-1")),
            ("\(id)@127.0.0.1:+1", .invalidPort("+1")),
            ("\(id)@256.0.0.1:1", .invalidHost("256.0.0.1")),
            ("\(id)@1.2.3:1", .invalidHost("1.2.3")),
            ("\(id)@::1:1", .invalidHost("::1")),
            ("\(id)@[::1]", .missingPort("[::1]")),
            ("\(id)@[::1:1", .invalidHost("[::1:1")),
            ("\(id)@[1::2::3]:1", .invalidHost("1::2::3")),
            ("\(id)@[12345::]:1", .invalidHost("12345::")),
            ("\(id)@[1:2:3:4:5:6:7:8:9]:1", .invalidHost("1:2:3:4:5:6:7:8:9")),
            ("\(id)@bad host:1", .invalidHost("bad host")),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try EndpointAddress(parsing: text), text) { error in
                XCTAssertEqual(error as? EndpointAddressError, expected, text)
            }
            XCTAssertNil(EndpointAddress(text), text)
        }
    }
}
