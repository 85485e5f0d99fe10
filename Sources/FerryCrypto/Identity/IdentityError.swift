/// Why an Ed25519 identity could not be created, loaded, saved or turned into a certificate.
///
/// Every case carries what an operator needs to fix the problem (the path, the mode, the key type), and
/// `description` is a complete sentence suitable for a command-line error message.
public enum IdentityError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The key file does not exist.
    case fileNotFound(path: String)
    /// The key file exists but could not be opened or read; `errno` is the failing system call's error.
    case unreadable(path: String, errno: Int32)
    /// The path names something other than a regular file (a directory, a device).
    case notRegularFile(path: String)
    /// The key file can be read (or written) by group or others; Ferry refuses to use such a secret.
    /// `mode` holds the permission bits, e.g. `0o644`.
    case insecurePermissions(path: String, mode: UInt32)
    /// The text holds no PEM block at all. `path` is nil when the PEM came from memory.
    case notPEM(path: String?)
    /// The text is PEM but not a private key (for example a certificate or a public key).
    case notPrivateKey(path: String?)
    /// The private key is encrypted with a passphrase; Ferry needs an unencrypted PKCS#8 key.
    case encryptedKey(path: String?)
    /// The private key is of another algorithm; `keyType` is OpenSSL's name for it (e.g. "RSA").
    case wrongKeyType(path: String?, keyType: String)
    /// A raw secret key seed was not exactly 32 bytes (RFC 8032 §5.1.5).
    case invalidSeedLength(Int)
    /// `save(toFile:)` never overwrites: the file already exists.
    case fileExists(path: String)
    /// Creating or writing the key file failed; `errno` is the failing system call's error.
    case writeFailed(path: String, errno: Int32)
    /// An OpenSSL or libsodium call failed; `operation` names it. Only memory exhaustion should cause this.
    case cryptoFailure(operation: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "key file \(path) does not exist"
        case .unreadable(let path, let code):
            return "key file \(path) cannot be read: \(Self.errnoText(code))"
        case .notRegularFile(let path):
            return "key file \(path) is not a regular file"
        case .insecurePermissions(let path, let mode):
            let octal = "0" + String(mode & 0o777, radix: 8)
            let what = mode & 0o044 != 0 ? "readable" : "writable"
            return "key file \(path) has mode \(octal); it must not be \(what) by group or others "
                + "(run: chmod 600 \(path))"
        case .notPEM(let path):
            return "\(Self.subject(path)) is not PEM; expected a \"BEGIN PRIVATE KEY\" block "
                + "(create one with: ferry keygen, or openssl genpkey -algorithm ed25519)"
        case .notPrivateKey(let path):
            return "\(Self.subject(path)) holds no private key; expected a PKCS#8 \"BEGIN PRIVATE KEY\" block"
        case .encryptedKey(let path):
            return "\(Self.subject(path)) holds an encrypted private key; Ferry needs an unencrypted PKCS#8 Ed25519 key"
        case .wrongKeyType(let path, let keyType):
            let article = keyType.first.map { "AEFHILMNORSX".contains($0) } == true ? "an" : "a"
            return "\(Self.subject(path)) holds \(article) \(keyType) key; Ferry needs Ed25519"
        case .invalidSeedLength(let count):
            return "an Ed25519 secret key seed is 32 bytes, not \(count)"
        case .fileExists(let path):
            return "key file \(path) already exists; refusing to overwrite it"
        case .writeFailed(let path, let code):
            return "cannot write key file \(path): \(Self.errnoText(code))"
        case .cryptoFailure(let operation):
            return "cryptographic library call \(operation) failed"
        }
    }

    private static func subject(_ path: String?) -> String {
        path.map { "key file \($0)" } ?? "the PEM text"
    }

    private static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
