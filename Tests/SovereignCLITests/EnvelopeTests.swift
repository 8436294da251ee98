import Foundation
import Testing
import SovereignTestSupport

@Suite struct EnvelopeTests {
    let passphrase = ["--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"]

    /// A workspace with a signed statement about `artifact` in `e.dsse.json`.
    func signedWorkspace(keys: [String] = ["release"]) throws -> Workspace {
        let w = try Workspace(keys: keys)
        w.write("artifact", "the thing attested")
        w.write("statement.json", try w.statement(about: "artifact"))
        let result = try w.run(["attest", "--statement", "statement.json", "--key", "release.key", "--out", "e.dsse.json"] + passphrase)
        #expect(result.status == 0, "\(result.stderr)")
        return w
    }

    @Test func attestThenVerify() throws {
        let w = try signedWorkspace()
        defer { w.remove() }
        let result = try w.run(["verify-envelope", "e.dsse.json", "--pub", "release.pub", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(fields["verified"] as? Bool == true)
        #expect(fields["predicateType"] as? String == "https://sovereign.dev/test/v1")
        let envelope = try #require(try JSONSerialization.jsonObject(with: Data(w.read("e.dsse.json"))) as? [String: Any])
        #expect(envelope["payloadType"] as? String == "application/vnd.in-toto+json")
        // The payload is the statement in canonical form.
        let payload = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
        #expect(String(decoding: payload, as: UTF8.self).hasPrefix(#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"note":"héllo"}"#))
    }

    /// securesystemslib, written by others, verifies our envelope, and
    /// rejects it once a payload byte changes.
    @Test func securesystemslibVerifiesOurEnvelope() throws {
        let w = try signedWorkspace(keys: ["release", "second"])
        defer { w.remove() }
        let script = CLI.packageRoot + "/Tests/Interop/verify_dsse.py"
        let python = try CLI.python
        let accepted = try runProcess(python, [script, "e.dsse.json", "1", "release.pub"], directory: w.path)
        #expect(accepted.status == 0, "securesystemslib rejected: \(accepted.stdout) \(accepted.stderr)")
        let keyid = try #require(String(decoding: w.read("release.pub"), as: UTF8.self).isEmpty ? nil : keyID(w, "release.pub"))
        #expect(accepted.stdout.contains("verified \(keyid)"))
        #expect(accepted.stdout.contains("type https://in-toto.io/Statement/v1"))

        // Co-signed: securesystemslib counts both keys for a threshold of 2.
        #expect(try w.run(["attest", "--envelope", "e.dsse.json", "--key", "second.key", "--out", "e2.dsse.json"] + passphrase).status == 0)
        let both = try runProcess(python, [script, "e2.dsse.json", "2", "release.pub", "second.pub"], directory: w.path)
        #expect(both.status == 0, "\(both.stdout) \(both.stderr)")
        let one = try runProcess(python, [script, "e.dsse.json", "2", "release.pub", "second.pub"], directory: w.path)
        #expect(one.status == 1)

        // Flip one byte of the payload (decoded), re-encode: securesystemslib and we both reject.
        var envelope = try #require(try JSONSerialization.jsonObject(with: Data(w.read("e.dsse.json"))) as? [String: Any])
        var payload = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
        payload[payload.count / 2] ^= 0x01
        envelope["payload"] = payload.base64EncodedString()
        w.write("tampered.dsse.json", bytes: [UInt8](try JSONSerialization.data(withJSONObject: envelope)))
        let rejected = try runProcess(python, [script, "tampered.dsse.json", "1", "release.pub"], directory: w.path)
        #expect(rejected.status == 1)
        #expect(rejected.stdout.hasPrefix("rejected: VerificationError"))
        let ours = try w.run(["verify-envelope", "tampered.dsse.json", "--pub", "release.pub"])
        #expect(ours.status == 1)
    }

    /// Flip each byte of the envelope file in turn: every one must fail verification.
    @Test func everyFlippedEnvelopeByteIsRejected() throws {
        let w = try signedWorkspace()
        defer { w.remove() }
        let original = w.read("e.dsse.json")
        var accepted: [Int] = []
        for index in original.indices {
            var flipped = original
            flipped[index] ^= (index % 2 == 0) ? 0x01 : 0x20
            w.write("flipped.dsse.json", bytes: flipped)
            let result = try w.run(["verify-envelope", "flipped.dsse.json", "--pub", "release.pub"])
            if result.status == 0 { accepted.append(index) } else {
                #expect(result.status == 1)
                #expect(result.stderr.hasPrefix("sovereign: flipped.dsse.json"), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
            }
        }
        #expect(accepted.isEmpty, "flips accepted at \(accepted)")
    }

    @Test func thresholdsCountDistinctKeys() throws {
        let w = try signedWorkspace(keys: ["release", "second", "stranger"])
        defer { w.remove() }
        expectFailure(try w.run(["verify-envelope", "e.dsse.json", "--pub", "release.pub", "--pub", "second.pub", "--threshold", "2"]),
                      "sovereign: e.dsse.json: 1 of the required 2 distinct trusted keys signed")
        // The same key given twice (PEM and minisign forms) is still one key.
        let twice = try w.run(["verify-envelope", "e.dsse.json", "--pub", "release.pub", "--pub", "release.minisign.pub", "--threshold", "2"])
        #expect(twice.status == 64)
        #expect(try w.run(["attest", "--envelope", "e.dsse.json", "--key", "second.key", "--out", "e2.dsse.json"] + passphrase).status == 0)
        #expect(try w.run(["verify-envelope", "e2.dsse.json", "--pub", "release.pub", "--pub", "second.pub", "--threshold", "2"]).status == 0)
        // Co-signing with a key that already signed is refused, and writes nothing.
        expectFailure(try w.run(["attest", "--envelope", "e2.dsse.json", "--key", "second.key", "--out", "e3.dsse.json"] + passphrase),
                      "sovereign: e2.dsse.json: already signed by key \(try keyID(w, "second.pub"))")
        #expect(!FileManager.default.fileExists(atPath: w.directory.file("e3.dsse.json")))
        // A signature from a key we were not given.
        expectFailure(try w.run(["verify-envelope", "e.dsse.json", "--pub", "stranger.pub"]),
                      "sovereign: e.dsse.json: no signature by a given public key (envelope signed by \(try keyID(w, "release.pub")))")
    }

    @Test func badInputsGetOneLineAndWriteNothing() throws {
        let w = try signedWorkspace()
        defer { w.remove() }
        let envelope = w.read("e.dsse.json")
        w.write("truncated.dsse.json", bytes: Array(envelope.prefix(envelope.count - 2)))
        w.write("not-json.json", "{\"_type\": ")
        w.write("wrong-type.json", #"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"p"}"#)
        w.write("bad-digest.json", #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"XYZ"}}],"predicateType":"p"}"#)
        w.write("no-subject.json", #"{"_type":"https://in-toto.io/Statement/v1","predicateType":"p"}"#)
        w.write("other-payload.dsse.json", #"{"payload":"aGk=","payloadType":"text/plain","signatures":[]}"#)
        w.write("extra.dsse.json", String(decoding: envelope, as: UTF8.self).replacingOccurrences(of: "\"keyid\"", with: "\"keyId\""))
        let before = w.snapshot()
        let attest = ["attest", "--key", "release.key", "--out", "out.dsse.json"] + passphrase

        expectFailure(try w.run(["verify-envelope", "truncated.dsse.json", "--pub", "release.pub"]),
                      "sovereign: truncated.dsse.json: invalid JSON at line 1, column \(envelope.count - 1): expected ',' or '}' in object")
        expectFailure(try w.run(["verify-envelope", "extra.dsse.json", "--pub", "release.pub"]),
                      "sovereign: extra.dsse.json: unknown field 'signatures[0].keyId'")
        expectFailure(try w.run(attest + ["--statement", "not-json.json"]),
                      "sovereign: not-json.json: invalid JSON at line 1, column 11: unexpected end of input")
        expectFailure(try w.run(attest + ["--statement", "wrong-type.json"]),
                      "sovereign: wrong-type.json: _type: is 'https://in-toto.io/Statement/v0.1', expected 'https://in-toto.io/Statement/v1'")
        expectFailure(try w.run(attest + ["--statement", "bad-digest.json"]),
                      "sovereign: bad-digest.json: subject[0]: digest 'sha256' must be 64 lowercase hex characters, got 'XYZ'")
        expectFailure(try w.run(attest + ["--statement", "no-subject.json"]), "sovereign: no-subject.json: missing field 'subject'")
        expectFailure(try w.run(attest + ["--statement", "absent.json"]), "sovereign: absent.json: open: No such file or directory")
        expectFailure(try w.run(attest + ["--statement", "statement.json"], environment: ["SOVEREIGN_TEST_PASSPHRASE": "nope"]),
                      "sovereign: release.key: wrong passphrase (or the key file was altered)")
        expectFailure(try w.run(attest + ["--envelope", "other-payload.dsse.json"]),
                      "sovereign: other-payload.dsse.json: payloadType is 'text/plain', expected 'application/vnd.in-toto+json'")
        expectFailure(try w.run(["verify-envelope", "other-payload.dsse.json", "--pub", "release.pub"]),
                      "sovereign: other-payload.dsse.json: envelope has no signatures")
        expectFailure(try w.run(["attest", "--statement", "statement.json", "--key", "release.key", "--out", "e.dsse.json"] + passphrase),
                      "sovereign: e.dsse.json: already exists; refusing to overwrite")
        w.expectUnchanged(since: before)
    }

    private func keyID(_ w: Workspace, _ pub: String) throws -> String {
        let shown = try w.run(["key", "show", pub, "--json"])
        return (try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])?["keyid"] as? String ?? "?"
    }
}
