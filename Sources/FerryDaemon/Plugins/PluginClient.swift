import Foundation
import Logging

/// A long-running policy plugin process, asked over line-delimited JSON (docs/plugins.md).
///
/// Requests are concurrent and matched to answers by id, so one slow decision does not hold up others. When
/// the process exits, pending requests fail at once (`on_error` decides), and it is restarted with exponential
/// backoff (100 ms doubling to 30 s, reset after it has stayed up for 30 s). While it is down, requests fail
/// immediately rather than queue.
public final class PluginClient: Sendable {
    /// The program and arguments.
    public let command: [String]
    /// The hook name (sent in `hello`, used in logs and metrics).
    public let name: String
    /// How long one request may wait for an answer.
    public let timeout: Duration

    private let logger: Logger
    private let metrics: DaemonMetrics?

    private struct Running {
        var process: Process
        var input: FileHandle
        var isReady: Bool
        var startedAt: ContinuousClock.Instant
    }

    private struct State {
        var running: Running?
        var pending: [UInt64: CheckedContinuation<PluginAnswer, Never>] = [:]
        var nextID: UInt64 = 1
        var backoff: Duration = .milliseconds(100)
        var isStopped = false
        var restarts = 0
        var readyWaiters: [CheckedContinuation<Void, Never>] = []
        var generation = 0
    }

    private let state = Locked(State())

    /// Creates a client; call `start()` to launch the process.
    public init(command: [String], name: String, timeout: Duration, logger: Logger, metrics: DaemonMetrics?) {
        self.command = command
        self.name = name
        self.timeout = timeout
        self.logger = logger
        self.metrics = metrics
    }

    /// How many times the process has been restarted after exiting.
    public var restartCount: Int { state.withLock { $0.restarts } }

    /// Whether the process is up and has answered `hello`.
    public var isReady: Bool { state.withLock { $0.running?.isReady ?? false } }

    /// Launches the process (no-op if running).
    public func start() {
        // A plugin that exits while ferryd writes to it must not kill ferryd with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        launch()
    }

    /// Waits until the plugin answered `hello` (or `limit` passes); true when ready.
    public func waitUntilReady(limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if isReady { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return isReady
    }

    /// Stops the process for good; pending requests are answered `unavailable`.
    public func stop() {
        let (process, pending) = state.withLock { state -> (Process?, [CheckedContinuation<PluginAnswer, Never>]) in
            state.isStopped = true
            let process = state.running?.process
            try? state.running?.input.close()
            state.running = nil
            let pending = Array(state.pending.values)
            state.pending.removeAll()
            return (process, pending)
        }
        if let process, process.isRunning { process.terminate() }
        for continuation in pending { continuation.resume(returning: .unavailable("plugin stopped")) }
    }

    /// Asks the plugin; never throws: failures come back as `unavailable`, `timedOut` or `malformed`.
    func ask(_ request: PluginRequest) async -> PluginAnswer {
        let timeout = timeout
        return await withCheckedContinuation { continuation in
            let outcome: (FileHandle, UInt64)? = state.withLock { state in
                guard let running = state.running, running.isReady else { return nil }
                let id = state.nextID
                state.nextID += 1
                state.pending[id] = continuation
                return (running.input, id)
            }
            guard let (input, id) = outcome else {
                continuation.resume(returning: .unavailable("plugin \(name) is not running"))
                return
            }
            var message = request
            message.id = id
            guard let data = try? JSONEncoder().encode(message) else {
                finish(id, with: .malformed("cannot encode request"))
                return
            }
            do {
                try input.write(contentsOf: data + Data("\n".utf8))
            } catch {
                finish(id, with: .unavailable("plugin \(name) stdin closed"))
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                self.finish(id, with: .timedOut)
            }
        }
    }

    private func finish(_ id: UInt64, with answer: PluginAnswer) {
        let continuation = state.withLock { $0.pending.removeValue(forKey: id) }
        continuation?.resume(returning: answer)
    }

    // MARK: Process management

    private func launch() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.resolveExecutable(command[0]))
        process.arguments = Array(command.dropFirst())
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = FileHandle.standardError
        // `running` is set before the process starts: one that exits at once must find itself there, or its
        // exit would be forgotten (and no restart scheduled) when `running` was filled in after it.
        let generation: Int? = state.withLock { state in
            guard !state.isStopped, state.running == nil else { return nil }
            state.generation += 1
            state.running = Running(process: process, input: stdinPipe.fileHandleForWriting, isReady: false, startedAt: .now)
            return state.generation
        }
        guard let generation else { return }
        process.terminationHandler = { [weak self] process in
            self?.exited(generation: generation, status: process.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            state.withLock { state in
                if state.generation == generation { state.running = nil }
            }
            logger.error("plugin failed to start", metadata: ["hook": "\(name)", "command": "\(command)", "error": "\(error)"])
            scheduleRestart(generation: generation)
            return
        }
        if state.withLock({ $0.isStopped }) {
            // stop() ran between claiming the slot and starting the process.
            process.terminate()
            return
        }
        logger.info("plugin started", metadata: ["hook": "\(name)", "pid": "\(process.processIdentifier)"])
        let output = stdoutPipe.fileHandleForReading
        let thread = Thread { [weak self] in
            var buffer = Data()
            while true {
                let chunk = output.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer = Data(buffer[(newline + 1)...])
                    self?.received(line: Data(line), generation: generation)
                }
            }
        }
        thread.name = "ferryd-plugin-\(name)"
        thread.start()
        let hello = PluginRequest(type: .hello, version: PluginProtocol.version, hook: name)
        if let data = try? JSONEncoder().encode(hello) {
            try? stdinPipe.fileHandleForWriting.write(contentsOf: data + Data("\n".utf8))
        }
    }

    private func received(line: Data, generation: Int) {
        guard !line.isEmpty else { return }
        guard let response = try? JSONDecoder().decode(PluginResponse.self, from: line) else {
            logger.warning("plugin wrote a line that is not JSON", metadata: ["hook": "\(name)", "line": "\(String(decoding: line, as: UTF8.self))"])
            return
        }
        if response.type == .hello {
            guard response.version == PluginProtocol.version else {
                logger.error("plugin speaks another protocol version", metadata: ["hook": "\(name)", "version": "\(response.version ?? -1)"])
                let process = state.withLock { $0.running?.process }
                process?.terminate()
                return
            }
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                guard state.generation == generation else { return [] }
                state.running?.isReady = true
                let waiters = state.readyWaiters
                state.readyWaiters = []
                return waiters
            }
            for waiter in waiters { waiter.resume() }
            logger.info("plugin ready", metadata: ["hook": "\(name)", "version": "\(PluginProtocol.version)"])
            return
        }
        guard let id = response.id else {
            logger.warning("plugin answer without id", metadata: ["hook": "\(name)"])
            return
        }
        switch response.decision {
        case .accept: finish(id, with: .accept)
        case .reject: finish(id, with: .reject(reason: response.reason ?? "rejected by plugin", code: response.code.flatMap { $0 < 1 << 62 ? $0 : nil }))
        case .other, nil: finish(id, with: .malformed("decision '\(response.decision?.wireValue ?? "")'"))
        }
    }

    private func exited(generation: Int, status: Int32) {
        let pending = state.withLock { state -> [CheckedContinuation<PluginAnswer, Never>] in
            guard state.generation == generation else { return [] }
            if let running = state.running, ContinuousClock.now - running.startedAt > .seconds(30) {
                state.backoff = .milliseconds(100)
            }
            try? state.running?.input.close()
            state.running = nil
            let pending = Array(state.pending.values)
            state.pending.removeAll()
            return pending
        }
        for continuation in pending { continuation.resume(returning: .unavailable("plugin \(name) exited")) }
        let stopped = state.withLock { $0.isStopped }
        guard !stopped else { return }
        logger.warning("plugin exited", metadata: ["hook": "\(name)", "status": "\(status)"])
        scheduleRestart(generation: generation)
    }

    private func scheduleRestart(generation: Int) {
        let delay = state.withLock { state -> Duration in
            let delay = state.backoff
            state.backoff = min(state.backoff * 2, .seconds(30))
            return delay
        }
        Task {
            try? await Task.sleep(for: delay)
            let shouldStart = self.state.withLock { state -> Bool in
                guard !state.isStopped, state.running == nil, state.generation == generation else { return false }
                state.restarts += 1
                return true
            }
            guard shouldStart else { return }
            self.metrics?.recordPluginRestart(hook: self.name)
            self.logger.info("restarting plugin", metadata: ["hook": "\(self.name)", "after": "\(delay)"])
            self.launch()
        }
    }

    /// Finds `program` on PATH unless it contains a slash.
    private static func resolveExecutable(_ program: String) -> String {
        guard !program.contains("/") else { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return program
    }
}
