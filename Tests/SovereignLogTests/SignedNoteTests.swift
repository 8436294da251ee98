import Testing
import SovereignCrypto
@testable import SovereignLog

/// C2SP signed notes and checkpoints, against the spec's and Go's published examples.
@Suite struct SignedNoteTests {
    // c2sp.org/signed-note's example (REFERENCE.md).
    static let exampleKey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    static let exampleNote = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    // golang.org/x/mod/sumdb/note example_test.go: a signer key, its verifier key, the signature.
    static let peterSigner = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let peterKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let peterText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let peterSignature = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="

    @Test func theSpecExampleVerifiesAndRoundTrips() throws {
        let key = try NoteVerifierKey(parsing: Self.exampleKey, source: "key")
        #expect(key.name == "example.com/foo")
        #expect(key.keyID == 0x530d903a)
        #expect(key.encoded == Self.exampleKey)
        let note = try SignedNote(parsing: Array(Self.exampleNote.utf8), source: "note")
        #expect(note.text == Array("This is an example message.\n".utf8))
        #expect(note.verify(trusting: [key]) == .verified(by: [key]))
        #expect(note.bytes == Array(Self.exampleNote.utf8))
    }

    @Test func goSignerKeySignsTheSameBytesAsGo() throws {
        let signer = try ApplianceKey(parsingPrivateKey: Self.peterSigner, source: "skey")
        #expect(signer.verifierKey.encoded == Self.peterKey)
        #expect(signer.encodedPrivateKey == Self.peterSigner)
        let signature = signer.sign(Array(Self.peterText.utf8))
        #expect(signature.base64 == Self.peterSignature)
        let note = SignedNote(text: Array(Self.peterText.utf8), signatures: [signature])
        #expect(String(decoding: note.bytes, as: UTF8.self) == Self.peterText + "\n\u{2014} PeterNeumann \(Self.peterSignature)\n")
    }

    @Test func keyIDIsTheFirstFourBytesOfTheNameNewlineTypeKeyHash() throws {
        let key = try NoteVerifierKey(parsing: Self.exampleKey, source: "key")
        let digest = SHA256.hash(Array("example.com/foo".utf8) + [0x0A, 0x01] + key.publicKey.rawRepresentation)
        #expect(NoteVerifierKey.bytes(key.keyID) == Array(digest.bytes.prefix(4)))
    }

    @Test func malformedVerifierKeysAreRefusedWithTheReason() {
        let cases: [(String, String)] = [
            ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key ID 530d903b does not match the key (it hashes to 530d903a)"),
            ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key ID '530D903A' must be 8 lowercase hex digits"),
            ("example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "the key is not canonical padded base64"),
            ("example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key name 'example com' must be non-empty, with no spaces, '+' or control characters"),
            ("example.com/foo", "not a verifier key: expected <name>+<8 hex digits>+<base64 key>"),
        ]
        for (text, reason) in cases {
            #expect(throws: LogError("k", reason)) { try NoteVerifierKey(parsing: text, source: "k") }
        }
    }

    @Test func aFailingTrustedSignatureRejectsTheNoteEvenBesideAGoodOne() throws {
        let key = try NoteVerifierKey(parsing: Self.exampleKey, source: "key")
        let good = try SignedNote(parsing: Array(Self.exampleNote.utf8), source: "note")
        var bad = good.signatures[0].signature
        bad[10] ^= 1
        let forged = SignedNote(text: good.text, signatures: [good.signatures[0], NoteSignature(name: key.name, keyID: key.keyID, signature: bad)])
        #expect(forged.verify(trusting: [key]) == .rejected(reason: "the signature by example.com/foo+530d903a does not verify"))
    }

    @Test func unknownSignersAreIgnoredButAloneTheyVerifyNothing() throws {
        let key = try NoteVerifierKey(parsing: Self.exampleKey, source: "key")
        let peter = try NoteVerifierKey(parsing: Self.peterKey, source: "key")
        let good = try SignedNote(parsing: Array(Self.exampleNote.utf8), source: "note")
        let stranger = NoteSignature(name: "witness.example", keyID: 0x01020304, signature: [UInt8](repeating: 7, count: 64))
        let cosigned = SignedNote(text: good.text, signatures: [stranger] + good.signatures)
        #expect(cosigned.verify(trusting: [key]) == .verified(by: [key]))
        #expect(SignedNote(text: good.text, signatures: [stranger]).verify(trusting: [key]).isVerified == false)
        #expect(good.verify(trusting: [peter]) == .rejected(reason: "no signature by a trusted key (PeterNeumann+c74f20a3)"))
        // Same name, another key ID: unknown, not failing.
        let sameName = NoteSignature(name: key.name, keyID: key.keyID ^ 1, signature: good.signatures[0].signature)
        #expect(SignedNote(text: good.text, signatures: [sameName] + good.signatures).verify(trusting: [key]) == .verified(by: [key]))
    }

    @Test func malformedNotesAreRefused() {
        let text = "This is an example message.\n"
        let line = "\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
        let cases: [String] = [
            text + line,                                      // no blank line
            text + "\n" + line.replacingOccurrences(of: "\u{2014}", with: "-"),  // not an em dash
            text + "\n" + String(line.dropLast()),            // no final newline
            text + "\n",                                      // no signature
            "This is\ran example.\n\n" + line,                // a control character (CR)
            text + "\n" + line.replacingOccurrences(of: "foo ", with: "foo  "), // two spaces
            text + "\n" + line.replacingOccurrences(of: "=\n", with: "\n"),     // unpadded base64
            text + "\n" + "\u{2014} a+b AAAAAAA=\n",          // '+' in the name
            text + "\n" + "\u{2014} name AAAA\n",             // shorter than key ID + 1
        ]
        for note in cases {
            #expect(throws: LogError.self, "\(note.debugDescription)") { try SignedNote(parsing: Array(note.utf8), source: "n") }
        }
        #expect(throws: LogError.self) { try SignedNote(parsing: Array(text.utf8) + [0x0A] + [0xFF] + Array(line.utf8), source: "n") }
        let many = text + "\n" + String(repeating: "\u{2014} w AAAAAAA=\n", count: 101)
        #expect(throws: LogError("n", "more than 100 signatures")) { try SignedNote(parsing: Array(many.utf8), source: "n") }
    }

    @Test func splitsAtTheLastBlankLine() throws {
        let key = try ApplianceKey.generate(origin: "blank.example")
        let text = Array("first\n\nsecond\n".utf8)
        let note = SignedNote(text: text, signatures: [key.sign(text)])
        let parsed = try SignedNote(parsing: note.bytes, source: "n")
        #expect(parsed.text == text)
        #expect(parsed.verify(trusting: [key.verifierKey]).isVerified)
    }

    @Test func checkpointsParseExactly() throws {
        let root = RFC6962.leafHash([UInt8]())
        let checkpoint = Checkpoint(origin: "example.com/log", size: 9944, root: root, extensions: ["ext one"])
        #expect(String(decoding: checkpoint.text, as: UTF8.self) == "example.com/log\n9944\n\(Base64.encode(root.bytes))\next one\n")
        #expect(try Checkpoint(parsing: checkpoint.text, source: "c") == checkpoint)
        let rootText = Base64.encode(root.bytes)
        for bad in ["o\n09\n\(rootText)\n", "o\n-1\n\(rootText)\n", "o\n1\n\(rootText)", "o\n1\nAAAA\n", "\n1\n\(rootText)\n",
                    "o\n1\n\(rootText)\n\n", "o\n1\n", "o\n18446744073709551616\n\(rootText)\n", "o\n+1\n\(rootText)\n"] {
            #expect(throws: LogError.self, "\(bad.debugDescription)") { try Checkpoint(parsing: Array(bad.utf8), source: "c") }
        }
        #expect(try Checkpoint(parsing: Array("o\n0\n\(rootText)\n".utf8), source: "c").size == 0)
    }

    @Test func signedCheckpointsAreOpenedOnlyForTheirOwnLogsKey() throws {
        let key = try ApplianceKey.generate(origin: "a.example/log")
        let other = try ApplianceKey.generate(origin: "b.example/log")
        let signed = key.sign(Checkpoint(origin: key.origin, size: 3, root: RFC6962.emptyRoot))
        #expect(try SignedCheckpoint.open(signed.bytes, source: "c", trusting: key.verifierKey) == signed)
        #expect(throws: LogError("c", "the checkpoint is for log 'a.example/log', not 'b.example/log'")) {
            try SignedCheckpoint.open(signed.bytes, source: "c", trusting: other.verifierKey)
        }
        let renamed = try ApplianceKey(origin: "b.example/log", privateKey: Ed25519.PrivateKey(seed: [UInt8](repeating: 1, count: 32)))
        let foreign = renamed.sign(Checkpoint(origin: renamed.origin, size: 3, root: RFC6962.emptyRoot))
        #expect(throws: LogError.self) { try SignedCheckpoint.open(foreign.bytes, source: "c", trusting: other.verifierKey) }
    }

    @Test func tlogProofBundlesRoundTripAndVerify() throws {
        let key = try ApplianceKey.generate(origin: "proof.example/log")
        let leaves = (0..<11).map { Array("entry \($0)".utf8) }
        let tree = MerkleTree(leafHashes: leaves.map { RFC6962.leafHash($0) })
        let signed = key.sign(Checkpoint(origin: key.origin, size: 11, root: tree.root))
        let bundle = TLogProof(extra: leaves[6], index: 6, path: try tree.inclusionProof(leafIndex: 6, treeSize: 11), checkpoint: signed.note)
        let text = String(decoding: bundle.bytes, as: UTF8.self)
        #expect(text.hasPrefix("c2sp.org/tlog-proof@v1\nextra \(Base64.encode(leaves[6]))\nindex 6\n"))
        let parsed = try TLogProof(parsing: bundle.bytes, source: "p")
        #expect(parsed == bundle)
        #expect(try parsed.verify(trusting: key.verifierKey, source: "p").size == 11)
        let wrongLeaf = TLogProof(extra: leaves[5], index: 6, path: bundle.path, checkpoint: signed.note)
        #expect(throws: LogError("p", "the inclusion path does not lead from entry 6 to the checkpoint's root")) {
            try wrongLeaf.verify(trusting: key.verifierKey, source: "p")
        }
        #expect(throws: LogError.self) { try TLogProof(parsing: Array(text.replacingOccurrences(of: "index 6", with: "index 06").utf8), source: "p") }
    }
}
