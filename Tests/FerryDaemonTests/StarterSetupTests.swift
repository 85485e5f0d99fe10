import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// `ferry init` (issue 14): a starter configuration that passes `--check-config`, a key with mode 0600 whose id
/// is printed, and a refusal to overwrite either file, in the library and through the real `ferry` binary.
final class StarterSetupTests: XCTestCase {
    func testWritesAConfigThatPassesCheckConfigAndAPrivateKey() throws {
        let directory = TemporaryDirectory()
        let target = directory.path + "/new/nested"
        let files = try StarterSetup.write(in: target)

        XCTAssertEqual(files.configPath, target + "/ferryd.toml")
        XCTAssertEqual(files.keyPath, target + "/ferry.key")
        let report = DaemonCommandLine.checkConfigReport(path: files.configPath)
        XCTAssertEqual(report.status, 0, report.message)
        let config = try DaemonConfig.load(path: files.configPath, environment: [:])
        XCTAssertEqual(config.endpoint.keyFile, files.keyPath, "the starter config names the key next to it")
        XCTAssertEqual(config.services.map(\.name), ["echo"])
        XCTAssertEqual(config.endpoint.listen, [HostPort(host: "127.0.0.1", port: 7777)], "loopback only")

        XCTAssertEqual(try mode(of: files.keyPath), 0o600)
        XCTAssertEqual(try mode(of: files.configPath) & ~0o644, 0, "0644 less the umask")
        XCTAssertEqual(try EndpointIdentity.load(fromFile: files.keyPath).id, files.id)

        // Commented: every section and key the starter sets is explained in a comment line.
        let text = StarterSetup.makeConfig()
        XCTAssertGreaterThan(text.split(separator: "\n").filter { $0.hasPrefix("#") }.count, 20)
    }

    func testRefusesToOverwriteTheConfigAndWritesNoKey() throws {
        let directory = TemporaryDirectory()
        let existing = directory.write("ferryd.toml", "# mine\n")
        XCTAssertThrowsError(try StarterSetup.write(in: directory.path)) { error in
            XCTAssertEqual(error as? StarterSetupError, .fileExists(path: existing))
        }
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "# mine\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/ferry.key"))
    }

    func testRefusesToOverwriteTheKeyAndWritesNoConfig() throws {
        let directory = TemporaryDirectory()
        let identity = EndpointIdentity.generate()
        let keyPath = directory.path + "/ferry.key"
        try identity.save(toFile: keyPath)
        XCTAssertThrowsError(try StarterSetup.write(in: directory.path)) { error in
            XCTAssertEqual(error as? StarterSetupError, .fileExists(path: keyPath))
        }
        XCTAssertEqual(try EndpointIdentity.load(fromFile: keyPath).id, identity.id, "the old key is untouched")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/ferryd.toml"))
    }

    func testADanglingSymlinkCountsAsExisting() throws {
        let directory = TemporaryDirectory()
        let link = directory.path + "/ferry.key"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: directory.path + "/elsewhere")
        XCTAssertThrowsError(try StarterSetup.write(in: directory.path)) { error in
            XCTAssertEqual(error as? StarterSetupError, .fileExists(path: link))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/elsewhere"))
    }

    /// The real binary: the id is the only stdout line, a second run fails with status 1 and changes nothing,
    /// and the installed `ferryd --check-config` accepts the file.
    func testFerryInitCommand() throws {
        try FerryBinaries.require()
        let directory = TemporaryDirectory()
        let target = directory.path + "/node"
        let first = try runFerry(["init", "--dir", target])
        XCTAssertEqual(first.status, 0, first.error)
        let id = first.output.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(id.count, 64, "stdout is the endpoint id alone: \(first.output)")
        XCTAssertEqual(try EndpointIdentity.load(fromFile: target + "/ferry.key").id.hex, id)
        let idRun = try runFerry(["id", "--key", target + "/ferry.key"])
        XCTAssertEqual(idRun.output.trimmingCharacters(in: .whitespacesAndNewlines), id)

        let check = try runProcess(FerryBinaries.ferryd, ["--check-config", target + "/ferryd.toml"])
        XCTAssertEqual(check.status, 0, check.error)
        XCTAssertTrue(check.output.contains("OK"), check.output)

        let keyBefore = try Data(contentsOf: URL(fileURLWithPath: target + "/ferry.key"))
        let second = try runFerry(["init", "--dir", target])
        XCTAssertEqual(second.status, 1)
        XCTAssertEqual(second.output, "", "no id printed on refusal")
        XCTAssertTrue(second.error.contains("already exists"), second.error)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target + "/ferry.key")), keyBefore)
    }

    private func mode(of path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try XCTUnwrap(attributes[.posixPermissions] as? Int)
    }
}
