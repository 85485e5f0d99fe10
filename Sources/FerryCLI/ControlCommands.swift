import ArgumentParser
import FerryDaemon
import Foundation

/// Where to find a running ferryd and how to print its answers; shared by the control subcommands.
struct ControlOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The control socket (default: from --config, else $FERRYD_SOCKET, else /run/ferryd/ferryd.sock if it exists, else ./ferryd.sock).",
            valueName: "path"
        )
    )
    var socket: String?

    @Option(help: ArgumentHelp("Take the control socket path from this ferryd configuration file.", valueName: "path"))
    var config: String?

    @Flag(help: "Print the daemon's JSON answer line instead of text.")
    var json = false

    /// Sends `request`; prints the raw line with `--json`, else `render` of the decoded result. A daemon-side
    /// error exits with status 1 either way.
    func run<Result: Codable & Sendable>(
        _ request: ControlRequest,
        as type: Result.Type,
        isFailure: (Result) -> Bool = { _ in false },
        render: (Result) -> String
    ) throws {
        let client = ControlClient(path: try ControlClient.socketPath(explicit: socket, configPath: config))
        let line = try client.rawRequest(request)
        guard let data = line.data(using: .utf8),
            let response = try? JSONDecoder().decode(ControlResponse<Result>.self, from: data)
        else { throw ControlClientError.malformedAnswer(line) }
        if json {
            print(line)
            if !response.ok || response.result.map(isFailure) == true { throw ExitCode.failure }
            return
        }
        guard response.ok, let result = response.result else { throw ControlClientError.daemon(response.error ?? "unknown error") }
        print(render(result))
        if isFailure(result) { throw ExitCode.failure }
    }
}

extension ControlOptions {
    /// Whether the socket belongs to a ferry-relay rather than a ferryd.
    func answersAsRelay() throws -> Bool {
        let client = ControlClient(path: try ControlClient.socketPath(explicit: socket, configPath: config))
        return try client.rawRequest(ControlRequest(command: "status")).contains(#""kind":"relay""#)
    }
}

/// `ferry status`: what the running daemon is and serves.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the running ferryd's id, addresses, services, tunnels and hooks.")

    @OptionGroup var options: ControlOptions

    func run() throws {
        // A relay answers with `"kind":"relay"` and its own fields (ferry-relay's control socket).
        if try options.answersAsRelay() {
            try options.run(ControlRequest(command: "status"), as: RelayControlStatus.self, render: ControlFormatting.relayStatus)
        } else {
            try options.run(ControlRequest(command: "status"), as: ControlStatus.self, render: ControlFormatting.status)
        }
    }
}

/// `ferry connections`: the daemon's live connections.
struct ConnectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connections", abstract: "List the running ferryd's live connections (RTT, bytes).")

    @OptionGroup var options: ControlOptions

    func run() throws {
        try options.run(ControlRequest(command: "connections"), as: [ControlConnection].self, render: ControlFormatting.connections)
    }
}

/// `ferry remotes`: per remote endpoint id, connections, RTT, bytes and paths seen.
struct RemotesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remotes", abstract: "List remote endpoints: connections, RTT, bytes, paths seen.")

    @OptionGroup var options: ControlOptions

    func run() throws {
        try options.run(ControlRequest(command: "remotes"), as: [ControlRemote].self, render: ControlFormatting.remotes)
    }
}

/// `ferry reload`: re-read the configuration (like SIGHUP) and report the outcome.
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload the running ferryd's configuration; an invalid file keeps the running one and fails with its error."
    )

    @OptionGroup var options: ControlOptions

    func run() throws {
        try options.run(ControlRequest(command: "reload"), as: ControlReload.self, render: ControlFormatting.reload)
    }
}

/// `ferry check-config`: ask the running daemon to validate its configuration file (or another).
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Ask the running ferryd to validate its configuration file (or --path); exits 1 with file:line on error."
    )

    @OptionGroup var options: ControlOptions

    @Option(help: ArgumentHelp("The file to check (default: the daemon's own).", valueName: "path"))
    var path: String?

    func run() throws {
        try options.run(ControlRequest(command: "check-config", path: path), as: ControlCheck.self, isFailure: { !$0.ok }, render: \.message)
    }
}
