import Testing
@testable import SovereignCrypto

@Suite struct DSSEEnvelopeTests {
    /// The example from the DSSE protocol spec.
    @Test func paeMatchesSpecExample() {
        let pae = DSSEEnvelope.pae(payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    }

    @Test func paeCountsBytesNotCharacters() {
        let pae = DSSEEnvelope.pae(payloadType: "t", payload: Array("é".utf8))
        #expect(pae == Array("DSSEv1 1 t 2 ".utf8) + [0xC3, 0xA9])
    }

    @Test func signVerifyAndThresholds() throws {
        let a = Ed25519.PrivateKey(), b = Ed25519.PrivateKey(), c = Ed25519.PrivateKey()
        var envelope = DSSEEnvelope(payload: Array("{}".utf8), payloadType: DSSEEnvelope.inTotoPayloadType)
        try envelope.sign(with: a)
        try envelope.sign(with: b)
        #expect(throws: CryptoError.self) { try envelope.sign(with: a) }

        let both = envelope.verify(trustedKeys: [a.publicKey, b.publicKey], threshold: 2)
        #expect(both.isValid)
        #expect(both.acceptedKeyIDs == [a.publicKey.keyID, b.publicKey.keyID])
        #expect(!envelope.verify(trustedKeys: [a.publicKey, c.publicKey], threshold: 2).isValid)
        #expect(envelope.verify(trustedKeys: [a.publicKey, c.publicKey], threshold: 1).isValid)
        let none = envelope.verify(trustedKeys: [c.publicKey], threshold: 1)
        #expect(!none.isValid)
        #expect(none.failureReason?.hasPrefix("no signature by a given public key") == true)
    }

    @Test func duplicateSignaturesByOneKeyCountOnce() throws {
        let a = Ed25519.PrivateKey()
        var envelope = DSSEEnvelope(payload: [1, 2, 3], payloadType: "t")
        try envelope.sign(with: a)
        envelope.signatures.append(envelope.signatures[0])
        let result = envelope.verify(trustedKeys: [a.publicKey], threshold: 2)
        #expect(!result.isValid)
        #expect(result.failureReason == "1 of the required 2 distinct trusted keys signed")
    }

    @Test func anyFlippedPayloadOrTypeByteFails() throws {
        let a = Ed25519.PrivateKey()
        var envelope = DSSEEnvelope(payload: Array("{\"x\":1}".utf8), payloadType: "application/vnd.in-toto+json")
        try envelope.sign(with: a)
        for i in envelope.payload.indices {
            var altered = envelope
            altered.payload[i] ^= 0x01
            #expect(!altered.verify(trustedKeys: [a.publicKey], threshold: 1).isValid)
        }
        var retyped = envelope
        retyped.payloadType = "application/json"
        #expect(retyped.verify(trustedKeys: [a.publicKey], threshold: 1).failureReason?.contains("does not verify") == true)
    }

    @Test func nonCanonicalBase64IsRefused() {
        // "AQ==" is [0x01]; "AR==" sets unused bits and must not decode to the same bytes.
        #expect(Base64.decodeStrict("AQ==") == [1])
        #expect(Base64.decodeStrict("AR==") == nil)
        #expect(Base64.decodeLenient("AR") == nil)
        #expect(Base64.decodeLenient("AQ") == [1])
    }
}
