import Foundation

/// Tells systemd about the daemon's state over `$NOTIFY_SOCKET` (sd_notify(3), without linking libsystemd).
///
/// The socket is a Unix datagram socket; a path starting with `@` is in the abstract namespace. When the
/// variable is unset (not run by systemd, or `Type=simple`) every call is a no-op. Messages:
/// `READY=1` after binding, `RELOADING=1` + `MONOTONIC_USEC=` then `READY=1` around a reload, `STOPPING=1` at
/// shutdown, `WATCHDOG=1` at half `$WATCHDOG_USEC`, and `STATUS=` lines for `systemctl status`.
public struct SystemdNotifier: Sendable {
    /// The socket path as given in `NOTIFY_SOCKET`, or nil when not supervised.
    public let socketPath: String?
    /// Half the watchdog interval, when systemd asked for keep-alives for this process.
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        var interval: Duration?
        if path != nil, let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 {
            let pidMatches = environment["WATCHDOG_PID"].map { $0 == String(getpid()) } ?? true
            if pidMatches { interval = .microseconds(Int64(usec / 2)) }
        }
        watchdogInterval = interval
    }

    /// Whether a notification socket is configured.
    public var isEnabled: Bool { socketPath != nil }

    /// The daemon finished starting (sockets bound, hooks installed).
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? []))
    }

    /// A reload is starting; systemd waits for the next `READY=1`.
    @discardableResult
    public func reloading() -> Bool {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"])
    }

    /// Shutdown has begun.
    @discardableResult
    public func stopping() -> Bool {
        send(["STOPPING=1"])
    }

    /// A watchdog keep-alive.
    @discardableResult
    public func watchdog() -> Bool {
        send(["WATCHDOG=1"])
    }

    /// A free-form status line.
    @discardableResult
    public func status(_ text: String) -> Bool {
        send(["STATUS=\(text)"])
    }

    /// Sends one datagram of newline-separated assignments; false when not supervised or the send failed.
    @discardableResult
    public func send(_ assignments: [String]) -> Bool {
        guard let socketPath else { return false }
        let message = Array(assignments.joined(separator: "\n").utf8)
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity || (pathBytes.first == 0 && pathBytes.count <= capacity) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path) ?? 2
        // Abstract names are exactly as long as given; filesystem paths include the terminating NUL.
        let length = pathOffset + pathBytes.count + (pathBytes.first == 0 ? 0 : 1)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { buffer in
                    sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), socketAddress, socklen_t(length))
                }
            }
        }
        return sent == message.count
    }

    /// `CLOCK_MONOTONIC` in microseconds, as systemd expects in `MONOTONIC_USEC`.
    static func monotonicMicroseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1000
    }
}
