import Foundation

/// A TCP socket listening on 127.0.0.1 at an ephemeral port: its descriptor and the port it got.
func listenOnLoopback() throws -> (descriptor: Int32, port: UInt16) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var reuse: Int32 = 1
    setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(descriptor, 16) == 0 else {
        close(descriptor)
        throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return (descriptor, UInt16(bigEndian: address.sin_port))
}

/// Accepts connections on `descriptor` until it is shut down, serving each on a thread of its own.
func acceptConnections(on descriptor: Int32, serve: @escaping @Sendable (Int32) -> Void) {
    Thread.detachNewThread {
        while true {
            let client = accept(descriptor, nil, nil)
            guard client >= 0 else { return }
            Thread.detachNewThread { serve(client) }
        }
    }
}

/// Sends every byte of `bytes` on `descriptor`; false when the peer went away first.
@discardableResult
func sendAll(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let sent = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent > 0 else { return false }
        offset += sent
    }
    return true
}

/// Echoes what `client` sends until EOF, showing each chunk to `observe` first; then half-closes and closes, so
/// the sender sees the echo end where its own data ended.
func echoUntilEOF(_ client: Int32, bufferSize: Int, observe: (ArraySlice<UInt8>) -> Void = { _ in }) {
    var buffer = [UInt8](repeating: 0, count: bufferSize)
    while true {
        let count = recv(client, &buffer, buffer.count, 0)
        guard count > 0 else { break }
        observe(buffer[0..<count])
        sendAll(client, buffer[0..<count])
    }
    shutdown(client, Int32(SHUT_WR))
    close(client)
}

/// A blocking TCP echo server on 127.0.0.1 for relay tests: echoes bytes, half-closes after the client does.
final class TCPEchoServer: @unchecked Sendable {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        (descriptor, port) = try listenOnLoopback()
        acceptConnections(on: descriptor) { client in echoUntilEOF(client, bufferSize: 65536) }
    }

    deinit {
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
    }
}

/// A blocking TCP client with a receive timeout.
final class TCPTestClient: @unchecked Sendable {
    let descriptor: Int32

    init(port: Int, timeoutSeconds: Int = 10) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(descriptor) }

    func write(_ bytes: [UInt8]) {
        sendAll(descriptor, bytes[...])
    }

    func shutdownWrite() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Reads until EOF, an error or the timeout; `endedWithReset` tells ECONNRESET from a clean EOF.
    func readToEnd() -> (bytes: [UInt8], endedWithReset: Bool) {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                result.append(contentsOf: buffer[0..<count])
                continue
            }
            return (result, count < 0 && errno == ECONNRESET)
        }
    }

    /// Reads exactly `count` bytes (or fewer at EOF/timeout).
    func read(count: Int) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            let received = recv(descriptor, &buffer, min(buffer.count, count - result.count), 0)
            guard received > 0 else { break }
            result.append(contentsOf: buffer[0..<received])
        }
        return result
    }
}
