import ArgumentParser
import Ferry
import FerryCrypto
import FerryDaemon
import Foundation
import Logging

/// `ferry ping ID`: round trips to a peer's `echo` service, each with its time and path (direct or relayed).
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Round trips to a peer's echo service, showing each one's time and path (direct or relayed).",
        discussion: """
            The peer needs an echo service (the default ferryd.toml has one). Reach it by ID alone through the \
            relays of --config (and its key) or --relay; a connection that starts relayed may move to a direct path \
            while the pings run, and each line says which path carried it.
            """
    )

    @Argument(help: ArgumentHelp("The peer: ID, ID@host:port, or either with ;relay=ID@host:port.", valueName: "peer"))
    var peer: String

    @Option(name: .shortAndLong, help: "Round trips.")
    var count: Int = 5

    @Option(help: ArgumentHelp("Seconds between round trips.", valueName: "seconds"))
    var interval: Double = 0.2

    @Option(help: ArgumentHelp("A relay, ID@host:port (repeatable).", valueName: "relay"))
    var relay: [String] = []

    @Option(help: ArgumentHelp("Take the relays, path mode, token and key from this ferryd configuration.", valueName: "path"))
    var config: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("The identity to ping with (default: --config's key, else a fresh one).", valueName: "path"))
    var key: String?

    func run() async throws {
        let address: EndpointAddress
        do {
            address = try EndpointAddress(parsing: peer)
        } catch {
            throw ValidationError("\(peer): \(error)")
        }
        var configuration = EndpointConfiguration()
        configuration.logger.logLevel = .warning
        var keyFile = key
        if let config {
            let settings = try DaemonConfig.load(path: config)
            configuration.relays = settings.endpoint.relays
            configuration.pathMode = settings.endpoint.pathMode
            configuration.relayToken = settings.endpoint.relayToken
            keyFile = keyFile ?? settings.endpoint.keyFile
        }
        for text in relay {
            do {
                configuration.relays.append(try RelayAddress(parsing: text))
            } catch {
                throw ValidationError("--relay \(text): \(error)")
            }
        }
        let identity = try keyFile.map { try EndpointIdentity.load(fromFile: $0) } ?? EndpointIdentity.generate()
        let endpoint = try await Endpoint.bind(host: "0.0.0.0", identity: identity, alpns: [], configuration: configuration)
        let result: Result<[PeerPing.Reply], any Error>
        do {
            result = .success(try await PeerPing.run(
                endpoint: endpoint, peer: address, count: count, interval: .milliseconds(Int64(interval * 1000))
            ) { reply in
                print("seq=\(reply.sequence) time=\(Self.format(reply.time.milliseconds)) ms path=\(reply.path)")
            })
        } catch {
            result = .failure(error)
        }
        await endpoint.close()
        let times = try result.get().map(\.time.milliseconds).sorted()
        if let first = times.first, let last = times.last {
            print("\(times.count) replies, min \(Self.format(first)) ms, median \(Self.format(times[times.count / 2])) ms, max \(Self.format(last)) ms")
        }
    }

    static func format(_ milliseconds: Double) -> String {
        String(format: "%.2f", milliseconds)
    }
}

extension Duration {
    /// The duration in milliseconds.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
