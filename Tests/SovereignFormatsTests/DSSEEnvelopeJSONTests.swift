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

    /// A stranger's envelope is bounded: each signature costs a check, and a
    /// key id is printed and logged, so it is a short printable hint.
    @Test func boundsTheSignaturesAndTheirKeyIDs() {
        func envelope(_ signatures: [String]) -> String {
            #"{"payload":"aGk=","payloadType":"t","signatures":["# + signatures.joined(separator: ",") + "]}"
        }
        let sixtyFour = (0..<64).map { #"{"keyid":"k\#($0)","sig":"aGk="}"# }
        #expect(Self.reason(envelope(sixtyFour)) == nil)
        #expect(Self.reason(envelope(sixtyFour + [#"{"keyid":"k64","sig":"aGk="}"#]))
                == "signatures: has 65 signatures, more than the 64 an envelope may carry")
        let printable = "keyid: must be at most 256 bytes of printable ASCII without spaces"
        #expect(Self.reason(envelope([#"{"keyid":"a\nFORGED","sig":"aGk="}"#])) == "signatures[0].\(printable)")
        #expect(Self.reason(envelope([#"{"keyid":"a b","sig":"aGk="}"#])) == "signatures[0].\(printable)")
        #expect(Self.reason(envelope([#"{"keyid":"\#(String(repeating: "a", count: 257))","sig":"aGk="}"#])) == "signatures[0].\(printable)")
        #expect(Self.reason(envelope([#"{"keyid":"\#(String(repeating: "a", count: 256))","sig":"aGk="}"#])) == nil)
    }
}
