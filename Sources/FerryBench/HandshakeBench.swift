import Ferry

/// The handshake benchmark: K connections, P at a time; each does a full handshake, one 1-byte request, close.
struct HandshakeBench {
    let endpoint: Endpoint
    let target: EndpointAddress
    let count: UInt64
    let concurrency: Int
    let hold: Bool

    struct Report {
        var handshakes: UInt64
        var errors: UInt64
        var seconds: Double

        var json: String {
            let rate = Double(handshakes) / max(seconds, 1e-9)
            return "{\"handshakes\":\(handshakes),\"seconds\":\(format(seconds, 4)),"
                + "\"handshakes_per_s\":\(format(rate, 1)),\"errors\":\(errors)}"
        }
    }

    /// Runs the benchmark; with `hold`, returns the connections so the caller can keep them open.
    func run() async -> (Report, [Connection]) {
        let clock = ContinuousClock()
        let start = clock.now
        let workers = max(1, concurrency)
        var succeeded: UInt64 = 0
        var errors: UInt64 = 0
        var held: [Connection] = []
        await withTaskGroup(of: (UInt64, UInt64, [Connection]).self) { group in
            for worker in 0..<workers {
                let share = count / UInt64(workers) + (UInt64(worker) < count % UInt64(workers) ? 1 : 0)
                group.addTask {
                    var ok: UInt64 = 0
                    var failed: UInt64 = 0
                    var kept: [Connection] = []
                    for _ in 0..<share {
                        do {
                            let connection = try await endpoint.connect(to: target, alpn: "perf")
                            do {
                                _ = try await PerfClient.request(connection: connection, download: 1, upload: 1)
                            } catch {
                                connection.close(code: 0, reason: "done")
                                throw error
                            }
                            if hold {
                                kept.append(connection)
                            } else {
                                connection.close(code: 0, reason: "done")
                            }
                            ok += 1
                        } catch {
                            printError("handshake/request failed: \(error)")
                            failed += 1
                        }
                    }
                    return (ok, failed, kept)
                }
            }
            for await (ok, failed, kept) in group {
                succeeded += ok
                errors += failed
                held += kept
            }
        }
        let elapsed = start.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (Report(handshakes: succeeded, errors: errors, seconds: seconds), held)
    }
}
