/// Code to run when an endpoint starts and when it shuts down (after Hertz's `OnRun` / `OnShutdown`).
///
/// Start hooks run one after another, in the order added, before the endpoint accepts packets; the first that
/// throws aborts `bind` with that error, so an endpoint never runs half-initialised (for example without the
/// metrics exporter or registry entry a start hook sets up). Shutdown hooks run concurrently under one deadline
/// (`shutdownDeadline`, 5 s by default); hooks still running at the deadline are logged by name and abandoned,
/// so a stuck hook can never keep a process from stopping.
public struct LifecycleHooks: Sendable {
    /// One named lifecycle callback.
    public struct Hook: Sendable {
        /// The name used in logs and errors.
        public var name: String
        let body: @Sendable () async throws -> Void
    }

    /// Start hooks, in the order they run.
    public private(set) var startHooks: [Hook] = []
    /// Shutdown hooks (they run concurrently).
    public private(set) var shutdownHooks: [Hook] = []
    /// How long shutdown waits for all shutdown hooks together.
    public var shutdownDeadline: Duration

    /// Creates an empty set of lifecycle hooks.
    public init(shutdownDeadline: Duration = .seconds(5)) {
        self.shutdownDeadline = shutdownDeadline
    }

    /// Whether no hook is registered.
    public var isEmpty: Bool { startHooks.isEmpty && shutdownHooks.isEmpty }

    /// Adds a start hook; it runs after the ones added before it.
    public mutating func onStart(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        startHooks.append(Hook(name: name, body: body))
    }

    /// Adds a shutdown hook; an error it throws is logged and does not stop the other hooks.
    public mutating func onShutdown(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        shutdownHooks.append(Hook(name: name, body: body))
    }
}

/// A start hook threw, so the endpoint was not started.
///
/// Carries the hook's position and name, and the error it threw (compared by type and description).
public struct StartHookError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The hook's position among the start hooks, starting at 1.
    public var position: Int
    /// The hook's name.
    public var name: String
    /// The error the hook threw.
    public var underlying: any Error

    /// Creates a report of a failed start hook.
    public init(position: Int, name: String, underlying: any Error) {
        self.position = position
        self.name = name
        self.underlying = underlying
    }

    public static func == (lhs: StartHookError, rhs: StartHookError) -> Bool {
        lhs.position == rhs.position && lhs.name == rhs.name
            && String(reflecting: type(of: lhs.underlying)) == String(reflecting: type(of: rhs.underlying))
            && "\(lhs.underlying)" == "\(rhs.underlying)"
    }

    public var description: String {
        "start hook \(position) (\(name)) failed: \(underlying)"
    }
}

/// What happened to the shutdown hooks.
public struct ShutdownReport: Sendable, Equatable {
    /// Hooks that returned normally, in the order they finished.
    public var finished: [String] = []
    /// Hooks that threw, with the error's description.
    public var failed: [String: String] = [:]
    /// Hooks still running at the deadline, in installation order; they were cancelled and abandoned.
    public var unfinished: [String] = []

    /// Creates an empty report.
    public init() {}

    /// Whether every hook finished (returned or threw) before the deadline.
    public var isComplete: Bool { unfinished.isEmpty }
}
