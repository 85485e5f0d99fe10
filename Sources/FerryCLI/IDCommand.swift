import ArgumentParser
import FerryCrypto

/// `ferry id`: prints the endpoint id of a key file, the value peers use to dial this endpoint.
struct IDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id",
        abstract: "Print the endpoint id of a key file."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("A PKCS#8 Ed25519 key file.", valueName: "path"))
    var key: String

    func run() throws {
        print(try EndpointIdentity.load(fromFile: key).id.hex)
    }
}
