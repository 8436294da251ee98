import SovereignSystem
import SovereignCrypto

/// Reading keys named on the command line.
enum KeyLoading {
    /// Opens an encrypted private key file with the passphrase from the
    /// command line's source.
    static func privateKey(at path: String, arguments: ParsedArguments) throws(CLIError) -> Ed25519.PrivateKey {
        let source = try PassphraseSource.from(arguments)
        let sealed = try sealedKey(at: path)
        let passphrase = try source.read(purpose: path)
        do { return try sealed.open(passphrase: passphrase, source: path) } catch { throw CLIError.from(error) }
    }

    static func sealedKey(at path: String) throws(CLIError) -> EncryptedPrivateKey {
        let bytes = try readInput(path, limit: 1 << 20)
        do { return try EncryptedPrivateKey(json: bytes, source: path) } catch { throw CLIError.from(error) }
    }

    /// A public key file: PEM SubjectPublicKeyInfo or minisign's form.
    static func publicKey(at path: String) throws(CLIError) -> ParsedPublicKey {
        let bytes = try readInput(path, limit: 1 << 20)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .failure(thing: path, reason: "not a text public key file")
        }
        do { return try PublicKeyFile.parse(text, source: path) } catch { throw CLIError.from(error) }
    }
}

/// Reads a whole input file with a size cap, as a CLI error on failure.
func readInput(_ path: String, limit: Int = 64 << 20) throws(CLIError) -> [UInt8] {
    do { return try FileSystem.readFile(path, limit: limit) } catch { throw CLIError.from(error) }
}

/// Writes new files all-or-nothing (see AtomicFileWriter), as a CLI error.
func writeNewFiles(_ files: [(path: String, bytes: [UInt8], mode: UInt32)]) throws(CLIError) {
    var writer = AtomicFileWriter()
    do {
        for file in files {
            if FileSystem.exists(file.path) {
                throw CLIError.failure(thing: file.path, reason: "already exists; refusing to overwrite")
            }
            try writer.stage(file.bytes, at: file.path, mode: file.mode)
        }
        try writer.commit()
    } catch {
        throw CLIError.from(error)
    }
}
