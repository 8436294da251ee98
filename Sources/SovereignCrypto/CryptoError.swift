import SovereignSystem

/// Every failure SovereignCrypto reports. Each case names the thing
/// (a path, a key id, a field) and the reason, so the CLI can print
/// `sovereign: <thing>: <reason>` once.
public enum CryptoError: SovereignError, Sendable, Equatable {
    /// A system call failed while reading or writing key material or data.
    case system(SystemError)
    /// A key file or public key is not in a form we accept.
    case malformedKey(source: String, reason: String)
    /// The passphrase does not open the encrypted key.
    case wrongPassphrase(source: String)
    /// A passphrase was unusable (empty, too long).
    case unusablePassphrase(reason: String)
    /// A signature file or envelope is not in a form we accept.
    case malformedSignature(source: String, reason: String)
    /// A library call failed unexpectedly (out of memory in Argon2id, …).
    case library(operation: String, reason: String)

    public var thing: String {
        switch self {
        case .system(let error): return error.path
        case .malformedKey(let source, _), .wrongPassphrase(let source),
             .malformedSignature(let source, _):
            return source
        case .unusablePassphrase: return "passphrase"
        case .library(let operation, _): return operation
        }
    }

    public var reason: String {
        switch self {
        case .system(let error): return error.reason
        case .malformedKey(_, let reason), .malformedSignature(_, let reason),
             .library(_, let reason), .unusablePassphrase(let reason):
            return reason
        case .wrongPassphrase: return "wrong passphrase (or the key file was altered)"
        }
    }

}
