/// Close reasons as people read them in logs and CLI output: `closed by peer: application 0 "done"` rather than
/// the enum's structure.
extension ConnectionCloseReason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .transportError(let error, let by):
            return "\(Self.prefix(by)): transport error \(error)"
        case .applicationClosed(let errorCode, let reason, let by):
            return "\(Self.prefix(by)): application \(errorCode)" + Self.quoted(reason)
        case .tlsFailure(let alert, let reason, let by):
            return "\(Self.prefix(by)): TLS alert \(alert)" + Self.quoted(reason)
        case .idleTimeout:
            return "idle timeout"
        case .statelessReset:
            return "stateless reset by peer"
        case .versionNegotiationFailed:
            return "version negotiation failed"
        }
    }

    private static func prefix(_ initiator: CloseInitiator) -> String {
        initiator == .peer ? "closed by peer" : "closed locally"
    }

    /// The reason phrase quoted (`String.quotedForText`), so a peer's phrase cannot forge log structure;
    /// nothing when empty.
    private static func quoted(_ reason: String) -> String {
        reason.isEmpty ? "" : " " + reason.quotedForText
    }
}

extension String {
    /// The string in double quotes with `\"`, `\\`, `\n`, `\r`, `\t` and `\u{..}` for other control characters
    /// escaped, so it stays on one line and cannot end its quotes early: for text that came from a peer or a
    /// plugin and is written to logs (close reasons here, logfmt values in ferryd).
    package var quotedForText: String {
        quoted { "\\u{\(String($0, radix: 16))}" }
    }

    /// The string as a JSON string literal (RFC 8259 §7): the same escapes as `quotedForText`, with other
    /// control characters as `\u00XX`, for ferryd's JSON log lines.
    package var quotedForJSON: String {
        quoted { value in
            let hex = String(value, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }

    /// Quotes and escapes; `control` spells any other control character (below U+0020, and U+007F).
    private func quoted(control: (UInt32) -> String) -> String {
        var escaped = "\""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    escaped += control(scalar.value)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }
}
