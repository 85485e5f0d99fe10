import ArgumentParser
import Ferry
import Foundation
import Logging

/// `ferry-bench`: the perf protocol server, client and handshake benchmark, command-line compatible with
/// quinn-perf (shared/perf-protocol.md) so either tool can measure the other.
@main
struct FerryBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-bench",
        abstract: "QUIC perf server, client and handshake benchmark (quinn-perf compatible).",
        subcommands: [Server.self, Client.self, Handshakes.self, HookChainBench.self, RelayIdle.self]
    )

    struct Server: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve ALPN perf and echo/1.")

        @Option(help: "IP:PORT to bind (port 0 picks a free port).")
        var listen: String = "127.0.0.1:4433"

        @Flag(help: "Answer every Initial without a valid token with a Retry (RFC 9000 §8.1.2).")
        var retry = false

        @Option(help: "Accept only this endpoint id (repeatable); others are closed with 0x403 after the handshake.")
        var allow: [String] = []

        @Option(help: "Install this many trivial hooks (HookBench.swift) to measure their cost.")
        var hooks: Int = 0

        @OptionGroup var common: CommonOptions

        func run() async throws {
            let bind = try HostPort(parsing: listen)
            var configuration = try common.makeConfiguration(defaultCipher: "any")
            configuration.incomingConnectionQueueLimit = 4096
            configuration.transport.requiresAddressValidation = retry
            let endpoint = try await Endpoint.bind(
                host: bind.host,
                port: Int(bind.port),
                identity: try common.loadIdentity(),
                alpns: PerfServer.alpns,
                configuration: configuration,
                hooks: try makeBenchHooks(count: hooks, allow: allow)
            )
            if common.relay != nil, await !endpoint.waitUntilRelayed(timeout: .seconds(30)) {
                throw ValidationError("the relay did not answer within 30 s")
            }
            printLine("listening \(endpoint.address)")
            let server = PerfServer(endpoint: endpoint, logger: configuration.logger, details: common.details)
            await common.onExecutor(of: endpoint) { await server.run() }
        }
    }

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run perf requests and print one JSON line.")

        @Option(help: "ID@IP:PORT of the server.")
        var connect: String

        @Option(help: "Bytes each request downloads.")
        var download: ByteCount = ByteCount(0)

        @Option(help: "Bytes each request uploads.")
        var upload: ByteCount = ByteCount(0)

        @Option(help: "Requests in flight per connection.")
        var streams: Int = 1

        @Option(help: "Requests per connection (default: --streams).")
        var requests: UInt64?

        @Option(help: "Connections.")
        var connections: Int = 1

        @Option(help: "Run for this many seconds instead of a fixed number of requests.")
        var duration: Double?

        @Option(name: .customLong("rebind-after-bytes"), help: "Move to a new local UDP port once after receiving this many bytes (active migration, RFC 9000 §9.2).")
        var rebindAfterBytes: ByteCount?

        @OptionGroup var common: CommonOptions

        func run() async throws {
            let target = try EndpointAddress(parsing: connect)
            let endpoint = try await bindClient(common: common, target: target)
            let streams = max(1, streams)
            var client = PerfClient(
                endpoint: endpoint,
                target: target,
                download: download.value,
                upload: upload.value,
                streams: streams,
                requests: requests ?? UInt64(streams),
                connections: max(1, connections),
                duration: duration,
                verbose: common.verbose,
                details: common.details
            )
            if let rebindAfterBytes {
                client.migration = PerfMigration(endpoint: endpoint, threshold: max(1, rebindAfterBytes.value))
            }
            let report = await common.onExecutor(of: endpoint) { await client.run() }
            if common.verbose || common.relay != nil {
                // What the relay links carried, for reading a relayed run's figures (docs/benchmarks.md).
                for status in await endpoint.relayStatus() {
                    printError("relay link \(status.relay.id.shortDescription): \(status.transport), sent \(status.packetsSent), "
                        + "received \(status.packetsReceived), dropped \(status.packetsDropped)")
                }
            }
            await endpoint.close()
            printLine(report.json)
            if report.tally.errors > 0 { throw ExitCode(1) }
        }
    }

    struct Handshakes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Measure full handshakes per second.")

        @Option(help: "ID@IP:PORT of the server.")
        var connect: String

        @Option(help: "Handshakes in total.")
        var count: UInt64 = 1000

        @Option(help: "Handshakes in flight.")
        var concurrency: Int = 1

        @Flag(help: "Keep the connections open (5 s keep-alive) until killed.")
        var hold = false

        @Option(help: "Install this many trivial hooks on the dialing endpoint (HookBench.swift).")
        var hooks: Int = 0

        @OptionGroup var common: CommonOptions

        func run() async throws {
            let target = try EndpointAddress(parsing: connect)
            let endpoint = try await bindClient(
                common: common, target: target, keepAlive: hold, hooks: try makeBenchHooks(count: hooks, allow: []))
            let bench = HandshakeBench(
                endpoint: endpoint,
                target: target,
                count: count,
                concurrency: concurrency,
                hold: hold
            )
            let (report, held) = await common.onExecutor(of: endpoint) { await bench.run() }
            printLine(report.json)
            if hold {
                printError("holding \(held.count) connections open (keep-alive 5 s); kill to exit")
                while true { try await Task.sleep(for: .seconds(3600)) }
            }
            await endpoint.close()
            if report.errors > 0 { throw ExitCode(1) }
        }
    }
}

/// A dial-only endpoint on the wildcard address of the target's family.
func bindClient(
    common: CommonOptions, target: EndpointAddress, keepAlive: Bool = false, hooks: HookChain = HookChain()
) async throws -> Endpoint {
    var configuration = try common.makeConfiguration(defaultCipher: "aes128gcm")
    if keepAlive { configuration.transport.keepAliveInterval = .seconds(5) }
    let ipv6 = target.directAddresses.first?.host.contains(":") ?? false
    return try await Endpoint.bind(
        host: ipv6 ? "::" : "0.0.0.0",
        port: 0,
        identity: try common.loadIdentity(),
        alpns: [],
        configuration: configuration,
        hooks: hooks
    )
}
