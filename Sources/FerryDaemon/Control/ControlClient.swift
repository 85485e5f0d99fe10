import Foundation

/// A blocking client for the control socket, used by the `ferry` CLI and tests.
public struct ControlClient: Sendable {
    /// The socket path.
    public let path: String
    /// How long to wait for the answer before giving up with `.noAnswer` (a hung daemon must not hang the CLI).
    public var timeout: Duration

    /// Creates a client for the socket at `path`.
    public init(path: String, timeout: Duration = .seconds(30)) {
        self.path = path
        self.timeout = timeout
    }

    /// Sends one request and returns the raw answer line (JSON).
    public func rawRequest(_ request: ControlRequest) throws(ControlClientError) -> String {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .cannotConnect(path: path, errno: errno) }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .cannotConnect(path: path, errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw .cannotConnect(path: path, errno: errno) }
        let (seconds, attoseconds) = timeout.components
        var limit = timeval(tv_sec: Int(max(0, seconds)), tv_usec: Int(max(0, attoseconds) / 1_000_000_000_000))
        if limit.tv_sec == 0 && limit.tv_usec == 0 { limit.tv_usec = 1 }
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard let encoded = try? JSONEncoder().encode(request) else { throw .malformedAnswer("cannot encode request") }
        let line = Array(encoded) + [UInt8(ascii: "\n")]
        var offset = 0
        while offset < line.count {
            let written = line[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw .noAnswer }
            offset += written
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !answer.contains(UInt8(ascii: "\n")) {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            answer.append(contentsOf: buffer[0..<count])
        }
        guard let newline = answer.firstIndex(of: UInt8(ascii: "\n")) else { throw .noAnswer }
        return String(decoding: answer[..<newline], as: UTF8.self)
    }

    /// Sends one request and decodes the result; a daemon-side error is thrown as `.daemon`.
    public func request<Result: Codable & Sendable>(_ request: ControlRequest, as type: Result.Type) throws(ControlClientError) -> Result {
        let line = try rawRequest(request)
        guard let response = try? JSONDecoder().decode(ControlResponse<Result>.self, from: Data(line.utf8)) else {
            throw .malformedAnswer(line)
        }
        guard response.ok, let result = response.result else { throw .daemon(response.error ?? "unknown error") }
        return result
    }
}
