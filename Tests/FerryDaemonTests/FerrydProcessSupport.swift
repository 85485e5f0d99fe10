import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// Where the `ferryd` and `ferry` executables are: `$FERRY_BIN_PATH` when set, else the build products directory
/// holding the test bundle (`swift test` builds every product of the package into it).
enum FerryBinaries {
    static var directory: String {
        if let explicit = ProcessInfo.processInfo.environment["FERRY_BIN_PATH"], !explicit.isEmpty { return explicit }
        // Linux: the test runner is `<bin>/FerryPackageTests.xctest`; macOS: a bundle inside `<bin>`.
        if let executable = Bundle.main.executableURL, executable.pathExtension == "xctest" {
            return executable.deletingLastPathComponent().path
        }
        var directory = Bundle(for: FerrydProcessTests.self).bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return directory.path
    }

    static var ferryd: String { directory + "/ferryd" }
    static var ferry: String { directory + "/ferry" }

    /// Fails the test (rather than skipping it) when the executables are missing.
    static func require(file: StaticString = #filePath, line: UInt = #line) throws {
        for path in [ferryd, ferry] where !FileManager.default.isExecutableFile(atPath: path) {
            XCTFail("\(path) is missing: run `swift build --product ferryd --product ferry` with the same flags", file: file, line: line)
            throw XCTSkip("executables missing")
        }
    }
}

/// Lines a child process writes (its log on stderr), kept so a test can wait for one without sleeping.
final class LineCapture: @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [String] = []
    private var isFinished = false

    /// Reads `handle` on a thread of its own until EOF.
    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer = Data(buffer[(newline + 1)...])
                    condition.lock()
                    lines.append(line)
                    condition.broadcast()
                    condition.unlock()
                }
            }
            condition.lock()
            isFinished = true
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits until the writer closed its end (or `timeout`).
    func waitUntilFinished(timeout: TimeInterval = 30) {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !isFinished, condition.wait(until: deadline) {}
    }

    /// Everything captured so far.
    var all: [String] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }

    /// Waits until the `occurrence`-th line containing every one of `parts` has been written (or `timeout`).
    func waitFor(_ parts: String..., occurrence: Int = 1, timeout: TimeInterval = 30) -> String? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let matches = lines.filter { line in parts.allSatisfy { line.contains($0) } }
            if matches.count >= occurrence { return matches[occurrence - 1] }
            if isFinished || !condition.wait(until: deadline) { return nil }
        }
    }
}

/// A systemd notification socket a test listens on; remembers every message.
final class NotifyListener {
    let socket: NotifySocket
    private(set) var history: [String] = []

    init() throws {
        socket = try NotifySocket(abstract: true)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next message starting with `prefix` (earlier ones are skipped but kept in `history`), or nil after
    /// the receive timeout.
    func next(_ prefix: String) -> String? {
        while let message = socket.receive() {
            history.append(message)
            if message.hasPrefix(prefix) { return message }
        }
        return nil
    }

    /// Whether a message starting with `prefix` was ever sent, waiting for the next one if not yet.
    func sent(_ prefix: String) -> Bool {
        history.contains { $0.hasPrefix(prefix) } || next(prefix) != nil
    }
}

/// A `ferryd` child process with its notify socket, log and control socket.
final class FerrydProcess {
    enum LaunchError: Error {
        /// READY=1 did not arrive; carries the log.
        case notReady(log: [String])
    }

    let process: Process
    let notify: NotifyListener
    let log: LineCapture
    let control: ControlClient
    let socketPath: String

    /// Starts `ferryd --config <directory>/<name>` and waits for READY=1 on its NOTIFY_SOCKET.
    init(directory: TemporaryDirectory, config name: String, environment extra: [String: String] = [:]) throws {
        notify = try NotifyListener()
        process = Process()
        process.executableURL = URL(fileURLWithPath: FerryBinaries.ferryd)
        process.arguments = ["--config", directory.path + "/" + name]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.socket.name
        for key in ["STATE_DIRECTORY", "RUNTIME_DIRECTORY", "WATCHDOG_USEC", "WATCHDOG_PID"] { environment.removeValue(forKey: key) }
        environment.merge(extra) { $1 }
        process.environment = environment
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        log = LineCapture(stderr.fileHandleForReading)
        try process.run()
        socketPath = directory.path + "/" + name.replacingOccurrences(of: ".toml", with: ".sock")
        control = ControlClient(path: socketPath)
        guard notify.next("READY=1") != nil else {
            process.terminate()
            throw LaunchError.notReady(log: log.all)
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var pid: Int32 { process.processIdentifier }

    func status() throws -> ControlStatus {
        try control.request(ControlRequest(command: "status"), as: ControlStatus.self)
    }

    /// `ID@ip:port` of the first endpoint.
    func address() throws -> String {
        let status = try status()
        return "\(status.endpointID)@\(status.listen[0])"
    }

    /// The TCP port of the first tunnel.
    func tunnelPort() throws -> Int {
        let status = try status()
        let listen = try XCTUnwrap(status.tunnels.first?.split(separator: " ").first)
        return try XCTUnwrap(Int(try XCTUnwrap(listen.split(separator: ":").last)))
    }

    /// Sends SIGHUP and waits for RELOADING=1 then READY=1; returns READY's message (with STATUS).
    func reloadBySignal() -> String? {
        kill(pid, SIGHUP)
        guard notify.next("RELOADING=1") != nil else { return nil }
        return notify.next("READY=1")
    }

    /// Sends SIGTERM; returns the exit status, whether STOPPING=1 arrived, and how long the exit took.
    func terminate() -> (status: Int32, stopping: Bool, seconds: TimeInterval) {
        let started = Date()
        kill(pid, SIGTERM)
        let stopping = notify.next("STOPPING=1") != nil
        process.waitUntilExit()
        return (process.terminationStatus, stopping, Date().timeIntervalSince(started))
    }

    /// A Prometheus scrape of `/metrics` on `port`.
    static func scrape(port: Int) throws -> String {
        try httpGet(port: port, path: "/metrics")
    }

    /// The bound metrics port, from `status`.
    func metricsPort() throws -> Int {
        let listen = try XCTUnwrap(try status().metrics)
        return try XCTUnwrap(Int(try XCTUnwrap(listen.split(separator: ":").last)))
    }
}

/// Runs the `ferry` CLI; returns its exit status, stdout and stderr.
func runFerry(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    try runProcess(FerryBinaries.ferry, arguments)
}

/// Runs a program to completion; returns its exit status, stdout and stderr.
func runProcess(_ path: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle(forReadingAtPath: "/dev/null") : inputPipe
    try process.run()
    if let input {
        inputPipe.fileHandleForWriting.write(input)
        try inputPipe.fileHandleForWriting.close()
    }
    let errorCapture = LineCapture(error.fileHandleForReading)
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    errorCapture.waitUntilFinished()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), errorCapture.all.joined(separator: "\n"))
}

/// Runs blocking work on a thread of its own, so blocking socket calls never occupy the cooperative pool the
/// in-process endpoints need.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// A TCP echo server that also hashes what each connection sent it (SHA-256), to check the forward direction.
final class DigestingEchoServer: @unchecked Sendable {
    let descriptor: Int32
    let port: UInt16
    private let condition = NSCondition()
    private var digests: [String] = []

    init() throws {
        (descriptor, port) = try listenOnLoopback()
        acceptConnections(on: descriptor) { [self] client in serve(client) }
    }

    deinit {
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
    }

    private func serve(_ client: Int32) {
        var hasher = SHA256()
        echoUntilEOF(client, bufferSize: 256 << 10) { hasher.update($0) }
        let digest = hasher.hexDigest()
        condition.lock()
        digests.append(digest)
        condition.broadcast()
        condition.unlock()
    }

    /// The SHA-256 of what the `index`-th connection (in order of finishing) sent, once it has finished.
    func digest(of index: Int, timeout: TimeInterval = 30) -> String? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while digests.count <= index {
            if !condition.wait(until: deadline) { return nil }
        }
        return digests[index]
    }
}

extension SHA256 {
    /// The digest of everything hashed so far, as lowercase hex.
    mutating func hexDigest() -> String {
        finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// Streams `count` pseudo-random bytes through a TCP port and reads the echo concurrently; returns the SHA-256
/// of what was sent and of what came back, and the elapsed seconds.
func pumpThroughEcho(port: Int, count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) throws -> (sent: String, received: String, receivedCount: Int, seconds: Double) {
    let client = try TCPTestClient(port: port, timeoutSeconds: 60)
    let descriptor = client.descriptor
    let started = Date()
    let senderDone = NSCondition()
    nonisolated(unsafe) var sentDigest = ""
    nonisolated(unsafe) var senderFinished = false
    Thread.detachNewThread {
        var hasher = SHA256()
        var state = seed
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        var remaining = count
        while remaining > 0 {
            let size = min(chunk.count, remaining)
            chunk.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for index in 0..<(size + 7) / 8 where index < words.count {
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    words[index] = state
                }
            }
            hasher.update(chunk[0..<size])
            sendAll(descriptor, chunk[0..<size])
            remaining -= size
        }
        shutdown(descriptor, Int32(SHUT_WR))
        let digest = hasher.hexDigest()
        senderDone.lock()
        sentDigest = digest
        senderFinished = true
        senderDone.broadcast()
        senderDone.unlock()
    }
    var hasher = SHA256()
    var received = 0
    var buffer = [UInt8](repeating: 0, count: 256 << 10)
    while true {
        let result = recv(descriptor, &buffer, buffer.count, 0)
        guard result > 0 else { break }
        hasher.update(buffer[0..<result])
        received += result
    }
    senderDone.lock()
    while !senderFinished { senderDone.wait() }
    let sent = sentDigest
    senderDone.unlock()
    let receivedDigest = hasher.hexDigest()
    withExtendedLifetime(client) {}
    return (sent, receivedDigest, received, Date().timeIntervalSince(started))
}
