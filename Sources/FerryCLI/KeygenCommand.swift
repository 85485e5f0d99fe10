import ArgumentParser
import FerryCrypto

/// `ferry keygen`: creates a new Ed25519 identity in a PKCS#8 PEM file (mode 0600) and prints its id.
///
/// It never overwrites an existing file, because losing a key means losing the endpoint's address.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a new endpoint identity (Ed25519 key) and print its id.",
        discussion: "The key is written as PKCS#8 PEM with mode 0600. An existing file is never overwritten."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the new key.", valueName: "path"))
    var output: String = "./ferry.key"

    func run() throws {
        let identity = EndpointIdentity.generate()
        try identity.save(toFile: output)
        print(identity.id.hex)
    }
}
