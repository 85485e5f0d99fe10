import ArgumentParser
import FerryRelay

/// `ferry-relay`: a Ferry relay server. Parses arguments and hands over to `FerryRelay` (docs/relay.md).
@main
struct FerryRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-relay",
        abstract: "Forward QUIC packets between Ferry endpoints that cannot reach each other directly."
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
