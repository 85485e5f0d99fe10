import ArgumentParser
import FerryRelay

/// `ferry-relay`: a Ferry relay server. Parses arguments and hands over to `FerryRelay` (docs/relay.md).
@main
struct FerryRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-relay",
        abstract: "Forward QUIC packets between Ferry endpoints that cannot reach each other directly.",
        // The discussion is the DESCRIPTION of the generated ferry-relay(8) man page (Scripts/package).
        discussion: """
            Endpoints keep a link to the relay (QUIC over UDP, or TLS over TCP where UDP is blocked) and are \
            reached through it by endpoint id; the relay sees ids, packet sizes and timing, never plaintext, \
            and the peers move to a direct path by hole punching when their NATs allow. It prints \
            "relay ID@host:port" on stdout once it listens. The TOML configuration names the key, the \
            addresses, the mesh of other relays, access control (everyone, allowlist, denylist or token) \
            and rate limits; the annotated /etc/ferry/ferry-relay.toml (Config/ferry-relay.toml in the source) \
            explains every key. SIGTERM shuts down gracefully; ferry status --socket PATH asks a running relay.
            """
    )

    @Option(help: ArgumentHelp("The configuration file to run.", valueName: "path"))
    var config: String = "/etc/ferry/ferry-relay.toml"

    @Option(help: ArgumentHelp("Validate a configuration file and exit (non-zero with the error).", valueName: "path"))
    var checkConfig: String?

    func run() async throws {
        if let checkConfig {
            throw ExitCode(RelayCommandLine.checkConfig(path: checkConfig))
        }
        throw ExitCode(await RelayCommandLine.run(configPath: config))
    }
}
