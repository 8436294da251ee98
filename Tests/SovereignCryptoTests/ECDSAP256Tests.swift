import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignCrypto

@Suite struct ECDSAP256Tests {
    // RFC 6979 Appendix A.2.5: NIST P-256, private key x, public key U = xG.
    static let rfcPrivateKey = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"
    static let rfcPublicX = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
    static let rfcPublicY = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
    static let order = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"

    /// The two SHA-256 signatures of Appendix A.2.5.
    static let rfcVectors: [(message: String, k: String, r: String, s: String)] = [
        ("sample",
         "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60",
         "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
         "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"),
        ("test",
         "D16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0",
         "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
         "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"),
    ]

    /// The RFC key as SEC1 PEM: SEQUENCE { 1, OCTET STRING x, [0] prime256v1 }
    /// (no public key: OpenSSL derives it).
    static func rfcKeyPEM() -> String {
        let der: [UInt8] = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20] + hexBytes(rfcPrivateKey)
            + [0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        return PEM.encode(label: "EC PRIVATE KEY", der: der)
    }

    static func rfcKey() throws -> ECDSAP256.PrivateKey {
        try ECDSAP256.PrivateKey(pem: rfcKeyPEM(), source: "rfc6979.pem")
    }

    /// r and s of a DER ECDSA-Sig-Value, each left-padded to 32 bytes.
    static func integers(of der: [UInt8]) -> (r: [UInt8], s: [UInt8])? {
        guard der.count >= 8, der[0] == 0x30, Int(der[1]) == der.count - 2 else { return nil }
        var index = 2
        func integer() -> [UInt8]? {
            guard index + 2 <= der.count, der[index] == 0x02 else { return nil }
            let length = Int(der[index + 1])
            guard index + 2 + length <= der.count else { return nil }
            var value = Array(der[(index + 2)..<(index + 2 + length)])
            index += 2 + length
            while value.count > 32, value.first == 0 { value.removeFirst() }
            guard value.count <= 32 else { return nil }
            return [UInt8](repeating: 0, count: 32 - value.count) + value
        }
        guard let r = integer(), let s = integer(), index == der.count else { return nil }
        return (r, s)
    }

    /// DER-encodes (r, s) minimally.
    static func encode(r: [UInt8], s: [UInt8]) -> [UInt8] {
        func integer(_ value: [UInt8]) -> [UInt8] {
            var bytes = Array(value.drop { $0 == 0 })
            if bytes.isEmpty || bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
            return [0x02, UInt8(bytes.count)] + bytes
        }
        let body = integer(r) + integer(s)
        return [0x30, UInt8(body.count)] + body
    }

    // MARK: - RFC 6979

    @Test func noncesMatchRFC6979AppendixA25() {
        for vector in Self.rfcVectors {
            let digest = SHA256.hash(Array(vector.message.utf8)).bytes
            let nonces = RFC6979Nonces(privateKey: hexBytes(Self.rfcPrivateKey), digest: digest, order: hexBytes(Self.order))
            #expect(Hex.encode(nonces.next()) == vector.k.lowercased(), "k for \(vector.message)")
        }
    }

    @Test func signaturesMatchRFC6979AppendixA25() throws {
        let key = try Self.rfcKey()
        for vector in Self.rfcVectors {
            let der = key.signature(for: Array(vector.message.utf8))
            let parsed = try #require(Self.integers(of: der), "not a DER ECDSA-Sig-Value: \(Hex.encode(der))")
            #expect(Hex.encode(parsed.r) == vector.r.lowercased(), "r for \(vector.message)")
            #expect(Hex.encode(parsed.s) == vector.s.lowercased(), "s for \(vector.message)")
            #expect(key.publicKey.isValidSignature(der, for: Array(vector.message.utf8)))
        }
    }

    @Test func rfcKeyDerivesTheRFCPublicKey() throws {
        let der = try Self.rfcKey().publicKey.derRepresentation
        #expect(der.count == 91)
        #expect(Array(der.prefix(27)) == P256OpenSSL.spkiPrefix)
        #expect(Hex.encode(der.suffix(64)) == (Self.rfcPublicX + Self.rfcPublicY).lowercased())
    }

    @Test func candidateOrderingHelpersAreExact() {
        let n = hexBytes(Self.order)
        #expect(P256OpenSSL.order == n)
        var nMinusOne = n
        nMinusOne[31] -= 1
        #expect(RFC6979Nonces.isBelow(nMinusOne, n))
        #expect(!RFC6979Nonces.isBelow(n, n))
        #expect(!RFC6979Nonces.isBelow(n, nMinusOne))
        #expect(RFC6979Nonces.subtract(n, nMinusOne) == [UInt8](repeating: 0, count: 31) + [1])
        #expect(!RFC6979Nonces.isNonZero([UInt8](repeating: 0, count: 32)))
    }

    // MARK: - Sign and verify

    @Test func signaturesAreDeterministic() throws {
        let key = try Self.rfcKey()
        let message = Array("the same message".utf8)
        #expect(key.signature(for: message) == key.signature(for: message))
        #expect(key.signature(for: message) != key.signature(for: message + [0]))
    }

    /// One key shared by many tasks: OpenSSL only reads it, so every
    /// signature is the single deterministic one and verifies.
    @Test func signingFromManyTasksAtOnceIsDeterministic() async throws {
        let key = try Self.rfcKey()
        let message = Array("concurrent".utf8)
        let expected = key.signature(for: message)
        let signatures = await withTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<16 { group.addTask { key.signature(for: message) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(signatures.count == 16)
        #expect(signatures.allSatisfy { $0 == expected && key.publicKey.isValidSignature($0, for: message) })
    }

    @Test func signAndVerifyRoundTripWithFreshKeys() {
        var random = SeededBytes(seed: 6979)
        for length in [0, 1, 55, 64, 1000] {
            let key = ECDSAP256.PrivateKey()
            let message = random.bytes(length)
            let signature = key.signature(for: message)
            #expect((8...72).contains(signature.count))
            #expect(key.publicKey.isValidSignature(signature, for: message))
            #expect(!ECDSAP256.PrivateKey().publicKey.isValidSignature(signature, for: message), "another key")
        }
    }

    @Test func rejectsSignatureOverFlippedMessageBit() throws {
        let key = try Self.rfcKey()
        let message = Array("DSSEv1 28 application/vnd.in-toto+json 2 {}".utf8)
        let signature = key.signature(for: message)
        for index in message.indices {
            var altered = message
            altered[index] ^= 0x01
            #expect(!key.publicKey.isValidSignature(signature, for: altered), "byte \(index)")
        }
        #expect(!key.publicKey.isValidSignature(signature, for: message + [0x0A]))
        #expect(!key.publicKey.isValidSignature(signature, for: []))
    }

    @Test func rejectsFlippedSignatureByte() throws {
        let key = try Self.rfcKey()
        let message = Array("sample".utf8)
        let signature = key.signature(for: message)
        for index in signature.indices {
            for bit in [0x01, 0x80] as [UInt8] {
                var altered = signature
                altered[index] ^= bit
                #expect(!key.publicKey.isValidSignature(altered, for: message), "byte \(index) bit \(bit)")
            }
        }
    }

    @Test func rejectsNonDEREncodingsOfAValidSignature() throws {
        let key = try Self.rfcKey()
        let message = Array("sample".utf8)
        let signature = key.signature(for: message)
        #expect(!key.publicKey.isValidSignature(signature + [0x00], for: message), "trailing byte")
        #expect(!key.publicKey.isValidSignature([], for: message), "empty")
        #expect(!key.publicKey.isValidSignature(Array(signature.dropLast()), for: message), "truncated")
        // BER long-form length for the outer SEQUENCE: same values, not DER.
        let longForm = [0x30, 0x81] + Array(signature.dropFirst())
        #expect(!key.publicKey.isValidSignature(longForm, for: message), "long-form length")
        let raw = try #require(Self.integers(of: signature))
        #expect(!key.publicKey.isValidSignature(raw.r + raw.s, for: message), "raw r ‖ s is not DER")
    }

    /// We never normalise s, but a verifier must accept both halves:
    /// (r, n − s) is the other valid signature for the same nonce.
    @Test func acceptsEitherHalfOfS() throws {
        let key = try Self.rfcKey()
        let message = Array("sample".utf8)
        let (r, s) = try #require(Self.integers(of: key.signature(for: message)))
        let other = RFC6979Nonces.subtract(hexBytes(Self.order), s)
        #expect(key.publicKey.isValidSignature(Self.encode(r: r, s: other), for: message))
        #expect(Self.encode(r: r, s: s) == key.signature(for: message), "our DER encoder in this test matches OpenSSL's")
    }

    // MARK: - Keys from openssl

    /// Runs /usr/bin/openssl and returns its stdout, failing on a non-zero exit.
    func openssl(_ arguments: [String], in directory: String) throws -> String {
        let result = try runProcess("/usr/bin/openssl", arguments, directory: directory)
        guard result.status == 0 else {
            throw OpenSSLCommandFailed(description: "openssl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    struct OpenSSLCommandFailed: Error, CustomStringConvertible { let description: String }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func readsOpenSSLKeysInPKCS8AndSEC1Forms() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try openssl(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "sec1.pem"], in: dir.path)
        _ = try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "pkcs8.pem"], in: dir.path)
        _ = try openssl(["ecparam", "-genkey", "-name", "prime256v1", "-out", "with-params.pem"], in: dir.path)
        _ = try openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "sec1.pem", "-out", "sec1-as-pkcs8.pem"], in: dir.path)

        let sec1Text = try read(dir.file("sec1.pem")), pkcs8Text = try read(dir.file("pkcs8.pem"))
        #expect(sec1Text.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
        #expect(pkcs8Text.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try read(dir.file("with-params.pem")).hasPrefix("-----BEGIN EC PARAMETERS-----"))

        for name in ["sec1.pem", "pkcs8.pem", "with-params.pem"] {
            let key = try ECDSAP256.PrivateKey(pem: try read(dir.file(name)), source: name)
            // Our SubjectPublicKeyInfo PEM is byte for byte openssl's.
            let expected = try openssl(["ec", "-in", name, "-pubout"], in: dir.path)
            #expect(key.publicKey.pem == expected, "\(name)")
            #expect(try ECDSAP256.PublicKey(pem: expected, source: "pub") == key.publicKey)
            let message = Array("message for \(name)".utf8)
            #expect(key.publicKey.isValidSignature(key.signature(for: message), for: message))
        }
        // One key in both encodings is one key, and signs identically.
        let sec1 = try ECDSAP256.PrivateKey(pem: sec1Text, source: "sec1.pem")
        let converted = try ECDSAP256.PrivateKey(pem: try read(dir.file("sec1-as-pkcs8.pem")), source: "sec1-as-pkcs8.pem")
        #expect(sec1.publicKey == converted.publicKey)
        #expect(sec1.signature(for: [1, 2, 3]) == converted.signature(for: [1, 2, 3]))
    }

    @Test func openSSLVerifiesOurSignaturesAndWeVerifyItsSignatures() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"], in: dir.path)
        let key = try ECDSAP256.PrivateKey(pem: try read(dir.file("k.pem")), source: "k.pem")
        let message = SeededBytes(seed: 256).bytesCopy(5000)
        try Data(message).write(to: URL(fileURLWithPath: dir.file("msg")))
        try key.publicKey.pem.write(toFile: dir.file("pub.pem"), atomically: true, encoding: .utf8)

        try Data(key.signature(for: message)).write(to: URL(fileURLWithPath: dir.file("ours.sig")))
        let verified = try openssl(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "ours.sig", "msg"], in: dir.path)
        #expect(verified.contains("Verified OK"))

        _ = try openssl(["dgst", "-sha256", "-sign", "k.pem", "-out", "theirs.sig", "msg"], in: dir.path)
        let theirs = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("theirs.sig"))))
        #expect(key.publicKey.isValidSignature(theirs, for: message))
        #expect(!key.publicKey.isValidSignature(theirs, for: message + [0]))
    }

    @Test func refusesOtherAlgorithmsCurvesAndEncryptedKeys() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try openssl(["genpkey", "-algorithm", "ed25519", "-out", "ed25519.pem"], in: dir.path)
        _ = try openssl(["ecparam", "-genkey", "-name", "secp384r1", "-noout", "-out", "p384-sec1.pem"], in: dir.path)
        _ = try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384-pkcs8.pem"], in: dir.path)
        _ = try openssl(["ecparam", "-genkey", "-name", "secp256k1", "-noout", "-out", "k1.pem"], in: dir.path)
        _ = try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa.pem"], in: dir.path)
        _ = try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-aes-256-cbc", "-pass", "pass:secret", "-out", "encrypted-pkcs8.pem"], in: dir.path)
        _ = try openssl(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "plain.pem"], in: dir.path)
        _ = try openssl(["ec", "-in", "plain.pem", "-aes256", "-passout", "pass:secret", "-out", "encrypted-sec1.pem"], in: dir.path)

        let cases: [(file: String, reason: String)] = [
            ("ed25519.pem", "key type is ED25519; only ECDSA P-256 (prime256v1) keys are accepted"),
            ("p384-sec1.pem", "EC key on curve secp384r1; only P-256 (prime256v1) is accepted"),
            ("p384-pkcs8.pem", "EC key on curve secp384r1; only P-256 (prime256v1) is accepted"),
            ("k1.pem", "EC key on curve secp256k1; only P-256 (prime256v1) is accepted"),
            ("rsa.pem", "key type is RSA; only ECDSA P-256 (prime256v1) keys are accepted"),
            ("encrypted-pkcs8.pem", "the private key is encrypted"),
            ("encrypted-sec1.pem", "the EC private key is encrypted"),
        ]
        for (file, reason) in cases {
            let text = try read(dir.file(file))
            do {
                _ = try ECDSAP256.PrivateKey(pem: text, source: file)
                Issue.record("\(file) was accepted")
            } catch {
                guard case .malformedKey(let source, let actual) = error else {
                    Issue.record("\(file): unexpected error \(error)")
                    continue
                }
                #expect(source == file)
                #expect(actual.contains(reason), "\(file): \(actual)")
            }
        }
    }

    @Test func publicKeysFromPEMAreNormalisedAndCheckedForCurve() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try openssl(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "k.pem"], in: dir.path)
        let key = try ECDSAP256.PrivateKey(pem: try read(dir.file("k.pem")), source: "k.pem")
        let compressed = try openssl(["ec", "-in", "k.pem", "-pubout", "-conv_form", "compressed"], in: dir.path)
        let fromCompressed = try ECDSAP256.PublicKey(pem: compressed, source: "compressed.pem")
        #expect(fromCompressed == key.publicKey)
        #expect(fromCompressed.pem == key.publicKey.pem)

        _ = try openssl(["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"], in: dir.path)
        _ = try openssl(["ecparam", "-genkey", "-name", "secp384r1", "-noout", "-out", "p384.pem"], in: dir.path)
        for (file, reason) in [("ed.pem", "ED25519"), ("p384.pem", "secp384r1")] {
            let pub = try openssl(["pkey", "-in", file, "-pubout"], in: dir.path)
            #expect {
                try ECDSAP256.PublicKey(pem: pub, source: file)
            } throws: { error in
                guard let error = error as? CryptoError, case .malformedKey(_, let actual) = error else { return false }
                return actual.contains(reason)
            }
        }
    }

    @Test func refusesMalformedPEMAndDER() throws {
        let good = Self.rfcKeyPEM()
        let der = try PEM.decode(good, label: "EC PRIVATE KEY", source: "t")
        let malformed: [(String, String)] = [
            ("", "not a PEM private key"),
            ("hello", "not a PEM private key"),
            (ECDSAP256.PrivateKey().publicKey.pem, "found 'PUBLIC KEY'"),
            ("-----BEGIN EC PRIVATE KEY-----\n!!!!\n-----END EC PRIVATE KEY-----\n", "not valid base64"),
            (PEM.encode(label: "EC PRIVATE KEY", der: Array(der.dropLast(3))), "not a valid DER SEC1 ECPrivateKey"),
            (PEM.encode(label: "EC PRIVATE KEY", der: der + [0x00]), "not a valid DER SEC1 ECPrivateKey"),
            (PEM.encode(label: "PRIVATE KEY", der: der), "not a valid DER PKCS#8 PrivateKeyInfo"),
        ]
        for (text, reason) in malformed {
            #expect {
                try ECDSAP256.PrivateKey(pem: text, source: "bad.pem")
            } throws: { error in
                guard let error = error as? CryptoError, case .malformedKey(let source, let actual) = error else { return false }
                return source == "bad.pem" && actual.contains(reason)
            }
        }
        // The private scalar must be in [1, n-1].
        let zero = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20] + [UInt8](repeating: 0, count: 32)
            + [0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        #expect(throws: CryptoError.self) { try ECDSAP256.PrivateKey(pem: PEM.encode(label: "EC PRIVATE KEY", der: zero), source: "zero.pem") }
        // A public key whose point is not on the curve.
        var offCurve = try Self.rfcKey().publicKey.derRepresentation
        offCurve[offCurve.count - 1] ^= 0x01
        #expect(throws: CryptoError.self) { try ECDSAP256.PublicKey(derRepresentation: offCurve) }
        #expect(throws: CryptoError.self) { try ECDSAP256.PublicKey(derRepresentation: []) }
    }
}

private extension SeededBytes {
    /// `bytes(_:)` on a copy, for use in expressions.
    func bytesCopy(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}
