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
                    escaped += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }
}
