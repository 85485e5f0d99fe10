import Ferry
import FerryCrypto
import FerryRelay
import XCTest

/// A client flooding the relay is held to its rate limit while another client's transfer keeps its throughput.
final class RelayFloodTests: XCTestCase {
    func testAFloodingClientIsRateLimitedAndOthersKeepTheirThroughput() async throws {
        // 2 MiB/s per client with a 256 KiB burst: the legitimate transfer runs at its limit, the flood far above.
        let relay = try await startRelay(extra: ["rate = 2097152", "burst = 262144"])
        let relayAddress = try XCTUnwrap(relay.address)
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"])
        let client = try await relayedEndpoint(relays: [relayAddress])
        let echoTask = serveEcho(server)
        let serverLinked = await server.waitUntilRelayed()
        XCTAssertTrue(serverLinked)
        let connection = try await withTimeout(20) { try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1") }
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 17) }

        func timedEcho() async throws -> Duration {
            let started = ContinuousClock.now
            let reply = try await withTimeout(60) { try await echo(payload, over: connection) }
            XCTAssertEqual(reply, payload)
            return ContinuousClock.now - started
        }
        _ = try await timedEcho()  // warm-up: congestion window and path MTU settle

        // The flooder: a raw relay client sending 1200-byte packets to the server's id at 4 MiB/s, twice
        // its limit, for as long as the measured transfer runs.
        let flooderEndpoint = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        let flooder = try await flooderEndpoint.connect(to: relayAddress.endpointAddress, alpn: RelayMessage.alpn)
        let (send, _) = try await flooder.openBidirectionalStream()
        var hello: [UInt8] = []
        RelayFrameDecoder.frame(.clientHello(version: RelayMessage.version, isMeshPeer: false, token: []), into: &hello)
        try await send.write(hello)
        let junk = RelayMessage.sendPacket(destination: server.id, packet: ArraySlice(repeating: 0x40, count: 1200)).encoded
        func startFlood() -> Task<Int, Never> {
            Task {
                var sent = 0
                let started = ContinuousClock.now
                while !Task.isCancelled {
                    for _ in 0..<64 { try? await flooder.sendDatagram(junk) }
                    sent += 64 * junk.count
                    // Pace to 4 MiB/s: the flood is a rate, not a CPU-bound loop competing with the test itself.
                    let due = started + .milliseconds(Int64(Double(sent) / Double(4 << 20) * 1000))
                    try? await Task.sleep(until: due, clock: .continuous)
                }
                return sent
            }
        }
        // Three rounds, quiet and flooded alternating, compared by their medians: one sample of each let a single
        // scheduling hiccup on a shared 2-core machine decide the ratio.
        var quietTimes: [Duration] = []
        var floodedTimes: [Duration] = []
        var floodBytes = 0
        for _ in 0..<3 {
            quietTimes.append(try await timedEcho())
            let flood = startFlood()
            floodedTimes.append(try await timedEcho())
            flood.cancel()
            floodBytes += await flood.value
        }
        let quiet = quietTimes.sorted()[1]
        let flooded = floodedTimes.sorted()[1]

        let drops = relay.status().drops["rate_limited", default: 0]
        XCTAssertGreaterThan(drops, 0, "the flooder went over its limit and was cut back")
        XCTAssertGreaterThan(floodBytes, 1 << 20)
        let ratio = quiet / flooded
        #if DEBUG
        // An unoptimised build cannot decrypt the flood as fast as it arrives (it runs several times slower), so
        // the relay is CPU-bound rather than rate-limited and the comparison would measure the build, not the
        // limiter. Scripts/test runs this suite in release, where the assertion below holds.
        _ = ratio
        #else
        XCTAssertGreaterThanOrEqual(
            ratio, 0.8, "median time under flood \(flooded) against \(quiet) quiet (\(floodedTimes), \(quietTimes))")
        #endif
        print("relay flood: quiet \(quiet), flooded \(flooded), ratio \(ratio), flood \(floodBytes) bytes, drops \(drops)")

        connection.close()
        echoTask.cancel()
        for endpoint in [client, server, flooderEndpoint] { await endpoint.close() }
        await relay.shutdown()
    }
}
