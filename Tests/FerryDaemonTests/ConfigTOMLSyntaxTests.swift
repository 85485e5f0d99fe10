import Ferry
import XCTest

@testable import FerryDaemon

/// The configuration reads the same whichever TOML v1.0 spelling the operator chooses (headers, dotted keys,
/// inline tables, multi-line strings), and its semantic errors still name the line of the offending key.
final class ConfigTOMLSyntaxTests: XCTestCase {
    func testDottedKeysAndInlineTablesReadLikeHeaders() throws {
        let headers = try DaemonConfig.parse(
            """
            [endpoint]
            listen = ["127.0.0.1:7777"]
            hook_timeout = "250ms"
            [logging]
            level = "debug"
            [[services]]
            name = "echo"
            type = "echo"
            [[hooks]]
            type = "log"
            [[hooks]]
            type = "rate-limit"
            rate = 2.5
            burst = 5
            """,
            file: "ferryd.toml", directory: "/etc/ferryd"
        )
        let compact = try DaemonConfig.parse(
            """
            endpoint.listen = [\"\"\"
            127.0.0.1:7777\"\"\"]
            endpoint . "hook_timeout" = '250ms'
            logging = { level = "debug" }
            services = [{ name = "echo", type = "echo" }]
            hooks = [
              { type = "log" },  # first
              { type = "rate-limit", rate = 2.5, burst = 0x5 },
            ]
            """,
            file: "ferryd.toml", directory: "/etc/ferryd"
        )
        XCTAssertEqual(compact.endpoint, headers.endpoint)
        XCTAssertEqual(compact.logging, headers.logging)
        XCTAssertEqual(compact.services.map(\.name), headers.services.map(\.name))
        XCTAssertEqual(compact.hooks.map(\.kind), headers.hooks.map(\.kind))
    }

    func testErrorsInDottedKeysAndInlineTablesNameTheirLine() {
        assertConfigError(
            "# ferryd\nendpoint.listen = [\"127.0.0.1:7777\"]\nendpoint.hook_timeout = \"soon\"",
            "ferryd.toml:3: key 'hook_timeout': 'soon' is not a duration (like 500ms, 5s, 1m, 1h)"
        )
        assertConfigError("endpoint = { lisen = [] }", "ferryd.toml:1: key 'lisen': unknown key")
        assertConfigError(
            "hooks = [\n  { type = \"log\" },\n  { type = \"firewall\" },\n]",
            "ferryd.toml:3: key 'type': 'firewall' is not one of 'log', 'allow-endpoints', 'deny-endpoints', 'allow-ips', 'deny-ips', 'rate-limit', 'max-connections', 'plugin'"
        )
        assertConfigError(
            "[endpoint]\nhook_timeout = \"1s\"\n\n[endpoint]\nhook_timeout = \"2s\"",
            "ferryd.toml:4: table [endpoint] is already defined on line 1"
        )
        assertConfigError("[logging]\nlevel = \"info\"\n[control]\nlogging.level = \"debug\"", "ferryd.toml:4: key 'logging': unknown key")
        assertConfigError("logging.level = \"info\"\n[logging]", "ferryd.toml:2: table [logging] is already defined on line 1")
        assertConfigError("[endpoint]\nshutdown_timeout = 1979-05-27", "ferryd.toml:2: dates and times are not supported in Ferry configuration")
    }
}
