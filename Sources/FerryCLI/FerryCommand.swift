import ArgumentParser

/// `ferry`: the command-line front end for Ferry endpoints.
///
/// It stays thin: each subcommand parses its arguments and calls a library. Identity management comes first;
/// the control-socket commands for a running daemon join as further subcommands. Library errors are typed and
/// `CustomStringConvertible`, so ArgumentParser prints them as `Error: <sentence>` and exits with status 1.
@main
struct FerryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Manage Ferry endpoint identities.",
        discussion: """
            An endpoint is identified by its Ed25519 public key, written as 64 lowercase hex characters \
            (the endpoint id). Peers dial ID@host:port and the TLS handshake proves the key.
            """,
        subcommands: [KeygenCommand.self, IDCommand.self]
    )
}
