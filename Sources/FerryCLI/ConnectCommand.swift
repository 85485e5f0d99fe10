import ArgumentParser
import Ferry
import FerryDaemon

/// `ferry connect`: opens one stream to a peer's ferryd service and joins it to stdin/stdout.
///
/// Reaches a service without configuring a tunnel (a smoke test against `echo`, or an ssh `ProxyCommand`).
/// End of input half-closes the stream; the command exits once the peer has finished too.
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect stdin/stdout to a service of a peer's ferryd (ALPN ferry/tcp/<service>).",
        discussion: """
            Example: echo hello | ferry connect <id>@127.0.0.1:7777 echo
            As an ssh ProxyCommand: ssh -o ProxyCommand='ferry connect --key ~/.ferry.key <id>@host:7777 ssh' host
            """
    )

    @Argument(help: ArgumentHelp("The peer: ID@host:port, or ID alone with --relay.", valueName: "peer"))
    var peer: String

    @Argument(help: ArgumentHelp("The service name configured on the peer.", valueName: "service"))
    var service: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The identity to connect with (default: a fresh one).", valueName: "path"))
    var key: String?

    @Option(help: ArgumentHelp("A relay to reach the peer through, ID@host:port (repeatable).", valueName: "relay"))
    var relay: [String] = []

    func run() async throws {
        let relays = try relay.map { text in
            do {
                return try RelayAddress(parsing: text)
            } catch {
                throw ValidationError("--relay \(text): \(error)")
            }
        }
        try await ServiceClient.run(peer: peer, service: service, keyFile: key, relays: relays)
    }
}
