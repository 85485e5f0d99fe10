import ArgumentParser
import FerryDaemon
import Foundation

/// `ferry init`: writes a starter `ferryd.toml` and a fresh key into a directory and prints the endpoint id.
///
/// The id is the only line on stdout, so `ID=$(ferry init --dir d)` works; what was written goes to stderr.
/// Nothing is overwritten (`StarterSetup` explains why), and a refusal exits with status 1.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a starter ferryd.toml and a new key (mode 0600) and print the endpoint id.",
        discussion: """
            The configuration listens on loopback, serves an echo service and logs every connection decision; \
            it passes ferryd --check-config as written. Neither file is overwritten: if ferryd.toml or ferry.key \
            already exists in the directory, nothing is written and the exit status is 1.
            """
    )

    @Option(help: ArgumentHelp("The directory to write ferryd.toml and ferry.key into (created if missing).", valueName: "dir"))
    var dir: String = "."

    func run() throws {
        let files = try StarterSetup.write(in: dir)
        printError("wrote \(files.configPath) and \(files.keyPath) (mode 0600)")
        printError("run: ferryd --config \(files.configPath)")
        print(files.id.hex)
    }
}

/// Writes one line to stderr, keeping stdout for the value scripts capture.
private func printError(_ line: String) {
    var standardError = StandardError()
    print(line, to: &standardError)
}

/// `TextOutputStream` over stderr.
private struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}
