import Foundation
import SovereignCrypto
import Testing
@testable import SovereignFormats

@Suite struct DSSEEnvelopeJSONTests {
    static func signed() throws -> (DSSEEnvelope, Ed25519.PrivateKey) {
        let key = Ed25519.PrivateKey()
        // A payload whose base64 has '+' and '/' in it.
        var envelope = DSSEEnvelope(payload: [0xFB, 0xFF, 0xBF, 0xFE], payloadType: "t")
        try envelope.sign(with: key)
        return (envelope, key)
    }

    static func reason(_ text: String) -> String? {
        do { _ = try StrictJSON.decode(DSSEEnvelope.self, from: Array(text.utf8), source: "e"); return nil } catch { return error.reason }
    }

    @Test func readsBackWhatItWrites() throws {
        let (envelope, key) = try Self.signed()
        let bytes = try CanonicalJSON.encode(envelope)
        let read = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: "e")
        #expect(read == envelope)
        #expect(try CanonicalJSON.encode(read) == bytes)
        #expect(read.verify(trustedKeys: [key.publicKey], threshold: 1).isValid)
    }

    @Test func acceptsURLSafeUnpaddedBase64() throws {
        let (envelope, key) = try Self.signed()
        let json = String(decoding: try CanonicalJSON.encode(envelope), as: UTF8.self)
        #expect(json.contains("+") || json.contains("/"))
        let urlSafe = json.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let decoded = try StrictJSON.decode(DSSEEnvelope.self, from: Array(urlSafe.utf8), source: "e")
        #expect(decoded == envelope)
        #expect(decoded.verify(trustedKeys: [key.publicKey], threshold: 1).isValid)
    }

    /// Unknown fields are not signed: accepting them would let two files
    /// carry one signature.
    @Test func refusesUnknownFieldsInTheEnvelopeAndItsSignatures() {
        #expect(Self.reason(#"{"payload":"aGk=","payloadType":"t","signatures":[],"note":"x"}"#) == "unknown field 'note'")
        #expect(Self.reason(#"{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"aGk="},{"keyId":"k","sig":"aGk="}]}"#)
                == "unknown field 'signatures[1].keyId'")
    }

    @Test func aMissingOrNullKeyIDIsNoHint() throws {
        let text = #"{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"aGk="},{"keyid":null,"sig":"aGk="}]}"#
        let envelope = try StrictJSON.decode(DSSEEnvelope.self, from: Array(text.utf8), source: "e")
        #expect(envelope.signatures.map(\.keyid) == ["", ""])
        #expect(envelope.payload == Array("hi".utf8))
    }

    @Test(arguments: [
        (#"{"payload":"!!","payloadType":"t","signatures":[]}"#, "payload: is not base64"),
        (#"{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"%"}]}"#, "signatures[0].sig: is not base64"),
        (#"{"payload":"aGk=","signatures":[]}"#, "missing field 'payloadType'"),
        (#"{"payload":"aGk=","payloadType":null,"signatures":[]}"#, "payloadType: must be a string, got null"),
        (#"{"payload":"aGk=","payloadType":"t","signatures":{}}"#, "signatures: must be an array, got object"),
        (#"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"k"}]}"#, "missing field 'signatures[0].sig'"),
    ])
    func refusesAMalformedEnvelope(text: String, reason: String) {
        #expect(Self.reason(text) == reason)
    }
}
