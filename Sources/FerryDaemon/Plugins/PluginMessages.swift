import Foundation

/// The plugin protocol's messages (docs/plugins.md): line-delimited JSON over the child's stdin and stdout.
///
/// ferryd opens with a `hello` carrying the protocol version; the plugin must answer with its own `hello`
/// before any check is sent. Checks carry an `id` and may be answered in any order.
enum PluginProtocol {
    /// The protocol version this daemon speaks.
    static let version = 1
}

/// ferryd → plugin.
struct PluginRequest: Codable, Sendable, Equatable {
    /// `hello` or `check`.
    var type: PluginMessageType
    /// The protocol version (`hello` only).
    var version: Int?
    /// The hook's name (`hello` only).
    var hook: String?
    /// Matches the answer to the request (`check` only).
    var id: UInt64?
    /// `incoming` (before the handshake) or `after_handshake`.
    var stage: PluginStage?
    /// The peer's IP address and port.
    var remoteAddress: String?
    var remotePort: UInt16?
    /// The peer's endpoint id (after the handshake).
    var remoteID: String?
    /// The negotiated ALPN and the service it names.
    var alpn: String?
    var service: String?
    /// `server` (the peer dialed us) or `client` (we dialed it).
    var side: String?

    enum CodingKeys: String, CodingKey {
        case type, version, hook, id, stage, alpn, service, side
        case remoteAddress = "remote_address"
        case remotePort = "remote_port"
        case remoteID = "remote_id"
    }
}

/// plugin → ferryd.
struct PluginResponse: Codable, Sendable, Equatable {
    /// `hello` for the handshake; absent or `decision` for answers.
    var type: PluginMessageType?
    /// The plugin's protocol version (`hello`).
    var version: Int?
    /// The request being answered.
    var id: UInt64?
    /// `accept` or `reject`.
    var decision: PluginDecision?
    /// Why, for logs and the peer.
    var reason: String?
    /// The application error code a post-handshake rejection closes with (default 403, RFC 9000 §19.19).
    var code: UInt64?
}

/// A plugin message's `type`.
enum PluginMessageType: WireEnum {
    case hello
    case check
    case decision
    case other(String)

    init(wireValue: String) {
        switch wireValue {
        case "hello": self = .hello
        case "check": self = .check
        case "decision": self = .decision
        default: self = .other(wireValue)
        }
    }

    var wireValue: String {
        switch self {
        case .hello: "hello"
        case .check: "check"
        case .decision: "decision"
        case .other(let value): value
        }
    }
}

/// When a check is asked: before the handshake or after it.
enum PluginStage: WireEnum {
    case incoming
    case afterHandshake
    case other(String)

    init(wireValue: String) {
        switch wireValue {
        case "incoming": self = .incoming
        case "after_handshake": self = .afterHandshake
        default: self = .other(wireValue)
        }
    }

    var wireValue: String {
        switch self {
        case .incoming: "incoming"
        case .afterHandshake: "after_handshake"
        case .other(let value): value
        }
    }
}

/// A plugin's `decision`.
enum PluginDecision: WireEnum {
    case accept
    case reject
    case other(String)

    init(wireValue: String) {
        switch wireValue {
        case "accept": self = .accept
        case "reject": self = .reject
        default: self = .other(wireValue)
        }
    }

    var wireValue: String {
        switch self {
        case .accept: "accept"
        case .reject: "reject"
        case .other(let value): value
        }
    }
}

/// What a plugin answered, or why it could not.
public enum PluginAnswer: Sendable, Equatable {
    /// The plugin accepted.
    case accept
    /// The plugin rejected, with its reason and, optionally, the CONNECTION_CLOSE code to use.
    case reject(reason: String, code: UInt64? = nil)
    /// The plugin is not running (crashed, restarting, or never started).
    case unavailable(String)
    /// The plugin did not answer in time.
    case timedOut
    /// The plugin answered something that is not a decision.
    case malformed(String)
}
