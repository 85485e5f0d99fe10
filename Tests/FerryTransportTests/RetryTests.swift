import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Retry (RFC 9000 §8.1.2, §17.2.5) end to end on the simulated network, and the client's checks of Retry packets
/// and of the transport parameters that follow one (RFC 9000 §7.3, RFC 9001 §5.8).
final class RetryTests: XCTestCase {
    func testRequiredRetryValidatesAddressAndHandshakeCompletes() throws {
        let network = makeAddressValidationNetwork(requiresRetry: true)
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        // The first Initial gets a Retry; the second carries the token and creates the server connection.
        XCTAssertTrue(network.run(until: { network.serverConnection != nil }, timeLimit: .seconds(2)))
        XCTAssertEqual(network.server.retriesSent, 1)
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertTrue(server.isAddressValidated, "a valid Retry token validates the address")
        // Packet numbers keep increasing across the Retry (RFC 9000 §17.2.5.3): the server never saw packet 0.
        XCTAssertGreaterThanOrEqual(server.space(.initial).received.largestReceived ?? 0, 1)

        XCTAssertTrue(network.run(until: { client.isHandshakeConfirmed }, timeLimit: .seconds(2)))
        let retrySource = try XCTUnwrap(client.addressValidation.retrySourceConnectionID)
        XCTAssertEqual(server.localTransportParameters.retrySourceConnectionID, retrySource)
        XCTAssertEqual(
            server.localTransportParameters.originalDestinationConnectionID, client.originalDestinationConnectionID)
        XCTAssertEqual(client.peerTransportParameters?.retrySourceConnectionID, retrySource)
        XCTAssertEqual(network.server.connectionCount, 1)
    }

    func testRetryHandshakeSurvivesLoss() throws {
        let network = makeAddressValidationNetwork(requiresRetry: true, seed: 5)
        network.clientToServer.lossRate = 0.3
        network.serverToClient.lossRate = 0.3
        let handle = try network.connect()
        XCTAssertTrue(network.run(until: {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(30)))
        XCTAssertGreaterThanOrEqual(network.server.retriesSent, 1)
    }

    func testClientChecksIntegrityTagAndProcessesOnlyOneRetry() throws {
        let network = makeAddressValidationNetwork()
        network.clientToServer.lossRate = 1  // the server never answers; the test plays it
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))

        let first = ConnectionID.repeating(0xA1, count: 8)
        network.inject(try makeRetry(for: client, source: first, token: [1, 2, 3], corruptTag: true), to: .client)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        XCTAssertNil(client.addressValidation.retrySourceConnectionID, "a Retry with a bad tag is discarded")

        network.inject(try makeRetry(for: client, source: first, token: [1, 2, 3]), to: .client)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        XCTAssertEqual(client.addressValidation.retrySourceConnectionID, first)
        XCTAssertEqual(client.addressValidation.initialToken, [1, 2, 3])
        XCTAssertEqual(client.destinationConnectionID, first)

        let second = ConnectionID.repeating(0xB2, count: 8)
        network.inject(try makeRetry(for: client, source: second, token: [4]), to: .client)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        XCTAssertEqual(client.addressValidation.retrySourceConnectionID, first, "only one Retry is processed")
        XCTAssertEqual(client.addressValidation.initialToken, [1, 2, 3])
    }

    /// A Retry token too long to fit in an Initial is discarded: accepting it left the client unable to send any
    /// Initial, and the ACK it owed kept its timer at a past deadline, a busy loop (found by Scripts/fuzz-transport;
    /// the input is Fuzz/TransportFuzz/Seeds/datagrams/regression-oversized-retry-token).
    func testClientDiscardsRetryWithTokenTooLongForAnInitial() throws {
        let network = makeAddressValidationNetwork()
        network.clientToServer.lossRate = 1  // the server never answers; the test plays it
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))

        let source = ConnectionID.repeating(0xA1, count: 8)
        let tooLong = [UInt8](repeating: 7, count: ConnectionAddressValidation.maxInitialTokenLength + 1)
        network.inject(try makeRetry(for: client, source: source, token: tooLong), to: .client)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        XCTAssertNil(client.addressValidation.retrySourceConnectionID, "the oversized Retry is discarded")
        XCTAssertEqual(client.addressValidation.initialToken, [])
        XCTAssertFalse(network.isLivelocked)

        let longest = [UInt8](repeating: 8, count: ConnectionAddressValidation.maxInitialTokenLength)
        network.inject(try makeRetry(for: client, source: source, token: longest), to: .client)
        _ = network.run(until: { false }, timeLimit: .milliseconds(50))
        XCTAssertEqual(client.addressValidation.initialToken, longest, "a token at the limit is used")
        XCTAssertFalse(network.isLivelocked)
    }

    func testClientDiscardsRetryEchoingItsDestinationConnectionID() throws {
        let network = makeAddressValidationNetwork()
        network.clientToServer.lossRate = 1
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        network.inject(
            try makeRetry(for: client, source: client.originalDestinationConnectionID, token: [1]), to: .client)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        XCTAssertNil(client.addressValidation.retrySourceConnectionID)
    }

    func testClientRequiresRetrySourceConnectionIDParameterExactlyAfterRetry() throws {
        let network = makeAddressValidationNetwork()
        network.clientToServer.lossRate = 1
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let source = ConnectionID.repeating(0xC3, count: 8)
        var parameters = TransportParameters()
        parameters.retrySourceConnectionID = source
        XCTAssertThrowsError(try client.validateRetryParameter(parameters), "no Retry was processed")

        network.inject(try makeRetry(for: client, source: source, token: [9]), to: .client)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        XCTAssertNoThrow(try client.validateRetryParameter(parameters))
        parameters.retrySourceConnectionID = nil
        XCTAssertThrowsError(try client.validateRetryParameter(parameters), "retry_source_connection_id missing")
        parameters.retrySourceConnectionID = .repeating(0xC4, count: 8)
        XCTAssertThrowsError(try client.validateRetryParameter(parameters), "retry_source_connection_id differs")
    }

    func testAlteredRetryTokenClosesWithInvalidToken() throws {
        let network = makeAddressValidationNetwork(requiresRetry: true)
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertTrue(network.run(until: { client.addressValidation.hasProcessedRetry }, timeLimit: .seconds(1)))
        client.addressValidation.initialToken[client.addressValidation.initialToken.count - 1] ^= 0x01
        XCTAssertTrue(network.run(until: {
            network.events(of: .client).contains { closeErrorCode($0) == .invalidToken }
        }, timeLimit: .seconds(2)), "the server answers an invalid Retry token with INVALID_TOKEN (RFC 9000 §8.1.2)")
        XCTAssertEqual(network.server.connectionCount, 0, "refused without connection state")
    }
}
