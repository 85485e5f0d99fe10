/// A sorted set of disjoint, non-adjacent half-open ranges of stream offsets.
///
/// Used for out-of-order received data, acknowledged data above the acknowledged prefix, and data declared lost
/// (RFC 9000 §2.2, §13.3). The sets stay small in practice (one entry per gap), so a sorted array beats a tree
/// and does not allocate once its capacity is reached.
struct OffsetRangeSet: Equatable {
    private(set) var ranges: [Range<UInt64>] = []

    var isEmpty: Bool { ranges.isEmpty }
    var first: Range<UInt64>? { ranges.first }
    var count: Int { ranges.count }

    /// Index of the first range whose upper bound is ≥ `offset`.
    private func lowerIndex(_ offset: UInt64) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < offset { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Adds `range`, merging with overlapping or adjacent entries.
    mutating func insert(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        if let last = ranges.last, last.upperBound < range.lowerBound {
            ranges.append(range)
            return
        }
        let start = lowerIndex(range.lowerBound)
        var end = start
        var lower = range.lowerBound
        var upper = range.upperBound
        while end < ranges.count && ranges[end].lowerBound <= upper {
            lower = min(lower, ranges[end].lowerBound)
            upper = max(upper, ranges[end].upperBound)
            end += 1
        }
        if start == end {
            ranges.insert(lower..<upper, at: start)
        } else {
            ranges[start] = lower..<upper
            if end > start + 1 { ranges.removeSubrange((start + 1)..<end) }
        }
    }

    /// Removes every offset in `range`.
    mutating func remove(_ range: Range<UInt64>) {
        guard !range.isEmpty, !ranges.isEmpty else { return }
        var index = lowerIndex(range.lowerBound &+ 1)
        while index < ranges.count && ranges[index].lowerBound < range.upperBound {
            let current = ranges[index]
            if current.upperBound <= range.lowerBound {
                index += 1
                continue
            }
            let left = current.lowerBound..<max(current.lowerBound, range.lowerBound)
            let right = min(current.upperBound, range.upperBound)..<current.upperBound
            switch (left.isEmpty, right.isEmpty) {
            case (true, true):
                ranges.remove(at: index)
            case (false, true):
                ranges[index] = left
                index += 1
            case (true, false):
                ranges[index] = right
                index += 1
            case (false, false):
                ranges[index] = left
                ranges.insert(right, at: index + 1)
                index += 2
            }
        }
    }

    /// Removes everything below `offset`.
    mutating func removeBelow(_ offset: UInt64) {
        guard let first = ranges.first, first.lowerBound < offset else { return }
        remove(0..<offset)
    }

    /// Removes the leading ranges that start at or below `offset` and returns the offset they extend it to
    /// (one `removeSubrange` however many ranges merge).
    mutating func absorbLeading(from offset: UInt64) -> UInt64 {
        var end = offset
        var count = 0
        while count < ranges.count && ranges[count].lowerBound <= end {
            end = max(end, ranges[count].upperBound)
            count += 1
        }
        if count > 0 { ranges.removeSubrange(0..<count) }
        return end
    }

    /// Removes and returns the first range.
    mutating func popFirst() -> Range<UInt64>? {
        ranges.isEmpty ? nil : ranges.removeFirst()
    }

    /// Whether every offset of `range` is in the set.
    func contains(_ range: Range<UInt64>) -> Bool {
        if range.isEmpty { return true }
        let index = lowerIndex(range.lowerBound &+ 1)
        guard index < ranges.count else { return false }
        return ranges[index].lowerBound <= range.lowerBound && ranges[index].upperBound >= range.upperBound
    }

    mutating func removeAll() { ranges.removeAll(keepingCapacity: true) }
}
