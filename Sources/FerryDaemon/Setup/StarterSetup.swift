import FerryCrypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What `ferry init` does: writes a commented starter `ferryd.toml` and a fresh Ed25519 key into one directory.
///
/// It lives in the library rather than in the `ferry` executable so that tests can run it without a process,
/// and so that both files are judged together: if either exists, nothing is written. Losing a key means losing
/// the endpoint's address, and silently replacing an edited configuration loses policy, so neither is ever
/// overwritten. Both files are created with `O_CREAT | O_EXCL`, which also closes the race with a concurrent
/// writer or a planted symlink between the check and the write.
public enum StarterSetup {
    /// The name of the configuration file `ferry init` writes.
    public static let configFileName = "ferryd.toml"
    /// The name of the key file; the starter configuration names it relative to itself.
    public static let keyFileName = "ferry.key"

    /// Writes `ferryd.toml` (mode 0644) and `ferry.key` (mode 0600) into `directory`, creating it if needed.
    ///
    /// Refuses with `.fileExists` before writing anything when either file (or a symlink by that name) is
    /// already there. If the key cannot be written after the configuration was, the configuration is removed
    /// again, so a failure never leaves half a setup behind.
    public static func write(in directory: String) throws(StarterSetupError) -> StarterFiles {
        let directory = directory.isEmpty ? "." : directory
        let configPath = directory + "/" + configFileName
        let keyPath = directory + "/" + keyFileName
        for path in [configPath, keyPath] where exists(path) {
            throw .fileExists(path: path)
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateDirectory(path: directory, reason: "\(error.localizedDescription)")
        }
        try writeNewFile(configPath, contents: makeConfig(), mode: 0o644)
        let identity = EndpointIdentity.generate()
        do {
            try identity.save(toFile: keyPath)
        } catch {
            unlink(configPath)
            if case .fileExists(let path) = error { throw .fileExists(path: path) }
            throw .keyNotWritten(error)
        }
        return StarterFiles(configPath: configPath, keyPath: keyPath, id: identity.id)
    }

    /// The starter configuration: loopback only, an `echo` service and a `log` hook, every key commented.
    ///
    /// It is deliberately close to `Config/ferryd.toml` (which the Debian package installs as
    /// `/etc/ferry/ferryd.toml`) but written for a directory of one's own: the key and the control socket sit
    /// next to the file, which is how ferryd resolves relative paths outside systemd. Tests check that it passes
    /// `ferryd --check-config`.
    public static func makeConfig() -> String {
        """
        # ferryd configuration written by `ferry init` (docs/config.md and ferryd.toml(5) document every key).
        #
        # Safe to run as is: it listens on loopback only, exposes an echo service for smoke tests,
        # opens no tunnels and logs every connection decision. Relative paths are resolved against
        # the directory of this file.
        #   ferryd --check-config ferryd.toml     check a change
        #   ferryd --config ferryd.toml           run
        #   ferry status --config ferryd.toml     ask the running daemon

        [endpoint]
        # The Ed25519 identity written next to this file; the endpoint id is its public key
        # (`ferry id --key ferry.key`). Keep it secret and keep a copy: peers dial the id.
        key_file = "\(keyFileName)"
        # UDP addresses to bind (IP literals). Use "0.0.0.0:7777" or "[::]:7777" to accept peers.
        listen = ["127.0.0.1:7777"]
        # Relays that let peers reach this endpoint by id alone, behind NATs (docs/relay.md):
        # relays = ["<64-hex relay id>@relay.example.net:443"]
        # How long one policy hook may take; a hook past its deadline counts as a rejection.
        hook_timeout = "5s"
        # How long a graceful shutdown (SIGTERM) may take before connections are dropped.
        shutdown_timeout = "10s"

        [control]
        # Unix socket for `ferry status|connections|remotes|reload|check-config` (mode 0600).
        socket = "ferryd.sock"

        # [metrics]
        # Prometheus text format on GET /metrics; omit the section to disable.
        # listen = "127.0.0.1:9477"

        [logging]
        # "logfmt" or "json", one line per event on stderr.
        format = "logfmt"
        # trace, debug, info, notice, warning, error, critical
        level = "info"

        # Services expose a local TCP service to peers on ALPN "ferry/tcp/<name>".
        # The echo service writes every stream's bytes back:
        #   echo hi | ferry connect "$(ferry id --key ferry.key)@127.0.0.1:7777" echo
        [[services]]
        name = "echo"
        type = "echo"

        # [[services]]
        # name = "ssh"
        # forward = "127.0.0.1:22"

        # Tunnels: a local TCP port whose connections reach a peer's service.
        # [[tunnels]]
        # listen = "127.0.0.1:2222"
        # peer = "<64-hex endpoint id>@host:7777"
        # service = "ssh"

        # The hook chain runs in order; the first rejection wins.
        [[hooks]]
        type = "log"

        # Only let these endpoints in (after the TLS handshake proved their ids):
        # [[hooks]]
        # type = "allow-endpoints"
        # endpoints = ["<64-hex endpoint id>"]

        """
    }

    /// Whether anything, a dangling symlink included, is at `path`.
    private static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Creates `path` exclusively with `mode` and writes `contents`; removes a partly written file.
    private static func writeNewFile(_ path: String, contents: String, mode: mode_t) throws(StarterSetupError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw .fileExists(path: path) }
            throw .writeFailed(path: path, errno: code)
        }
        let bytes = Array(contents.utf8)
        var written = 0
        var failure: Int32 = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                systemWrite(descriptor, buffer.baseAddress.map { $0 + written }, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            written += count
        }
        if close(descriptor) != 0, failure == 0 { failure = errno }
        if failure != 0 {
            unlink(path)
            throw .writeFailed(path: path, errno: failure)
        }
    }
}

/// write(2), named apart from `StarterSetup.write(in:)`, which would shadow it inside the type.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// The files `StarterSetup.write(in:)` created and the new endpoint's id.
public struct StarterFiles: Sendable, Equatable {
    /// The starter configuration, `DIR/ferryd.toml`.
    public var configPath: String
    /// The new key, `DIR/ferry.key` (mode 0600).
    public var keyPath: String
    /// The endpoint id: the key's public half, which peers dial.
    public var id: EndpointID
}

/// Why `ferry init` wrote nothing (or removed what it had written).
public enum StarterSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration or the key is already there; `ferry init` never overwrites either.
    case fileExists(path: String)
    /// The directory could not be created.
    case cannotCreateDirectory(path: String, reason: String)
    /// Creating or writing the configuration failed; `errno` is the failing system call's error.
    case writeFailed(path: String, errno: Int32)
    /// The key could not be written (the configuration was removed again).
    case keyNotWritten(IdentityError)

    public var description: String {
        switch self {
        case .fileExists(let path):
            "\(path) already exists; ferry init never overwrites a configuration or a key (move it away first)"
        case .cannotCreateDirectory(let path, let reason):
            "cannot create directory \(path): \(reason)"
        case .writeFailed(let path, let code):
            "cannot write \(path): \(String(cString: strerror(code)))"
        case .keyNotWritten(let error):
            "\(error)"
        }
    }
}
