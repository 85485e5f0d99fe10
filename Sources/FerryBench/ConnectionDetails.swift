import Ferry

/// What the interop cases check on a connection besides the transfer (Interop/run_cases.py): the negotiated
/// cipher suite, the 1-RTT key updates either side started, and the peer's address on the selected path.
///
/// `--details` adds these to the client's JSON line and makes the server print one `connection` line per
/// answered request, so a case can prove a key update (RFC 9001 §6) or a migration (RFC 9000 §9) really
/// happened instead of inferring it from a completed transfer.
struct ConnectionDetails: Sendable {
    var cipher: String
    var keyUpdatesInitiated: Int
    var keyUpdatesFollowed: Int
    var remote: String

    /// A snapshot of `connection` now; call it while the connection is open (its counters go with it).
    static func snapshot(of connection: Connection) async -> ConnectionDetails {
        let stats = await connection.stats
        let selected = await connection.paths.first { $0.isSelected }
        return ConnectionDetails(
            cipher: name(of: await connection.cipherSuite),
            keyUpdatesInitiated: stats.keyUpdatesInitiated,
            keyUpdatesFollowed: stats.keyUpdatesFollowed,
            remote: selected.map { "\($0.remoteAddress)" } ?? "\(connection.remoteAddress)"
        )
    }

    /// The `--cipher` spelling of a suite ("none" before the handshake completed or after the connection went).
    static func name(of suite: CipherSuite?) -> String {
        switch suite {
        case .aes128GCMSHA256: "aes128gcm"
        case .aes256GCMSHA384: "aes256gcm"
        case .chacha20Poly1305SHA256: "chacha20"
        case nil: "none"
        }
    }

    /// The server's line: `connection ID cipher=.. key_updates_initiated=.. key_updates_followed=.. remote=..
    /// first_remote=.. requests=..`.
    func serverLine(remoteID: EndpointID, firstRemote: HostPort, requests: Int) -> String {
        "connection \(remoteID) cipher=\(cipher) key_updates_initiated=\(keyUpdatesInitiated) "
            + "key_updates_followed=\(keyUpdatesFollowed) remote=\(remote) first_remote=\(firstRemote) "
            + "requests=\(requests)"
    }

    /// Several connections' details as JSON fields for the client's line (counts summed; "mixed" ciphers when
    /// they differ).
    static func jsonFields(_ all: [ConnectionDetails]) -> String {
        let ciphers = Set(all.map(\.cipher))
        let cipher = ciphers.count == 1 ? ciphers.first ?? "none" : (ciphers.isEmpty ? "none" : "mixed")
        return "\"cipher\":\"\(cipher)\","
            + "\"key_updates_initiated\":\(all.reduce(0) { $0 + $1.keyUpdatesInitiated }),"
            + "\"key_updates_followed\":\(all.reduce(0) { $0 + $1.keyUpdatesFollowed })"
    }
}
