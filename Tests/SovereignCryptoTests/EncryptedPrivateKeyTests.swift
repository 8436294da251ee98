import Foundation
import Testing
@testable import SovereignCrypto

@Suite struct EncryptedPrivateKeyTests {
    let passphrase = Array("correct horse battery staple".utf8)

    @Test func sealsAndOpens() throws {
        let key = Ed25519.PrivateKey()
        let sealed = try EncryptedPrivateKey(sealing: key, passphrase: passphrase, strength: .interactive)
        let reparsed = try EncryptedPrivateKey(json: sealed.jsonBytes(), source: "k.key")
        let opened = try reparsed.open(passphrase: passphrase, source: "k.key")
        #expect(opened.seed == key.seed)
        #expect(reparsed.keyid == key.publicKey.keyID)
        // The seed never appears in the file.
        #expect(!String(decoding: sealed.jsonBytes(), as: UTF8.self).contains(Base64.encode(key.seed)))
    }

    @Test func wrongPassphraseIsRefused() throws {
        let sealed = try EncryptedPrivateKey(sealing: Ed25519.PrivateKey(), passphrase: passphrase, strength: .interactive)
        #expect(throws: CryptoError.wrongPassphrase(source: "k.key")) {
            try sealed.open(passphrase: Array("wrong".utf8), source: "k.key")
        }
        #expect(throws: CryptoError.unusablePassphrase(reason: "is empty")) {
            try sealed.open(passphrase: [], source: "k.key")
        }
    }

    @Test func emptyPassphraseCannotSeal() {
        #expect(throws: CryptoError.unusablePassphrase(reason: "is empty")) {
            try EncryptedPrivateKey(sealing: Ed25519.PrivateKey(), passphrase: [], strength: .interactive)
        }
    }

    @Test func alteredCiphertextOrSwappedPublicKeyIsCaught() throws {
        let sealed = try EncryptedPrivateKey(sealing: Ed25519.PrivateKey(), passphrase: passphrase, strength: .interactive)
        var flipped = sealed
        var bytes = Base64.decodeStrict(flipped.cipher.ciphertext)!
        bytes[5] ^= 1
        flipped.cipher.ciphertext = Base64.encode(bytes)
        #expect(throws: CryptoError.wrongPassphrase(source: "k.key")) { try flipped.open(passphrase: passphrase, source: "k.key") }

        // Another key's public half with a matching keyid: parses, but opening notices.
        var swapped = sealed
        let other = Ed25519.PrivateKey().publicKey
        swapped.publicKey = Base64.encode(other.rawRepresentation)
        swapped.keyid = other.keyID
        let reparsed = try EncryptedPrivateKey(json: swapped.jsonBytes(), source: "k.key")
        #expect(throws: CryptoError.malformedKey(source: "k.key", reason: "stored public key does not belong to the sealed private key")) {
            try reparsed.open(passphrase: passphrase, source: "k.key")
        }
    }

    @Test func rejectsMalformedFiles() throws {
        let sealed = try EncryptedPrivateKey(sealing: Ed25519.PrivateKey(), passphrase: passphrase, strength: .interactive)
        let good = String(decoding: sealed.jsonBytes(), as: UTF8.self)
        let cases: [(String, String)] = [
            ("", "not a Sovereign private key file (not valid JSON)"),
            (String(good.prefix(good.count / 2)), "not a Sovereign private key file (not valid JSON)"),
            (good.replacingOccurrences(of: "sovereign.private-key/v1", with: "other/v9"), "schema is 'other/v9', expected 'sovereign.private-key/v1'"),
            (good.replacingOccurrences(of: "\"opsLimit\" : 2", with: "\"opsLimit\" : 999"), "Argon2id limits (ops 999, memory 67108864) are out of range"),
            (good.replacingOccurrences(of: "\"keyid\" : \"", with: "\"keyid\" : \"0"), "keyid does not match the public key"),
            (good.replacingOccurrences(of: "\"kdf\"", with: "\"kdx\""), "not a Sovereign private key file (missing field 'kdf')"),
        ]
        for (text, reason) in cases {
            #expect(throws: CryptoError.malformedKey(source: "k.key", reason: reason)) {
                try EncryptedPrivateKey(json: Array(text.utf8), source: "k.key")
            }
        }
    }
}
