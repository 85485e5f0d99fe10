/// A binary min-heap of connection deadlines with lazy invalidation.
///
/// Each connection remembers the deadline it last scheduled; stale heap entries (superseded or for removed
/// connections) are skipped when they reach the top. `nextTimeout` is therefore O(1) amortised even with
/// thousands of connections, instead of a scan.
struct TimerHeap {
    struct Entry {
        var deadline: Instant
        var handle: ConnectionHandle
    }

    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var top: Entry? { entries.first }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadline < entries[parent].deadline else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func popTop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let result = entries[0]
        let last = entries.removeLast()
        guard !entries.isEmpty else { return result }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count && entries[left].deadline < entries[smallest].deadline { smallest = left }
            if right < entries.count && entries[right].deadline < entries[smallest].deadline { smallest = right }
            guard smallest != parent else { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return result
    }
}
