import ArgumentParser
import FerryDaemon

/// `ferryd`: the Ferry daemon. Parses arguments and hands over to `FerryDaemon` (docs/daemon.md).
@main
struct FerrydCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferryd",
        abstract: "Run a Ferry endpoint with services, tunnels and policy hooks from a TOML configuration."
    )

    @Option(help: ArgumentHelp("The configuration file to run.", valueName: "path"))
    var config: String = "/etc/ferryd/ferryd.toml"

    @Option(help: ArgumentHelp("Validate a configuration file and exit (non-zero with the error).", valueName: "path"))
    var checkConfig: String?

    func run() async throws {
        if let checkConfig {
            throw ExitCode(DaemonCommandLine.checkConfig(path: checkConfig))
        }
        throw ExitCode(await DaemonCommandLine.run(configPath: config))
    }
}
