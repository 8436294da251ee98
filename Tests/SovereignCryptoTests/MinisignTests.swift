import Testing
import SovereignTestSupport
@testable import SovereignCrypto

@Suite struct MinisignTests {
    @Test func publicKeyFileRoundTrip() throws {
        let key = Ed25519.PrivateKey().publicKey
        let file = MinisignPublicKey(key: key)
        let parsed = try MinisignPublicKey(parsing: file.fileContents, source: "k.minisign.pub")
        #expect(parsed == file)
        #expect(parsed.keyID == Array(hexBytes(key.keyID).prefix(8)))
        #expect(file.fileContents.hasPrefix("untrusted comment: minisign public key \(MinisignPublicKey.displayKeyID(file.keyID))\n"))
    }

    @Test func displayKeyIDIsLittleEndianUppercase() {
        #expect(MinisignPublicKey.displayKeyID([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xAB]) == "AB07060504030201")
    }

    @Test func signatureRoundTripAndVerification() throws {
        let key = Ed25519.PrivateKey()
        let parsedKey = try PublicKeyFile.parse(PublicKeyFile.pem(key.publicKey), source: "k.pub")
        let content = Array("hello".utf8)
        let digest = BLAKE2b512.hash(content)
        let signature = try MinisignSignature(signingPrehash: digest, with: key, trustedComment: "file:x\thashed")
        let parsed = try MinisignSignature(parsing: signature.fileContents, source: "x.minisig")
        #expect(parsed == signature)
        #expect(try parsed.failureReason(key: parsedKey, blake2b: digest, fileBytes: { content }) == nil)

        var otherContent = content
        otherContent[0] ^= 1
        #expect(try parsed.failureReason(key: parsedKey, blake2b: BLAKE2b512.hash(otherContent), fileBytes: { otherContent })
                == "signature does not verify (file altered, or wrong key)")

        var recommented = parsed
        recommented.trustedComment = "file:y\thashed"
        #expect(try recommented.failureReason(key: parsedKey, blake2b: digest, fileBytes: { content })
                == "trusted comment signature does not verify (comment altered)")

        let stranger = try PublicKeyFile.parse(PublicKeyFile.pem(Ed25519.PrivateKey().publicKey), source: "s.pub")
        #expect(try parsed.failureReason(key: stranger, blake2b: digest, fileBytes: { content })?.hasPrefix("signed by key") == true)
    }

    @Test func rejectsMalformedSignatureFiles() throws {
        let key = Ed25519.PrivateKey()
        let good = try MinisignSignature(signingPrehash: BLAKE2b512.hash([1]), with: key, trustedComment: "c").fileContents
        let lines = good.split(separator: "\n").map(String.init)
        let cases: [(String, String)] = [
            ("", "a minisign signature has 4 lines, found 0"),
            (lines.prefix(3).joined(separator: "\n"), "a minisign signature has 4 lines, found 3"),
            ([lines[0], String(lines[1].dropLast(4)), lines[2], lines[3]].joined(separator: "\n"), "line 2 is not 74 bytes of base64"),
            ([lines[0], lines[1], "comment: x", lines[3]].joined(separator: "\n"), "line 3 does not start with 'trusted comment: '"),
            (["x", lines[1], lines[2], lines[3]].joined(separator: "\n"), "line 1 does not start with 'untrusted comment: '"),
        ]
        for (text, reason) in cases {
            #expect(throws: CryptoError.malformedSignature(source: "f.minisig", reason: reason)) {
                try MinisignSignature(parsing: text, source: "f.minisig")
            }
        }
        #expect(throws: CryptoError.self) {
            try MinisignSignature(signingPrehash: BLAKE2b512.hash([1]), with: key, trustedComment: "two\nlines")
        }
    }
}
