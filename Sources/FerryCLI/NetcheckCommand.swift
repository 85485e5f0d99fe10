import ArgumentParser
import Ferry
import FerryCrypto
import FerryDaemon
import Foundation

/// `ferry netcheck`: latency to each relay over UDP and TCP, the public address relays observe, whether the NAT
/// maps by destination (symmetric) and whether UDP is blocked (docs/relay.md, docs/nat-traversal.md).
struct NetcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netcheck",
        abstract: "Measure the relays: UDP and TCP latency, public address, NAT mapping, UDP blocking.",
        discussion: """
            The relays come from --relay (repeatable) or from the [endpoint] relays of --config. All UDP probes use \
            one socket, so different public ports seen by different relays mean the NAT maps by destination \
            (RFC 4787 endpoint-dependent mapping, a "symmetric" NAT), which hole punching cannot cross directly.
            """
    )

    @Option(help: ArgumentHelp("A relay, ID@host:port (repeatable).", valueName: "relay"))
    var relay: [String] = []

    @Option(help: ArgumentHelp("Take the relays (and the key) from this ferryd configuration.", valueName: "path"))
    var config: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("The identity to probe with (default: --config's key, else a fresh one).", valueName: "path"))
    var key: String?

    @Option(help: ArgumentHelp("Seconds to wait for each probe.", valueName: "seconds"))
    var timeout: Double = 3

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        var relays: [RelayAddress] = []
        var keyFile = key
        if let config {
            let settings = try DaemonConfig.load(path: config)
            relays += settings.endpoint.relays
            keyFile = keyFile ?? settings.endpoint.keyFile
        }
        for text in relay {
            do {
                relays.append(try RelayAddress(parsing: text))
            } catch {
                throw ValidationError("--relay \(text): \(error)")
            }
        }
        guard !relays.isEmpty else { throw ValidationError("no relays: pass --relay ID@host:port or --config with [endpoint] relays") }
        let identity = try keyFile.map { try EndpointIdentity.load(fromFile: $0) } ?? EndpointIdentity.generate()
        let report = try await NetCheck.run(relays: relays, identity: identity, timeout: .milliseconds(Int64(timeout * 1000)))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.render(report))
        }
        if report.relays.allSatisfy({ $0.udpMilliseconds == nil && $0.tcpMilliseconds == nil }) { throw ExitCode.failure }
    }

    static func render(_ report: NetReport) -> String {
        var lines: [String] = []
        for probe in report.relays {
            let udp = probe.udpMilliseconds.map { String(format: "%.1fms", $0) } ?? "failed"
            let tcp = probe.tcpMilliseconds.map { String(format: "%.1fms", $0) } ?? "failed"
            lines.append("relay   \(probe.relay)")
            lines.append("        udp \(udp)  tcp \(tcp)  seen as \(probe.observedAddress ?? "-")")
            for error in probe.errors { lines.append("        \(error)") }
        }
        lines.append("public  \(report.publicAddresses.isEmpty ? "-" : report.publicAddresses.joined(separator: ", "))")
        let mapping: String
        switch report.mappingVariesByDestination {
        case .some(true): mapping = "varies by destination (symmetric NAT: direct paths need the peer to be reachable)"
        case .some(false): mapping = "same for every destination (endpoint-independent)"
        case .none: mapping = "unknown (needs two relays that answer over UDP)"
        }
        lines.append("mapping \(mapping)")
        lines.append("udp     \(report.udpBlocked ? "BLOCKED (relays reached over TCP only)" : "ok")")
        if let preferred = report.preferredRelay { lines.append("nearest \(preferred)") }
        return lines.joined(separator: "\n")
    }
}
