import Glibc
import SovereignSystem
import SovereignCrypto

/// The key an appliance signs its log with, unattended.
///
/// It lives beside the log as `appliance.key` in the format Go's
/// `note.NewSigner` reads (`PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖
/// seed)>`), created on first use with O_EXCL and mode 0600, and never
/// replaced: a log that has entries and no key refuses to start rather than
/// start a second history under a new key. Its verifier key string goes to
/// `appliance.pub` (0644), which an auditor copies once and pins. The key
/// is refused if it is a symlink, not owned by the user running the log,
/// or readable by anyone else. See docs/log.md for the threat model.
public struct ApplianceKey: Sendable {
    public static let privateFileName = "appliance.key"
    public static let publicFileName = "appliance.pub"
    static let maxFileBytes = 1024

    public let verifierKey: NoteVerifierKey
    private let privateKey: Ed25519.PrivateKey

    /// The log's origin: the key's name and the first line of every checkpoint.
    public var origin: String { verifierKey.name }

    public init(origin: String, privateKey: Ed25519.PrivateKey) throws(LogError) {
        verifierKey = try NoteVerifierKey(name: origin, publicKey: privateKey.publicKey)
        self.privateKey = privateKey
    }

    /// A fresh key; the origin defaults to one derived from the key itself.
    public static func generate(origin: String? = nil) throws(LogError) -> ApplianceKey {
        let privateKey = Ed25519.PrivateKey()
        return try ApplianceKey(origin: origin ?? defaultOrigin(for: privateKey.publicKey), privateKey: privateKey)
    }

    /// `sovereign.appliance/log/<first 16 hex digits of SHA-256(public key)>`:
    /// unique per key, so two appliances never share an origin.
    public static func defaultOrigin(for publicKey: Ed25519.PublicKey) -> String {
        "sovereign.appliance/log/" + String(SHA256.hash(publicKey.rawRepresentation).hex.prefix(16))
    }

    /// Parses the Go `note` signer form, checking the key ID.
    init(parsingPrivateKey text: String, source: String) throws(LogError) {
        let parts = text.split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY" else {
            throw LogError(source, "not a note signer key (PRIVATE+KEY+<name>+<hex id>+<base64>)")
        }
        guard let seed = Base64.decodeStrict(String(parts[4])), seed.count == 1 + Ed25519.seedByteCount,
              seed[0] == NoteVerifierKey.ed25519Type else {
            throw LogError(source, "not an Ed25519 signer key (type 0x01 and a 32-byte seed expected)")
        }
        let privateKey: Ed25519.PrivateKey
        do { privateKey = try Ed25519.PrivateKey(seed: Array(seed[1...])) } catch { throw LogError(source, error.reason) }
        try self.init(origin: String(parts[2]), privateKey: privateKey)
        guard String(parts[3]) == verifierKey.keyIDHex else {
            throw LogError(source, "key ID \(parts[3]) does not match the key (it hashes to \(verifierKey.keyIDHex))")
        }
    }

    /// The secret in its file form.
    var encodedPrivateKey: String {
        "PRIVATE+KEY+\(origin)+\(verifierKey.keyIDHex)+\(Base64.encode([NoteVerifierKey.ed25519Type] + privateKey.seed))"
    }

    /// Signs a note's text.
    public func sign(_ text: [UInt8]) -> NoteSignature {
        NoteSignature(name: origin, keyID: verifierKey.keyID, signature: privateKey.signature(for: text))
    }

    /// Signs a checkpoint of this log.
    public func sign(_ checkpoint: Checkpoint) -> SignedCheckpoint {
        precondition(checkpoint.origin == origin, "a log signs only its own checkpoints")
        let text = checkpoint.text
        return SignedCheckpoint(checkpoint: checkpoint, note: SignedNote(text: text, signatures: [sign(text)]))
    }

    // MARK: - Files

    /// Reads a verifier key file (`appliance.pub`, or the copy an auditor pinned).
    public static func readVerifierKey(path: String) throws(LogError) -> NoteVerifierKey {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path, limit: maxFileBytes) } catch { throw LogError.from(error) }
        return try NoteVerifierKey(parsing: String(decoding: trimmingNewline(bytes), as: UTF8.self), source: path)
    }

    /// Loads `appliance.key` from the log directory, or creates it (and
    /// `appliance.pub`) when `mayCreate`; rewrites a missing `.pub` from the
    /// key, and refuses a `.pub` that names another key.
    static func loadOrCreate(in directory: borrowing DirectoryHandle, origin: String?,
                             mayCreate: Bool) throws(LogError) -> (key: ApplianceKey, created: Bool) {
        let keyName = Array(privateFileName.utf8), pubName = Array(publicFileName.utf8)
        let keyPath = directory.childPath(keyName)
        var created = false
        let key: ApplianceKey
        if try exists(keyName, in: directory) {
            key = try load(keyName, in: directory)
            if let origin, origin != key.origin {
                throw LogError(keyPath, "signs for log '\(key.origin)', not '\(origin)'")
            }
        } else {
            guard mayCreate else {
                throw LogError(keyPath, "missing, but the log already has entries: refusing to start a second history under a new key")
            }
            key = try generate(origin: origin)
            try write(Array((key.encodedPrivateKey + "\n").utf8), to: keyName, in: directory, mode: 0o600)
            created = true
        }
        let expected = key.verifierKey.encoded + "\n"
        if try exists(pubName, in: directory) {
            let pubPath = directory.childPath(pubName)
            let found = try NoteVerifierKey(parsing: String(decoding: trimmingNewline(try read(pubName, in: directory, limit: maxFileBytes)), as: UTF8.self),
                                            source: pubPath)
            guard found == key.verifierKey else {
                throw LogError(pubPath, "names key \(found.name)+\(found.keyIDHex), but \(privateFileName) is \(key.origin)+\(key.verifierKey.keyIDHex)")
            }
        } else {
            try write(Array(expected.utf8), to: pubName, in: directory, mode: 0o644)
        }
        do { try directory.sync() } catch { throw LogError.from(error) }
        return (key, created)
    }

    private static func load(_ name: [UInt8], in directory: borrowing DirectoryHandle) throws(LogError) -> ApplianceKey {
        let path = directory.childPath(name)
        let info: stat?
        do { info = try directory.status(name) } catch { throw LogError.from(error) }
        guard let info, (info.st_mode & S_IFMT) == S_IFREG else {
            throw LogError(path, "not a regular file (a symlink or something else is there)")
        }
        guard info.st_uid == geteuid() else {
            throw LogError(path, "owned by uid \(info.st_uid), not by the user running the log (\(geteuid()))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw LogError(path, "mode \(String(info.st_mode & 0o777, radix: 8)) lets others read or write it; the appliance key must be 0600")
        }
        var bytes = try read(name, in: directory, limit: maxFileBytes)
        defer { for i in bytes.indices { bytes[i] = 0 } }
        return try ApplianceKey(parsingPrivateKey: String(decoding: trimmingNewline(bytes), as: UTF8.self), source: path)
    }

    static func exists(_ name: [UInt8], in directory: borrowing DirectoryHandle) throws(LogError) -> Bool {
        do { return try directory.status(name) != nil } catch { throw LogError.from(error) }
    }

    /// Reads a whole small regular file below `directory`, never through a symlink.
    static func read(_ name: [UInt8], in directory: borrowing DirectoryHandle, limit: Int) throws(LogError) -> [UInt8] {
        do {
            let (file, size) = try directory.openRegularFile(name)
            defer { file.closeIgnoringErrors() }
            guard size <= Int64(limit) else {
                throw LogError(directory.childPath(name), "is \(size) bytes, more than the \(limit) allowed")
            }
            var bytes = [UInt8](repeating: 0, count: Int(size))
            let count = try bytes.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try file.readFully(into: raw) } }.get()
            return Array(bytes[..<count])
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError.from(error)
        }
    }

    /// Creates `name` (never replacing anything), writes and fsyncs it.
    static func write(_ bytes: [UInt8], to name: [UInt8], in directory: borrowing DirectoryHandle, mode: mode_t) throws(LogError) {
        do {
            let file = try directory.createFile(name, mode: mode)
            do {
                try file.writeAll(bytes)
                try file.sync()
                try file.close()
            } catch {
                file.closeIgnoringErrors()
                throw error
            }
        } catch {
            throw LogError.from(error)
        }
    }

    private static func trimmingNewline(_ bytes: [UInt8]) -> [UInt8] {
        bytes.last == 0x0A ? Array(bytes.dropLast()) : bytes
    }
}
