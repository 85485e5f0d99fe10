/// A table under construction, with the bookkeeping that TOML v1.0.0's "define each table once" rules need.
///
/// The rules (TOML v1.0.0 §Table, §Inline Table, §Array of Tables), as `tomllib` and toml-test read them:
/// - `[a.b]` implicitly creates `a`, which one later `[a]` header may still define; nothing may define `a.b` again.
/// - Dotted keys (`b.c = 1`) create tables that further dotted keys in the same section may extend; once the
///   section ends they are defined, so `[a.b]` is then a redefinition. `[a.b.d]` may still add a sub-table.
/// - Dotted keys may not add to a table a header or another section defined.
/// - Inline tables and inline arrays are complete once written: nothing may add to them.
/// - `[[a]]` appends a fresh table to the array of tables `a`; `[a.b]` after it refers to that last element.
///
/// Nodes are classes so a header or dotted key can be resolved once and then filled in place; `makeTable()`
/// turns the finished tree into the value types the configuration reader uses.
final class TOMLTableNode {
    /// What created the table, which decides what may still add to it.
    enum Origin: Equatable {
        /// The document's root table.
        case root
        /// Created as the parent of a header (`a` for `[a.b]`); one `[a]` header may still define it.
        case implicit
        /// Defined by its own `[a]` header.
        case header
        /// Created by a dotted key in section (or inline table) `scope`; only that scope may extend it.
        case dotted(scope: Int)
        /// One element of a `[[a]]` array of tables.
        case arrayElement
        /// Filled by one inline table `{ … }`.
        case inline
    }

    /// An array of tables made by `[[a]]` headers, which later headers may append to.
    final class TableArray {
        /// The elements in order; never empty.
        var elements: [TOMLTableNode]
        /// The line of the first `[[a]]` header.
        let line: Int

        init(first: TOMLTableNode, line: Int) {
            self.elements = [first]
            self.line = line
        }
    }

    /// What a key holds while the document is parsed.
    enum Slot {
        /// A finished value: a string, number, boolean, inline array or inline table (nothing may add to it).
        case value(TOMLValue)
        /// A table that headers or dotted keys may still add to, within the rules above.
        case table(TOMLTableNode)
        /// An array of tables that `[[a]]` headers may append to.
        case tableArray(TableArray)
    }

    struct Entry {
        let key: String
        /// The line of the key or header that defined the entry.
        var line: Int
        let slot: Slot
    }

    var origin: Origin
    /// The line of the header, dotted key or `{` that defined the table.
    var line: Int
    /// How many tables, arrays and inline tables enclose this one.
    let depth: Int
    private var entries: [Entry] = []
    /// Entry positions by the key's UTF-8 bytes: TOML keys are distinct unless they are the same code points,
    /// while Swift's `String ==` would merge canonically equivalent keys (`"é"` and `"e\u{301}"`).
    private var positions: [[UInt8]: Int] = [:]

    init(origin: Origin, line: Int, depth: Int) {
        self.origin = origin
        self.line = line
        self.depth = depth
    }

    /// The finished table.
    func makeTable() -> TOMLTable {
        var table = TOMLTable(line: line)
        for entry in entries {
            let value: TOMLValue
            switch entry.slot {
            case .value(let finished):
                value = finished
            case .table(let child):
                value = TOMLValue(.table(child.makeTable()), line: child.line)
            case .tableArray(let array):
                let elements = array.elements.map { TOMLValue(.table($0.makeTable()), line: $0.line) }
                value = TOMLValue(.array(elements), line: array.line)
            }
            table.append(entry.key, value, line: entry.line)
        }
        return table
    }

    // MARK: Headers

    /// Resolves `[path]`, defining the table it names (TOML v1.0.0 §Table).
    func defineTable(_ path: [String], line: Int) throws(TOMLSyntaxError) -> TOMLTableNode {
        guard let key = path.last else { return self }
        let parent = try resolveHeaderParent(path, line: line)
        guard let position = parent.position(of: key) else {
            return try parent.addTable(key, origin: .header, line: line)
        }
        let entry = parent.entries[position]
        switch entry.slot {
        case .table(let existing) where existing.origin == .implicit:
            existing.origin = .header
            existing.line = line
            parent.entries[position].line = line
            return existing
        case .table(let existing):
            throw TOMLSyntaxError(line: line, problem: .duplicateTable(TOMLKeyPath.display(path), firstLine: existing.line))
        case .tableArray(let array):
            throw TOMLSyntaxError(line: line, problem: .duplicateTable(TOMLKeyPath.display(path), firstLine: array.line))
        case .value(let value):
            let name = TOMLKeyPath.display(path)
            if case .table = value.kind {
                throw TOMLSyntaxError(line: line, problem: .inlineValueExtended(name, firstLine: entry.line))
            }
            throw TOMLSyntaxError(line: line, problem: .notATable(name, firstLine: entry.line))
        }
    }

    /// Resolves `[[path]]`, appending a new element to the array of tables it names (TOML v1.0.0 §Array of
    /// Tables).
    func appendArrayElement(_ path: [String], line: Int) throws(TOMLSyntaxError) -> TOMLTableNode {
        guard let key = path.last else { return self }
        let parent = try resolveHeaderParent(path, line: line)
        try Self.checkDepth(parent.depth + 1, line: line)
        let element = TOMLTableNode(origin: .arrayElement, line: line, depth: parent.depth + 1)
        guard let position = parent.position(of: key) else {
            parent.append(Entry(key: key, line: line, slot: .tableArray(TableArray(first: element, line: line))))
            return element
        }
        let entry = parent.entries[position]
        let name = TOMLKeyPath.display(path)
        switch entry.slot {
        case .tableArray(let array):
            array.elements.append(element)
            return element
        case .table(let existing):
            throw TOMLSyntaxError(line: line, problem: .notAnArrayOfTables(name, firstLine: existing.line))
        case .value(let value):
            switch value.kind {
            case .array, .table:
                throw TOMLSyntaxError(line: line, problem: .inlineValueExtended(name, firstLine: entry.line))
            default:
                throw TOMLSyntaxError(line: line, problem: .notAnArrayOfTables(name, firstLine: entry.line))
            }
        }
    }

    /// Walks (creating implicit tables) to the table that will hold the last key of a header's path.
    private func resolveHeaderParent(_ path: [String], line: Int) throws(TOMLSyntaxError) -> TOMLTableNode {
        var node = self
        for (offset, key) in path.dropLast().enumerated() {
            guard let position = node.position(of: key) else {
                node = try node.addTable(key, origin: .implicit, line: line)
                continue
            }
            let entry = node.entries[position]
            switch entry.slot {
            case .table(let child):
                node = child
            case .tableArray(let array):
                guard let last = array.elements.last else { return node }
                node = last
            case .value(let value):
                throw TOMLSyntaxError(line: line, problem: Self.notExtensible(value, name: path.prefix(offset + 1), firstLine: entry.line))
            }
        }
        return node
    }

    // MARK: Key/value pairs

    /// Adds `key = value` to this table, where `key` may be dotted (TOML v1.0.0 §Keys).
    ///
    /// `scope` identifies the section or inline table being read: dotted keys may extend tables that dotted keys of
    /// the same scope created, and no others. `tablePath` is this table's own path, only for messages.
    func insert(_ value: TOMLValue, at key: [String], line: Int, scope: Int, tablePath: [String]) throws(TOMLSyntaxError) {
        guard let lastKey = key.last else { return }
        var node = self
        for (offset, part) in key.dropLast().enumerated() {
            let name = tablePath + key.prefix(offset + 1)
            guard let position = node.position(of: part) else {
                node = try node.addTable(part, origin: .dotted(scope: scope), line: line)
                continue
            }
            let entry = node.entries[position]
            switch entry.slot {
            case .table(let child):
                switch child.origin {
                case .dotted(let owner) where owner == scope:
                    break
                case .implicit:
                    // `[a.b.c]` then `[a]` with `b.d = 1`: `a.b` was never defined, so this section defines it.
                    child.origin = .dotted(scope: scope)
                    child.line = line
                    node.entries[position].line = line
                default:
                    throw TOMLSyntaxError(line: line, problem: .dottedKeyExtendsTable(TOMLKeyPath.display(name), firstLine: child.line))
                }
                node = child
            case .tableArray(let array):
                throw TOMLSyntaxError(line: line, problem: .dottedKeyExtendsTable(TOMLKeyPath.display(name), firstLine: array.line))
            case .value(let existing):
                throw TOMLSyntaxError(line: line, problem: Self.notExtensible(existing, name: name, firstLine: entry.line))
            }
        }
        if let position = node.position(of: lastKey) {
            let name = TOMLKeyPath.display(tablePath + key)
            throw TOMLSyntaxError(line: line, problem: .duplicateKey(name, firstLine: node.entries[position].line))
        }
        node.append(Entry(key: lastKey, line: line, slot: .value(value)))
    }

    // MARK: Helpers

    private func position(of key: String) -> Int? {
        positions[Array(key.utf8)]
    }

    private func append(_ entry: Entry) {
        positions[Array(entry.key.utf8)] = entries.count
        entries.append(entry)
    }

    private func addTable(_ key: String, origin: Origin, line: Int) throws(TOMLSyntaxError) -> TOMLTableNode {
        try Self.checkDepth(depth + 1, line: line)
        let child = TOMLTableNode(origin: origin, line: line, depth: depth + 1)
        append(Entry(key: key, line: line, slot: .table(child)))
        return child
    }

    /// Refuses nesting past `TOMLParser.maximumDepth`, so a hostile file cannot exhaust the stack of the
    /// recursive parts (`makeTable`, value parsing, deinitialisation).
    static func checkDepth(_ depth: Int, line: Int) throws(TOMLSyntaxError) {
        guard depth <= TOMLParser.maximumDepth else {
            throw TOMLSyntaxError(line: line, problem: .nestingTooDeep(limit: TOMLParser.maximumDepth))
        }
    }

    /// The problem with walking through a finished value as if it were a table.
    private static func notExtensible(_ value: TOMLValue, name: some Sequence<String>, firstLine: Int) -> TOMLSyntaxProblem {
        switch value.kind {
        case .table, .array: .inlineValueExtended(TOMLKeyPath.display(name), firstLine: firstLine)
        default: .notATable(TOMLKeyPath.display(name), firstLine: firstLine)
        }
    }
}
