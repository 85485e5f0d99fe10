import Ferry
import FerryTransport
import XCTest

@testable import FerryDaemon

/// Log records stay one well-formed line whatever their keys and values hold, and close reasons read as text.
final class LogFormatTests: XCTestCase {
    func testLogfmtEscapesControlCharactersQuotesAndBackslashesInValues() {
        let line = DaemonLogHandler.render(
            [("msg", "a\r\nb\tc"), ("path", #"C:\x"#), ("q", #"say "hi""#), ("bell", "\u{7}")], format: .logfmt)
        XCTAssertEqual(line, #"msg="a\r\nb\tc" path="C:\\x" q="say \"hi\"" bell="\u{7}""#)
        XCTAssertFalse(line.contains("\n") || line.contains("\r") || line.contains("\t"))
    }

    func testLogfmtKeysCannotAddFieldsOrLines() {
        let line = DaemonLogHandler.render([("a b=c\"d\re\tf", "v"), ("", "w")], format: .logfmt)
        XCTAssertEqual(line, "a_b_c_d_e_f=v _=w")
    }

    func testCloseReasonsReadAsText() {
        XCTAssertEqual(
            "\(ConnectionCloseReason.applicationClosed(errorCode: 0, reason: "done", by: .peer))",
            #"closed by peer: application 0 "done""#)
        XCTAssertEqual(
            "\(ConnectionCloseReason.applicationClosed(errorCode: 6, reason: "", by: .local))",
            "closed locally: application 6")
        XCTAssertEqual(
            "\(ConnectionCloseReason.applicationClosed(errorCode: 1, reason: "x\"\ny", by: .peer))",
            #"closed by peer: application 1 "x\"\ny""#)
        XCTAssertEqual("\(ConnectionCloseReason.idleTimeout)", "idle timeout")
        XCTAssertEqual("\(ConnectionCloseReason.statelessReset)", "stateless reset by peer")
        XCTAssertEqual(
            "\(ConnectionCloseReason.tlsFailure(alert: 42, reason: "bad certificate", by: .local))",
            #"closed locally: TLS alert 42 "bad certificate""#)
        let error = TransportError(.protocolViolation, frameType: nil, reason: "bad frame")
        XCTAssertTrue("\(ConnectionCloseReason.transportError(error, by: .peer))".hasPrefix("closed by peer: transport error "))
    }

    func testMetricsReuseTheirInstruments() {
        let metrics = DaemonMetrics()
        for _ in 0..<1000 { metrics.recordBytes(1500, direction: "to_peer") }
        metrics.recordBytes(10, direction: "from_peer")
        let text = metrics.render()
        XCTAssertTrue(text.contains(#"ferry_relayed_bytes_total{direction="to_peer"} 1500000"#), text)
        XCTAssertTrue(text.contains(#"ferry_relayed_bytes_total{direction="from_peer"} 10"#), text)
    }
}
