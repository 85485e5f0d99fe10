import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Address-validation tokens (RFC 9000 §8.1.3, §8.1.4): sealing, binding, expiry, the two kinds, and NEW_TOKEN
/// end to end.
final class TokenTests: XCTestCase {
    let client = NetworkAddress(ipBytes: [10, 0, 0, 1], port: 4433)!
    let original = ConnectionID.repeating(0x11, count: 8)
    let retrySource = ConnectionID.repeating(0x22, count: 8)
    let start = Instant(nanoseconds: 5_000_000_000)

    func makeIssuer(key: UInt8 = 7) -> AddressTokenIssuer {
        AddressTokenIssuer(config: AddressValidationConfig(tokenKey: [UInt8](repeating: key, count: 32)))
    }

    func testRetryTokenBindsAddressConnectionIDsAndExpiry() throws {
        let issuer = makeIssuer()
        var random = RandomSource(seed: 1)
        let token = try XCTUnwrap(issuer.makeRetryToken(
            remote: client, originalDestination: original, retrySource: retrySource, now: start, random: &random))
        XCTAssertEqual(token.first, AddressTokenKind.retry.rawValue)
        XCTAssertEqual(
            issuer.validate(token[...], remote: client, destination: retrySource, now: start + .seconds(1)),
            .retry(originalDestinationConnectionID: original, retrySourceConnectionID: retrySource))
        var otherPort = client
        otherPort.port += 1
        XCTAssertEqual(issuer.validate(token[...], remote: otherPort, destination: retrySource, now: start), .invalidRetry)
        XCTAssertEqual(issuer.validate(token[...], remote: client, destination: original, now: start), .invalidRetry)
        XCTAssertEqual(
            issuer.validate(token[...], remote: client, destination: retrySource, now: start + .seconds(11)),
            .invalidRetry, "Retry tokens expire after retryTokenLifetime")
        for index in token.indices.dropFirst() {
            var tampered = token
            tampered[index] ^= 0x40
            XCTAssertEqual(
                issuer.validate(tampered[...], remote: client, destination: retrySource, now: start), .invalidRetry)
        }
        XCTAssertEqual(
            makeIssuer(key: 8).validate(token[...], remote: client, destination: retrySource, now: start),
            .invalidRetry, "another key does not open the token")
    }

    func testNewTokenBindsIPButNotPortAndIsDistinguishable() throws {
        let issuer = makeIssuer()
        var random = RandomSource(seed: 2)
        let token = try XCTUnwrap(issuer.makeNewToken(remote: client, now: start, random: &random))
        XCTAssertEqual(token.first, AddressTokenKind.newToken.rawValue)
        var otherPort = client
        otherPort.port = 9999
        XCTAssertEqual(issuer.validate(token[...], remote: otherPort, destination: original, now: start), .newToken)
        let otherHost = NetworkAddress(ipBytes: [10, 0, 0, 9], port: client.port)!
        XCTAssertEqual(issuer.validate(token[...], remote: otherHost, destination: original, now: start), .invalid)
        XCTAssertEqual(
            issuer.validate(token[...], remote: client, destination: original, now: start + .seconds(86_401)),
            .invalid)
        // Relabelling a token as the other kind breaks its authentication.
        var relabelled = token
        relabelled[0] = AddressTokenKind.retry.rawValue
        XCTAssertEqual(issuer.validate(relabelled[...], remote: client, destination: original, now: start), .invalidRetry)
    }

    func testGarbageTokensNeverTrap() {
        let issuer = makeIssuer()
        var random = RandomSource(seed: 3)
        XCTAssertEqual(issuer.validate([], remote: client, destination: original, now: start), .absent)
        for length in 1..<120 {
            var bytes = [UInt8](repeating: 0, count: length)
            random.fill(&bytes)
            let result = issuer.validate(bytes[...], remote: client, destination: original, now: start)
            XCTAssertFalse(result.isValidated)
        }
    }

    func testNewTokenSkipsRetryOnNextConnection() throws {
        let network = makeAddressValidationNetwork(requiresRetry: true)
        let first = try network.connect()
        XCTAssertTrue(network.run(until: {
            network.client.addressToken(for: network.serverAddress) != nil
        }, timeLimit: .seconds(3)), "the server sends NEW_TOKEN after the handshake")
        XCTAssertTrue(network.client.connection(first)?.isHandshakeConfirmed ?? false)
        XCTAssertEqual(network.server.retriesSent, 1)
        let token = try XCTUnwrap(network.client.addressToken(for: network.serverAddress))
        XCTAssertEqual(token.first, AddressTokenKind.newToken.rawValue)

        let second = try network.connect()
        XCTAssertTrue(network.run(until: {
            network.client.connection(second)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(3)))
        XCTAssertEqual(network.server.retriesSent, 1, "a valid NEW_TOKEN token counts as a validated address")
        XCTAssertNil(network.client.connection(second)?.addressValidation.retrySourceConnectionID)
        let servers = network.server.connections.values.sorted { $0.handle.rawValue < $1.handle.rawValue }
        XCTAssertEqual(servers.count, 2)
        XCTAssertTrue(servers.last?.isAddressValidated ?? false)
    }

    func testNoNewTokenWhenDisabled() throws {
        let network = makeAddressValidationNetwork(issuesNewTokens: false)
        let handle = try network.connect()
        XCTAssertTrue(network.run(until: {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(3)))
        _ = network.run(until: { false }, timeLimit: .milliseconds(200))
        XCTAssertNil(network.client.addressToken(for: network.serverAddress))
    }

    func testTokenStoreAPI() throws {
        let network = makeAddressValidationNetwork()
        let server = network.serverAddress
        network.client.storeAddressToken([1, 2, 3], for: server)
        XCTAssertEqual(network.client.addressToken(for: server), [1, 2, 3])
        let handle = try network.connect()
        XCTAssertEqual(network.client.connection(handle)?.addressValidation.initialToken, [1, 2, 3])
        network.client.storeAddressToken(nil, for: server)
        XCTAssertNil(network.client.addressToken(for: server))
        network.client.storeAddressToken([UInt8](repeating: 1, count: 10_000), for: server)
        XCTAssertNil(network.client.addressToken(for: server), "oversized tokens are not stored")
        // An unknown token is ignored by the server: the handshake still completes (RFC 9000 §8.1.3).
        XCTAssertTrue(network.run(until: {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(3)))
    }

    func testNewTokenFromClientIsProtocolViolation() throws {
        let network = makeAddressValidationNetwork()
        _ = try network.connect()
        XCTAssertTrue(network.run(until: { network.serverConnection != nil }, timeLimit: .seconds(1)))
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertThrowsError(try server.handleNewToken([1, 2][...])) { error in
            XCTAssertEqual((error as? TransportError)?.code, .protocolViolation)
        }
    }
}
