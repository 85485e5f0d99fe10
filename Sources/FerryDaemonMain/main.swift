import ArgumentParser
import FerryDaemon

/// `ferryd`: the Ferry daemon. Parses arguments and hands over to `FerryDaemon` (docs/daemon.md).
@main
struct FerrydCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferryd",
        abstract: "Run a Ferry endpoint with services, tunnels and policy hooks from a TOML configuration.",
        // The discussion is the DESCRIPTION of the generated ferryd(8) man page (Scripts/package).
        discussion: """
            ferryd exposes local TCP services to authenticated peers on ALPN ferry/tcp/NAME, opens tunnels \
            from local ports to peers' services, and runs a chain of policy hooks on every connection. \
            The configuration is described in ferryd.toml(5); ferry init writes a starter one. \
            Under systemd (Type=notify) ferryd reports READY=1 and watchdog pings; SIGHUP reloads the \
            configuration, keeping the running one if the new file is invalid; SIGTERM and SIGINT shut down \
            gracefully within shutdown_timeout. A relative key_file is created with mode 0600 on first start. \
            ferry status, connections, remotes and reload talk to the running daemon over its control socket.
            """
    )

    @Option(help: ArgumentHelp("The configuration file to run.", valueName: "path"))
    var config: String = "/etc/ferry/ferryd.toml"

    @Option(help: ArgumentHelp("Validate a configuration file and exit (non-zero with the error).", valueName: "path"))
    var checkConfig: String?

    func run() async throws {
        if let checkConfig {
            throw ExitCode(DaemonCommandLine.checkConfig(path: checkConfig))
        }
        throw ExitCode(await DaemonCommandLine.run(configPath: config))
    }
}
