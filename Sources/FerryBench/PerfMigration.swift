import Ferry

/// `--rebind-after-bytes`: moves the client's endpoint to a new UDP port once, after its perf requests received
/// this many bytes: active connection migration by the client (RFC 9000 §9.2), the quic-interop-runner's
/// "connectionmigration" case. `Endpoint.rebind` switches every dialed connection to a fresh peer connection ID
/// (RFC 9000 §9.5) and validates the new path (RFC 9000 §8.2).
actor PerfMigration {
    let endpoint: Endpoint
    let threshold: UInt64
    private var received: UInt64 = 0
    private var isStarted = false
    /// The local ports before and after the move, once it happened.
    private(set) var from: HostPort?
    private(set) var to: HostPort?
    /// Why the rebind failed, if it did (the run then counts an error).
    private(set) var failure: String?

    init(endpoint: Endpoint, threshold: UInt64) {
        self.endpoint = endpoint
        self.threshold = threshold
    }

    /// Counts received payload bytes; the call that crosses the threshold performs the move.
    func onReceived(_ count: Int) async {
        received += UInt64(count)
        // Set before the first suspension: actor reentrancy must not start a second move.
        guard received >= threshold, !isStarted else { return }
        isStarted = true
        let before = await endpoint.currentLocalAddress()
        do {
            let after = try await endpoint.rebind(host: before.host, port: 0)
            (from, to) = (before, after)
            printError("rebound \(before) -> \(after) after \(received) bytes")
        } catch {
            failure = "\(error)"
            printError("rebind failed: \(error)")
        }
    }

    /// JSON fields for the client's line; a failed or missing move is reported, never hidden.
    var jsonFields: String {
        "\"rebinds\":\(to == nil ? 0 : 1),\"local_port_before\":\(from.map { "\($0.port)" } ?? "null"),"
            + "\"local_port_after\":\(to.map { "\($0.port)" } ?? "null")"
    }
}
