import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

final class ConfigTests: XCTestCase {
    func testFullConfiguration() throws {
        let directory = TemporaryDirectory()
        directory.write("allowed.txt", "# team\n\(otherID)  # bob\n\n")
        directory.write("plugin.sh", "#!/bin/sh\n", mode: 0o755)
        let config = try DaemonConfig.parse(
            """
            [endpoint]
            key_file = "ferry.key"
            listen = ["0.0.0.0:7777", "[::1]:7778"]
            hook_timeout = "250ms"
            reevaluate_on_reload = true
            [control]
            socket = "ctl.sock"
            [metrics]
            listen = "127.0.0.1:9477"
            [logging]
            format = "json"
            level = "debug"
            [[services]]
            name = "ssh"
            forward = "127.0.0.1:22"
            [[services]]
            name = "echo"
            type = "echo"
            [[tunnels]]
            listen = "127.0.0.1:2222"
            peer = "\(sampleID)@example.com:7777"
            service = "ssh"
            [[hooks]]
            type = "log"
            [[hooks]]
            type = "allow-endpoints"
            endpoints = ["\(sampleID)"]
            endpoints_file = "allowed.txt"
            services = ["ssh"]
            [[hooks]]
            type = "deny-ips"
            cidrs = ["10.0.0.0/8", "2001:db8::/32", "192.168.1.1"]
            [[hooks]]
            type = "rate-limit"
            rate = 2.5
            burst = 5
            [[hooks]]
            type = "max-connections"
            per_endpoint = 4
            total = 100
            [[hooks]]
            type = "plugin"
            name = "policy"
            command = ["./plugin.sh", "--flag"]
            timeout = "1s"
            on_error = "accept"
            """,
            file: "ferryd.toml",
            directory: directory.path
        )
        XCTAssertEqual(config.endpoint.keyFile, directory.path + "/ferry.key")
        XCTAssertEqual(config.endpoint.listen, [HostPort(host: "0.0.0.0", port: 7777), HostPort(host: "::1", port: 7778)])
        XCTAssertEqual(config.endpoint.hookTimeout, .milliseconds(250))
        XCTAssertTrue(config.endpoint.reevaluateOnReload)
        XCTAssertEqual(config.control.socket, directory.path + "/ctl.sock")
        XCTAssertEqual(config.metrics?.listen, HostPort(host: "127.0.0.1", port: 9477))
        XCTAssertEqual(config.logging.format, .json)
        XCTAssertEqual(config.logging.level, .debug)
        XCTAssertEqual(config.services.map(\.name), ["ssh", "echo"])
        XCTAssertEqual(config.services[0].kind, .forward(HostPort(host: "127.0.0.1", port: 22)))
        XCTAssertEqual(config.services[0].alpn, "ferry/tcp/ssh")
        XCTAssertEqual(config.services[1].kind, .echo)
        XCTAssertEqual(config.tunnels.first?.peer.id.hex, sampleID)
        XCTAssertEqual(config.tunnels.first?.line, 19)
        XCTAssertEqual(config.hooks.map(\.name), ["log-1", "allow-endpoints-2", "deny-ips-3", "rate-limit-4", "max-connections-5", "policy"])
        let ids = Set([sampleID, otherID].compactMap { EndpointID(hex: $0) })
        XCTAssertEqual(config.hooks[1].kind, .allowEndpoints(ids))
        XCTAssertEqual(config.hooks[1].services, ["ssh"])
        XCTAssertEqual(config.hooks[3].kind, .rateLimit(perSecond: 2.5, burst: 5))
        XCTAssertEqual(config.hooks[4].kind, .maxConnections(perEndpoint: 4, total: 100))
        XCTAssertEqual(
            config.hooks[5].kind,
            .plugin(.init(command: [directory.path + "/plugin.sh", "--flag"], timeout: .seconds(1), onError: .accept))
        )
    }

    func testDefaultsForAnEmptyFile() throws {
        let config = try DaemonConfig.parse("", file: "/etc/ferryd/ferryd.toml", directory: "/etc/ferryd")
        XCTAssertEqual(config.endpoint.keyFile, "/etc/ferryd/ferry.key")
        XCTAssertEqual(config.endpoint.listen, [HostPort(host: "0.0.0.0", port: 7777)])
        XCTAssertEqual(config.endpoint.hookTimeout, .seconds(5))
        XCTAssertEqual(config.control.socket, "/etc/ferryd/ferryd.sock")
        XCTAssertNil(config.metrics)
        XCTAssertEqual(config.logging.format, .logfmt)
    }

    func testSystemdDirectoriesAnchorKeyAndSocket() throws {
        let config = try DaemonConfig.parse(
            "[endpoint]\nkey_file = \"ferry.key\"\n[control]\nsocket = \"/tmp/abs.sock\"",
            file: "/etc/ferryd/ferryd.toml",
            directory: "/etc/ferryd",
            environment: ["STATE_DIRECTORY": "/var/lib/ferryd", "RUNTIME_DIRECTORY": "/run/ferryd"]
        )
        XCTAssertEqual(config.endpoint.keyFile, "/var/lib/ferryd/ferry.key")
        XCTAssertEqual(config.control.socket, "/tmp/abs.sock", "absolute paths stay as written")
        let defaults = try DaemonConfig.parse("", file: "f", directory: "/etc/ferryd", environment: ["RUNTIME_DIRECTORY": "/run/ferryd"])
        XCTAssertEqual(defaults.control.socket, "/run/ferryd/ferryd.sock")
    }

    func testUnknownKeyAndSection() {
        assertConfigError("[endpoint]\nlisten = [\"0.0.0.0:1\"]\nlisen = 1", "ferryd.toml:3: key 'lisen': unknown key")
        assertConfigError("\n[endpont]", "ferryd.toml:2: key 'endpont': unknown key")
        assertConfigError("[[hooks]]\ntype = \"log\"\nendpoints = []", "ferryd.toml:3: key 'endpoints': unknown key")
    }

    func testWrongType() {
        assertConfigError("[endpoint]\nhook_timeout = 5", "ferryd.toml:2: key 'hook_timeout': expected a string, found an integer")
        assertConfigError("[endpoint]\nlisten = \"0.0.0.0:1\"", "ferryd.toml:2: key 'listen': expected an array of strings, found a string")
        assertConfigError("[endpoint]\nlisten = [\n\"0.0.0.0:1\",\n 7]", "ferryd.toml:4: key 'listen': expected a string, found an integer")
        assertConfigError("endpoint = 3", "ferryd.toml:1: key 'endpoint': expected a table ([endpoint]), found an integer")
        assertConfigError("[endpoint]\nreevaluate_on_reload = \"yes\"", "ferryd.toml:2: key 'reevaluate_on_reload': expected a boolean, found a string")
    }

    func testBadEndpointID() {
        assertConfigError(
            "[[hooks]]\ntype = \"allow-endpoints\"\nendpoints = [\n  \"\(sampleID)\",\n  \"abc\",\n]",
            "ferryd.toml:5: key 'endpoints': 'abc' is not a 64-hex endpoint id"
        )
        assertConfigError(
            "[[tunnels]]\nlisten = \"127.0.0.1:1\"\npeer = \"xyz@h:1\"\nservice = \"s\"",
            "ferryd.toml:3: key 'peer': 'xyz' is not a 64-hex endpoint id"
        )
    }

    func testBadIDInEndpointsFileNamesThatFile() {
        let directory = TemporaryDirectory()
        directory.write("allowed.txt", "# ok\n\(sampleID)\nnot-an-id\n")
        assertConfigError(
            "[[hooks]]\ntype = \"deny-endpoints\"\nendpoints_file = \"allowed.txt\"",
            "allowed.txt:3: key 'endpoints_file': 'not-an-id' is not a 64-hex endpoint id",
            directory: directory
        )
    }

    func testMissingFile() {
        assertConfigError(
            "[[hooks]]\ntype = \"allow-endpoints\"\n\nendpoints_file = \"nope.txt\"",
            "ferryd.toml:4: key 'endpoints_file': file 'nope.txt' does not exist or cannot be read"
        )
        assertConfigError(
            "[[hooks]]\ntype = \"plugin\"\ncommand = [\"./missing.py\"]",
            "ferryd.toml:3: key 'command': file 'missing.py' does not exist or cannot be read"
        )
        XCTAssertThrowsError(try DaemonConfig.load(path: "/nonexistent/ferryd.toml")) { error in
            XCTAssertEqual("\(error)", "/nonexistent/ferryd.toml: cannot read '/nonexistent/ferryd.toml' (errno 2)")
        }
    }

    func testBadCIDR() {
        assertConfigError(
            "[[hooks]]\ntype = \"allow-ips\"\ncidrs = [\"10.0.0.0/8\", \"10.0.0.0/33\"]",
            "ferryd.toml:3: key 'cidrs': '10.0.0.0/33' is not a CIDR block or IP address"
        )
        assertConfigError(
            "[[hooks]]\ntype = \"deny-ips\"\ncidrs = [\n\"fe80::/10\",\n\"300.1.1.1\"]",
            "ferryd.toml:5: key 'cidrs': '300.1.1.1' is not a CIDR block or IP address"
        )
    }

    func testBadDuration() {
        assertConfigError("[endpoint]\n\nhook_timeout = \"5 seconds\"", "ferryd.toml:3: key 'hook_timeout': '5 seconds' is not a duration (like 500ms, 5s, 1m, 1h)")
        assertConfigError("[[hooks]]\ntype = \"plugin\"\ncommand = [\"true\"]\ntimeout = \"-1s\"", "ferryd.toml:4: key 'timeout': '-1s' is not a duration (like 500ms, 5s, 1m, 1h)")
    }

    func testMissingKey() {
        assertConfigError("\n[[services]]\nforward = \"127.0.0.1:22\"", "ferryd.toml:2: key 'name': required key is missing")
        assertConfigError("[[services]]\nname = \"ssh\"", "ferryd.toml:1: key 'forward': required key is missing")
        assertConfigError("[[hooks]]\nname = \"x\"", "ferryd.toml:1: key 'type': required key is missing")
    }

    func testInvalidValues() {
        assertConfigError("[endpoint]\nlisten = [\"localhost:7777\"]", "ferryd.toml:2: key 'listen': 'localhost:7777' is not a valid address: the host must be an IP address")
        assertConfigError("[endpoint]\nlisten = [\"1.2.3.4\"]", "ferryd.toml:2: key 'listen': '1.2.3.4' is not a valid address: missing :port in \"1.2.3.4\"")
        assertConfigError("[logging]\nformat = \"xml\"", "ferryd.toml:2: key 'format': 'xml' is not one of 'logfmt', 'json'")
        assertConfigError("[[hooks]]\ntype = \"firewall\"", "ferryd.toml:2: key 'type': 'firewall' is not one of 'log', 'allow-endpoints', 'deny-endpoints', 'allow-ips', 'deny-ips', 'rate-limit', 'max-connections', 'plugin'")
        assertConfigError("[[services]]\nname = \"a\"\ntype = \"echo\"\n[[services]]\nname = \"a\"\ntype = \"echo\"", "ferryd.toml:5: key 'name': name 'a' is used twice")
        assertConfigError("[[services]]\nname = \"a b\"\ntype = \"echo\"", "ferryd.toml:2: key 'name': 'a b': a name is 1-64 characters of A-Z a-z 0-9 . _ -")
        assertConfigError("[[hooks]]\ntype = \"log\"\nservices = [\"web\"]", "ferryd.toml:3: key 'services': no service named 'web' is configured")
        assertConfigError("[[hooks]]\ntype = \"max-connections\"\ntotal = 0", "ferryd.toml:3: key 'total': 0 is out of range (1…10000000)")
        assertConfigError("[[hooks]]\ntype = \"plugin\"\ncommand = [\"true\"]\non_error = \"maybe\"", "ferryd.toml:4: key 'on_error': 'maybe' is not one of 'reject', 'accept'")
    }

    func testSyntaxErrorNamesFileAndLine() {
        assertConfigError("[endpoint]\nlisten = [\"0.0.0.0:1\"\nkey_file = \"x\"", "ferryd.toml:3: unterminated array (missing ']' or ',')")
        assertConfigError("a = 1\na = 2", "ferryd.toml:2: key 'a' is already defined on line 1")
    }

    func testCheckConfigReport() {
        let directory = TemporaryDirectory()
        let good = directory.write("good.toml", "[[services]]\nname = \"echo\"\ntype = \"echo\"\n")
        let report = DaemonCommandLine.checkConfigReport(path: good)
        XCTAssertEqual(report.status, 0)
        XCTAssertEqual(report.message, "\(good): OK (1 services, 0 tunnels, 0 hooks)")
        let bad = directory.write("bad.toml", "[endpoint]\n\nhook_timeout = \"soon\"\n")
        let failure = DaemonCommandLine.checkConfigReport(path: bad)
        XCTAssertEqual(failure.status, 1)
        XCTAssertEqual(failure.message, "\(bad):3: key 'hook_timeout': 'soon' is not a duration (like 500ms, 5s, 1m, 1h)")
    }

    func testShippedDefaultConfigurationIsValid() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/ferryd.toml").path
        let config = try DaemonConfig.load(path: path)
        XCTAssertEqual(config.endpoint.listen, [HostPort(host: "127.0.0.1", port: 7777)])
        XCTAssertEqual(config.services.map(\.kind), [.echo])
        XCTAssertTrue(config.tunnels.isEmpty)
        XCTAssertEqual(config.hooks.map(\.kind.typeName), ["log"])
    }

    func testCIDRMatching() throws {
        let block = try XCTUnwrap(CIDRBlock(parsing: "10.1.0.0/16"))
        XCTAssertTrue(block.contains(HostPort(host: "10.1.255.3", port: 1)))
        XCTAssertFalse(block.contains(HostPort(host: "10.2.0.1", port: 1)))
        XCTAssertTrue(block.contains(HostPort(host: "::ffff:10.1.0.9", port: 1)))
        let six = try XCTUnwrap(CIDRBlock(parsing: "2001:db8::/33"))
        XCTAssertTrue(six.contains(HostPort(host: "2001:db8:7fff::1", port: 1)))
        XCTAssertFalse(six.contains(HostPort(host: "2001:db8:8000::1", port: 1)))
        XCTAssertNil(CIDRBlock(parsing: "10.0.0.0/"))
        XCTAssertNil(CIDRBlock(parsing: "/8"))
    }

    func testDurations() {
        XCTAssertEqual(DurationText.parse("250ms"), .milliseconds(250))
        XCTAssertEqual(DurationText.parse("1.5s"), .milliseconds(1500))
        XCTAssertEqual(DurationText.parse("2m"), .seconds(120))
        XCTAssertEqual(DurationText.parse("1h"), .seconds(3600))
        XCTAssertNil(DurationText.parse("5"))
        XCTAssertNil(DurationText.parse("s"))
        XCTAssertNil(DurationText.parse("1d"))
    }
}
