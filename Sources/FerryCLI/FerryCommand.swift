import ArgumentParser

/// `ferry`: the command-line front end for Ferry endpoints.
///
/// It stays thin: each subcommand parses its arguments and calls a library: identity management (FerryCrypto)
/// and the control-socket commands for a running daemon (FerryDaemon's `ControlClient`). Library errors are typed and
/// `CustomStringConvertible`, so ArgumentParser prints them as `Error: <sentence>` and exits with status 1.
@main
struct FerryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Manage Ferry endpoint identities and talk to a running ferryd.",
        discussion: """
            An endpoint is identified by its Ed25519 public key, written as 64 lowercase hex characters \
            (the endpoint id). Peers dial ID@host:port and the TLS handshake proves the key. \
            connect opens a stream to a ferryd service; status, connections, remotes, reload and check-config talk to ferryd over its control socket \
            (docs/daemon.md); --json prints the daemon's JSON answer.
            """,
        subcommands: [
            InitCommand.self,
            KeygenCommand.self, IDCommand.self, StatusCommand.self, ConnectionsCommand.self, RemotesCommand.self,
            ReloadCommand.self, CheckConfigCommand.self, ConnectCommand.self, NetcheckCommand.self, PingCommand.self,
        ]
    )
}
