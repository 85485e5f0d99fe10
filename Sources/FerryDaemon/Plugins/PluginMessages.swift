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
    var type: String
    /// The protocol version (`hello` only).
    var version: Int?
    /// The hook's name (`hello` only).
    var hook: String?
    /// Matches the answer to the request (`check` only).
    var id: UInt64?
    /// `incoming` (before the handshake) or `after_handshake`.
    var stage: String?
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
    var type: String?
    /// The plugin's protocol version (`hello`).
    var version: Int?
    /// The request being answered.
    var id: UInt64?
    /// `accept` or `reject`.
    var decision: String?
    /// Why, for logs and the peer.
    var reason: String?
    /// The application error code a post-handshake rejection closes with (default 403, RFC 9000 §19.19).
    var code: UInt64?
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
