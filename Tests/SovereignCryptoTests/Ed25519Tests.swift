import Testing
import SovereignTestSupport
@testable import SovereignCrypto

@Suite struct Ed25519Tests {
    /// RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte).
    @Test(arguments: [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ])
    func rfc8032Vectors(seed: String, publicKey: String, message: String, signature: String) throws {
        let key = try Ed25519.PrivateKey(seed: hexBytes(seed))
        #expect(Hex.encode(key.publicKey.rawRepresentation) == publicKey)
        let sig = key.signature(for: hexBytes(message))
        #expect(Hex.encode(sig) == signature)
        #expect(key.publicKey.isValidSignature(sig, for: hexBytes(message)))
    }

    @Test func rejectsAlteredMessageSignatureAndWrongKey() {
        let key = Ed25519.PrivateKey(), other = Ed25519.PrivateKey()
        let message = Array("release 42".utf8)
        let sig = key.signature(for: message)
        #expect(key.publicKey.isValidSignature(sig, for: message))
        for i in 0..<message.count {
            var altered = message
            altered[i] ^= 0x01
            #expect(!key.publicKey.isValidSignature(sig, for: altered))
        }
        for i in 0..<sig.count {
            var altered = sig
            altered[i] ^= 0x20
            #expect(!key.publicKey.isValidSignature(altered, for: message))
        }
        #expect(!other.publicKey.isValidSignature(sig, for: message))
        #expect(!key.publicKey.isValidSignature(Array(sig.prefix(63)), for: message))
    }

    @Test func keyIDIsSHA256OfRawPublicKey() throws {
        let key = try Ed25519.PrivateKey(seed: hexBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(key.publicKey.keyID == SHA256.hash(key.publicKey.rawRepresentation).hex)
        #expect(key.publicKey.keyID.count == 64)
    }

    @Test func rejectsWrongLengths() {
        #expect(throws: CryptoError.self) { try Ed25519.PrivateKey(seed: [UInt8](repeating: 1, count: 31)) }
        #expect(throws: CryptoError.self) { try Ed25519.PublicKey(rawRepresentation: [UInt8](repeating: 1, count: 33)) }
    }

    @Test func pemRoundTripAndOpenSSLForm() throws {
        let key = try Ed25519.PrivateKey(seed: hexBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        let pem = PublicKeyFile.pem(key.publicKey)
        // The RFC 8410 example key in OpenSSL's PEM form.
        #expect(pem == "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n")
        let parsed = try PublicKeyFile.parse(pem, source: "k.pub")
        #expect(parsed.key == key.publicKey)
        #expect(parsed.format == .pem)
    }

    @Test func pemRejectsOtherAlgorithms() {
        // A P-256 SubjectPublicKeyInfo.
        let p256 = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9
        q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==
        -----END PUBLIC KEY-----
        """
        #expect(throws: CryptoError.malformedKey(source: "p.pub", reason: "not an Ed25519 SubjectPublicKeyInfo (only Ed25519 keys are accepted)")) {
            try PublicKeyFile.parse(p256, source: "p.pub")
        }
    }
}
