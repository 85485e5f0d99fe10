import ArgumentParser
import FerryCrypto
import FerryTestSupport
import FerryTransport
import Foundation

/// `ferry-transport-bench`: the sans-IO core alone, for instruction counts (issue 12; docs/benchmarks.md,
/// "Instruction counts").
///
/// Two `TransportEndpoint`s with the real OpenSSL packet protection and TLS (`OpenSSLCryptoProvider`) exchange
/// datagrams in memory through `SimulatedNetwork`, on its virtual clock: no NIO, no tasks, no system clock, no
/// sockets. Run under `valgrind --tool=callgrind` (`Scripts/bench-transport` does), the instruction count is the
/// same whatever else the machine is doing, which makes it the measure for changes to the hot path. Fixed
/// identities and seeds make runs repeat; only TLS key shares come from OpenSSL's generator.
@main
struct TransportBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-transport-bench",
        abstract: "Run the sans-IO core in memory (no sockets, no tasks) for instruction counts under callgrind.")

    @Option(help: "Full handshakes to run, one connection each, closed after the handshake is confirmed.")
    var handshakes: Int = 0

    @Option(help: "Bytes to send on one stream of one further connection; 0 for none.")
    var bytes: UInt64 = 0

    @Option(help: "One-way delay of the in-memory link, in microseconds.")
    var delayMicroseconds: Int = 50

    func run() throws {
        let serverIdentity = try EndpointIdentity(secretKeySeed: [UInt8](repeating: 2, count: 32))
        let clientIdentity = try EndpointIdentity(secretKeySeed: [UInt8](repeating: 1, count: 32))
        let alpn = Array("bench".utf8)
        let serverCrypto = try OpenSSLCryptoProvider(identity: serverIdentity, acceptedALPNs: AcceptedALPNs([alpn]))
        let clientCrypto = try OpenSSLCryptoProvider(identity: clientIdentity, acceptedALPNs: AcceptedALPNs([]))
        let network = SimulatedNetwork(
            clientConfig: EndpointConfig(crypto: clientCrypto, randomSeed: 1),
            serverConfig: EndpointConfig(crypto: serverCrypto, randomSeed: 2),
            conditions: LinkConditions(oneWayDelay: .microseconds(delayMicroseconds)))
        let started = ContinuousClock.now
        let virtualStart = network.now

        for index in 0..<handshakes {
            let handle = try network.client.connect(
                to: network.serverAddress, expectedPeer: serverIdentity.id, alpns: [alpn], now: network.now)
            guard network.run(until: { network.client.connection(handle)?.isHandshakeConfirmed ?? false },
                              timeLimit: .seconds(10))
            else { throw ValidationError("handshake \(index + 1) did not complete") }
            network.client.connection(handle)?.close(errorCode: 0, reason: "", now: network.now)
            network.runUntilIdle(timeLimit: .seconds(5))
        }

        var received: UInt64 = 0
        if bytes > 0 {
            received = try transfer(network: network, serverID: serverIdentity.id, alpn: alpn)
        }
        let wall = ContinuousClock.now - started
        let virtual = network.now - virtualStart
        print(
            "{\"handshakes\":\(handshakes),\"bytes\":\(received),"
                + "\"virtual_seconds\":\(String(format: "%.4f", virtual.seconds)),"
                + "\"wall_seconds\":\(String(format: "%.4f", wall.seconds))}")
    }

    /// Sends `bytes` on one stream and returns how many the server read.
    private func transfer(network: SimulatedNetwork, serverID: EndpointID, alpn: [UInt8]) throws -> UInt64 {
        let handle = try network.client.connect(to: network.serverAddress, expectedPeer: serverID, alpns: [alpn], now: network.now)
        guard network.run(until: { network.client.connection(handle)?.isHandshakeConfirmed ?? false }, timeLimit: .seconds(10)),
            let client = network.client.connection(handle), let stream = client.openStream(bidirectional: false)
        else { throw ValidationError("the transfer connection did not come up") }
        var received: UInt64 = 0
        var finished = false
        network.onEvent = { role, handle, event in
            guard role == .server, case .streamReadable(let id) = event,
                let connection = network.server.connection(handle)
            else { return }
            while true {
                switch try? connection.read(id, maxLength: 1 << 20) {
                case .data(let chunk): received += UInt64(chunk.count)
                case .finished: finished = true; return
                default: return
                }
            }
        }
        let chunk = [UInt8](repeating: 0x5a, count: 256 << 10)
        var sent: UInt64 = 0
        let total = bytes
        let done = network.run(until: {
            while sent < total {
                let count = Int(min(UInt64(chunk.count), total - sent))
                let written = chunk.withUnsafeBytes { buffer in
                    (try? client.write(stream, UnsafeRawBufferPointer(rebasing: buffer[0..<count]))) ?? 0
                }
                if written == 0 { break }
                sent += UInt64(written)
                if sent == total { try? client.finish(stream) }
            }
            return finished
        }, timeLimit: .seconds(3600))
        guard done, received == total else {
            throw ValidationError("transfer stopped at \(received) of \(total) bytes")
        }
        return received
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
