/// One process-wide timer task that fires hook deadlines, so running a hook chain arms no timer of its own.
///
/// A chain run registers one entry (HookDeadline.swift); the watchdog sleeps until the earliest deadline of all
/// entries, fires the ones that are due and sleeps again. With the default 5 s deadline a busy endpoint's chains
/// finish and disarm long before the watchdog wakes, so a trivial hook costs a lock and a clock read instead of
/// a timer task (docs/benchmarks.md, "Hooks").
final class HookWatchdog: Sendable {
    /// The watchdog every chain run uses.
    static let shared = HookWatchdog()

    typealias Instant = ContinuousClock.Instant

    private struct Entry {
        var deadline: Instant
        let fire: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        /// When the sleeping task looks next; nil when no task sleeps.
        var wake: Instant?
        var sleeper: Task<Void, Never>?
        /// Bumped when a sleeper is replaced, so a replaced one that wakes anyway does nothing.
        var generation: UInt64 = 0
    }

    private let state = HookLock(State())

    /// Registers `fire` to run once at `deadline` unless disarmed first; returns the entry's id.
    func arm(deadline: Instant, fire: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(deadline: deadline, fire: fire)
            if state.wake.map({ deadline < $0 }) ?? true {
                startSleeper(&state, until: deadline)
            }
            return id
        }
    }

    /// Removes an entry; its `fire` will not run (unless it is running already).
    func disarm(_ id: UInt64) {
        state.withLock { _ = $0.entries.removeValue(forKey: id) }
    }

    /// How many entries are armed (tests).
    var armedCount: Int { state.withLock { $0.entries.count } }

    private func startSleeper(_ state: inout State, until wake: Instant) {
        state.sleeper?.cancel()
        state.generation += 1
        let generation = state.generation
        state.wake = wake
        state.sleeper = Task.detached { [self] in
            await self.sleepLoop(generation: generation, firstWake: wake)
        }
    }

    private func sleepLoop(generation: UInt64, firstWake: Instant) async {
        var wake = firstWake
        while true {
            do {
                try await Task.sleep(until: wake, clock: .continuous)
            } catch {
                return  // Replaced by a sleeper with an earlier wake.
            }
            let now = ContinuousClock.now
            let (due, next): ([@Sendable () -> Void], Instant?) = state.withLock { state in
                guard state.generation == generation else { return ([], nil) }
                var due: [@Sendable () -> Void] = []
                var next: Instant?
                for (id, entry) in state.entries {
                    if entry.deadline <= now {
                        due.append(entry.fire)
                        state.entries.removeValue(forKey: id)
                    } else {
                        next = min(next ?? entry.deadline, entry.deadline)
                    }
                }
                state.wake = next
                if next == nil { state.sleeper = nil }
                return (due, next)
            }
            for fire in due { fire() }
            guard let next else { return }
            wake = next
        }
    }
}
