import Ferry

/// Reads typed settings out of one TOML table, naming the file, line and key in every error.
///
/// Each table's allowed keys are declared up front, so a misspelt key is an error rather than a silently
/// ignored setting (the most common way a daemon ends up running with a policy its operator did not write).
package struct ConfigReader {
    package let table: TOMLTable
    package let file: String
    /// The directory relative paths are resolved against.
    package let directory: String

    package init(table: TOMLTable, file: String, directory: String) {
        self.table = table
        self.file = file
        self.directory = directory
    }

    package func error(_ key: String?, line: Int? = nil, _ problem: ConfigProblem) -> ConfigError {
        let resolvedLine = line ?? key.flatMap { table.entry($0)?.line } ?? table.line
        return ConfigError(file: file, line: resolvedLine, key: key, problem: problem)
    }

    /// Fails on the first key not in `allowed`.
    package func requireOnly(_ allowed: Set<String>) throws(ConfigError) {
        for entry in table.entries where !allowed.contains(entry.key) {
            throw ConfigError(file: file, line: entry.line, key: entry.key, problem: .unknownKey)
        }
    }

    package func value(_ key: String) -> TOMLValue? { table[key] }

    package func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = table[key] else { return nil }
        guard case .string(let text) = value.kind else {
            throw error(key, .wrongType(expected: "a string", found: value.typeName))
        }
        return text
    }

    package func requiredString(_ key: String) throws(ConfigError) -> String {
        guard let text = try string(key) else { throw error(key, line: table.line, .missingKey) }
        return text
    }

    package func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard case .boolean(let flag) = value.kind else {
            throw error(key, .wrongType(expected: "a boolean", found: value.typeName))
        }
        return flag
    }

    package func integer(_ key: String, range: ClosedRange<Int64>) throws(ConfigError) -> Int? {
        guard let value = table[key] else { return nil }
        guard case .integer(let number) = value.kind else {
            throw error(key, .wrongType(expected: "an integer", found: value.typeName))
        }
        guard range.contains(number) else {
            throw error(key, .outOfRange("\(number)", range: "\(range.lowerBound)…\(range.upperBound)"))
        }
        return Int(number)
    }

    package func number(_ key: String, range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let value = table[key] else { return nil }
        let number: Double
        switch value.kind {
        case .integer(let integer): number = Double(integer)
        case .float(let float): number = float
        default: throw error(key, .wrongType(expected: "a number", found: value.typeName))
        }
        guard range.contains(number) else {
            throw error(key, .outOfRange("\(number)", range: "\(range.lowerBound)…\(range.upperBound)"))
        }
        return number
    }

    /// An array of strings; each element's own line is used for errors about it.
    package func strings(_ key: String) throws(ConfigError) -> [(String, Int)]? {
        guard let value = table[key] else { return nil }
        guard case .array(let elements) = value.kind else {
            throw error(key, .wrongType(expected: "an array of strings", found: value.typeName))
        }
        var result: [(String, Int)] = []
        for element in elements {
            guard case .string(let text) = element.kind else {
                throw error(key, line: element.line, .wrongType(expected: "a string", found: element.typeName))
            }
            result.append((text, element.line))
        }
        return result
    }

    package func duration(_ key: String) throws(ConfigError) -> Duration? {
        guard let text = try string(key) else { return nil }
        guard let duration = DurationText.parse(text) else { throw error(key, .invalidDuration(text)) }
        return duration
    }

    package func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws(ConfigError) -> T?
    where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = T(rawValue: text) else {
            throw error(key, .invalidChoice(text, allowed: T.allCases.map(\.rawValue)))
        }
        return choice
    }

    /// An IP-literal `host:port` (sockets are bound, never resolved).
    package func socketAddress(_ text: String, key: String, line: Int? = nil) throws(ConfigError) -> HostPort {
        let address: HostPort
        do {
            address = try HostPort(parsing: text)
        } catch {
            throw self.error(key, line: line, .invalidAddress(text, reason: error.description))
        }
        guard address.ipAddress != nil else {
            throw self.error(key, line: line, .invalidAddress(text, reason: "the host must be an IP address"))
        }
        return address
    }

    /// A `host:port` that may name a host (for `forward`, resolved when connecting).
    package func hostAddress(_ text: String, key: String) throws(ConfigError) -> HostPort {
        do {
            return try HostPort(parsing: text)
        } catch {
            throw self.error(key, .invalidAddress(text, reason: error.description))
        }
    }

    /// Resolves `path` against the configuration directory unless it is absolute.
    package func resolve(_ path: String) -> String {
        ConfigReader.resolve(path, directory: directory)
    }

    package static func resolve(_ path: String, directory: String) -> String {
        if path.hasPrefix("/") || directory.isEmpty { return path }
        var path = Substring(path)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        let directory = directory == "." ? "" : directory
        if directory.isEmpty { return String(path) }
        return directory.hasSuffix("/") ? directory + path : directory + "/" + path
    }

    /// A sub-table `[name]`, or nil when absent.
    package func subtable(_ key: String) throws(ConfigError) -> ConfigReader? {
        guard let value = table[key] else { return nil }
        guard case .table(let child) = value.kind else {
            throw error(key, .wrongType(expected: "a table ([\(key)])", found: value.typeName))
        }
        return ConfigReader(table: child, file: file, directory: directory)
    }

    /// The elements of an array of tables `[[name]]`.
    package func tableArray(_ key: String) throws(ConfigError) -> [ConfigReader] {
        guard let value = table[key] else { return [] }
        guard case .array(let elements) = value.kind else {
            throw error(key, .wrongType(expected: "an array of tables ([[\(key)]])", found: value.typeName))
        }
        var result: [ConfigReader] = []
        for element in elements {
            guard case .table(let child) = element.kind else {
                throw error(key, line: element.line, .wrongType(expected: "a table ([[\(key)]])", found: element.typeName))
            }
            result.append(ConfigReader(table: child, file: file, directory: directory))
        }
        return result
    }
}
