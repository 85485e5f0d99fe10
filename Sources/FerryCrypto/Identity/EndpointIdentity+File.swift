#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension EndpointIdentity {
    /// The largest key file Ferry reads; a PKCS#8 Ed25519 PEM is about 120 bytes.
    static let maximumKeyFileSize = 64 * 1024

    /// Loads a PKCS#8 PEM key file, refusing one that group or others can read or write.
    ///
    /// The permission check mirrors OpenSSH's: a secret key that other users can read is no longer secret, and
    /// failing loudly beats running with a leaked identity. The mode is checked on the open descriptor, so the
    /// file cannot be swapped between the check and the read.
    public static func load(fromFile path: String) throws(IdentityError) -> EndpointIdentity {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw .fileNotFound(path: path) }
            throw .unreadable(path: path, errno: code)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(path: path, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path: path) }
        let permissions = UInt32(status.st_mode) & 0o777
        guard permissions & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: permissions) }

        var contents = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, errno: errno)
            }
            if count == 0 { break }
            contents.append(contentsOf: chunk[0..<count])
            guard contents.count <= maximumKeyFileSize else { throw .notPEM(path: path) }
        }
        defer { wipe(&contents) }
        guard let text = String(validating: contents, as: UTF8.self) else { throw .notPEM(path: path) }
        return try EndpointIdentity(pem: text, path: path)
    }

    /// Writes the key as PKCS#8 PEM to a new file with mode 0600; never overwrites an existing file.
    ///
    /// `O_CREAT | O_EXCL` makes creation atomic, so a concurrent writer or a pre-planted symlink cannot redirect
    /// the secret. A partly written file is removed.
    public func save(toFile path: String) throws(IdentityError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw .fileExists(path: path) }
            throw .writeFailed(path: path, errno: code)
        }
        var bytes: [UInt8]
        do {
            bytes = Array(try pemEncoded().utf8)
        } catch {
            close(descriptor)
            unlink(path)
            throw error
        }
        defer { Self.wipe(&bytes) }
        var written = 0
        var failure: Int32 = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress.map { $0 + written }, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            written += count
        }
        if failure == 0, fsync(descriptor) != 0 { failure = errno }
        if close(descriptor) != 0, failure == 0 { failure = errno }
        if failure != 0 {
            unlink(path)
            throw .writeFailed(path: path, errno: failure)
        }
    }

    /// Overwrites a buffer that held secret material.
    private static func wipe(_ bytes: inout [UInt8]) {
        for index in bytes.indices { bytes[index] = 0 }
    }
}
