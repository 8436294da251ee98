import Foundation
import Testing
import SovereignCrypto
import SovereignFormats
import SovereignTestSupport
@testable import SovereignLog

/// The verifier on hand-made tamperings, each named exactly; and the
/// proofs it serves.
@Suite struct LogVerifierTests {
    static func makeLog(_ count: Int = 10, interval: UInt64 = 4) throws -> (ScratchLog, ApplianceKey) {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: interval)
        for n in 0..<count { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        try log.close()
        let signer = try ApplianceKey(parsingPrivateKey: String(decoding: scratch.read("appliance.key").dropLast(), as: UTF8.self), source: "key")
        return (scratch, signer)
    }

    static func first(_ scratch: ScratchLog) throws -> LogFinding? {
        try scratch.verify().findings.first
    }

    @Test func anIntactLogHasNoFindings() throws {
        let (scratch, _) = try Self.makeLog()
        let report = try scratch.verify()
        #expect(report.findings == [])
        #expect(report.notes == [])
        #expect(report.entryCount == 10)
        let unpinned = try scratch.verify(pinned: false)
        #expect(unpinned.isIntact)
        #expect(unpinned.notes.first?.contains("not pinned") == true)
    }

    @Test func editedContentIsNamed() throws {
        let (scratch, _) = try Self.makeLog()
        var lines = LogLines(path: scratch.path)
        var object = try JSONParser.parse(lines[6], source: "t").objectValue!
        object["content"] = .object(["prompt": .string("nothing to see"), "answer": .string("edited")])
        lines[6] = CanonicalJSON.serialize(.object(object))
        lines.write()
        let finding = try #require(try Self.first(scratch))
        #expect(finding.kind == .edited && finding.index == 6)
        #expect(finding.detail == "its content does not match the salted digest its entry commits to")
        #expect(finding.location == scratch.path + "/entries/00000000000000000000.jsonl:7")
    }

    @Test func editedMetadataIsNamed() throws {
        let (scratch, _) = try Self.makeLog()
        var lines = LogLines(path: scratch.path)
        var object = try JSONParser.parse(lines[3], source: "t").objectValue!
        var entry = object["entry"]!.objectValue!
        entry["metadata"] = .object(["requestID": .string("someone-else")])
        object["entry"] = .object(entry)
        lines[3] = CanonicalJSON.serialize(.object(object))
        lines.write()
        #expect(try Self.first(scratch) == LogFinding(kind: .edited, index: 3, location: scratch.path + "/entries/00000000000000000000.jsonl:4",
                                                        detail: "its data does not give the root the appliance signed for it"))
    }

    @Test func deletedReorderedInsertedAndTruncatedEntriesAreNamed() throws {
        func check(_ edit: (inout LogLines) -> Void, _ kind: LogFinding.Kind, _ index: UInt64, _ detail: String) throws {
            let (scratch, _) = try Self.makeLog()
            var lines = LogLines(path: scratch.path)
            edit(&lines)
            lines.write()
            let finding = try #require(try Self.first(scratch))
            #expect(finding.kind == kind && finding.index == index, "\(finding)")
            #expect(finding.detail == detail)
        }
        try check({ $0.remove(at: 4) }, .deleted, 4, "entry 4 is missing: entry 5 follows entry 3")
        try check({ $0.remove(at: 4); $0.remove(at: 4) }, .deleted, 4, "entries 4–5 are missing: entry 6 follows entry 3")
        try check({ let a = $0[2]; $0[2] = $0[7]; $0[7] = a }, .reordered, 2, "entry 7 comes where entry 2 belongs; entry 2 comes later")
        try check({ $0.insert($0[1], at: 5) }, .inserted, 5, "a copy of entry 1 where entry 5 belongs")
        try check({ $0.insert($0[8], at: 5) }, .inserted, 5, "a copy of entry 8 where entry 5 belongs")
    }

    @Test func truncationNamesTheSignedCheckpointItContradicts() throws {
        let (scratch, _) = try Self.makeLog()
        var lines = LogLines(path: scratch.path)
        lines.remove(at: 9)
        lines.remove(at: 8)
        lines.write()
        let finding = try #require(try Self.first(scratch))
        #expect(finding.kind == .truncated && finding.index == 8)
        #expect(finding.detail.hasPrefix("the log ends after 8 entries, but "))
        #expect(finding.detail.hasSuffix("(signed) covers 10"))
    }

    @Test func aTornLastLineIsReportedAsACrashAndAnEarlierOneAsTruncation() throws {
        let (scratch, _) = try Self.makeLog()
        var lines = LogLines(path: scratch.path)
        lines.tail = Array(lines[2].prefix(50))
        lines.write()
        let torn = try #require(try Self.first(scratch))
        #expect(torn.kind == .torn && torn.index == 10)
        #expect(torn.detail.hasPrefix("the last line is incomplete (50 bytes, no newline), beyond every checkpoint"))

        lines.tail = Array(lines[9].prefix(50))
        lines.remove(at: 9)
        lines.write()
        let cut = try #require(try Self.first(scratch))
        #expect(cut.kind == .truncated && cut.index == 9)
        #expect(cut.detail == "the log ends inside entry 9 (50 bytes, no newline), but a signed checkpoint covers 10 entries")
    }

    @Test func aPartialLastLineWhileAWriterHoldsTheLogIsAnAppendInFlight() throws {
        let (scratch, _) = try Self.makeLog(4)
        let writer = try scratch.open()
        var lines = LogLines(path: scratch.path)
        lines.tail = Array(lines[1].prefix(30))
        lines.write()
        let during = try scratch.verify()
        #expect(during.isIntact)
        #expect(during.notes.contains { $0.contains("entry 4 is being appended by a running writer") })
        try writer.close()
        #expect(try Self.first(scratch)?.kind == .torn)
    }

    @Test func forgedCheckpointsAreNamed() throws {
        let (scratch, signer) = try Self.makeLog()
        let original = scratch.read("checkpoint")
        let attacker = try ApplianceKey.generate(origin: signer.origin)
        scratch.write("checkpoint", attacker.sign(Checkpoint(origin: signer.origin, size: 10, root: RFC6962.emptyRoot)).bytes)
        let foreign = try #require(try Self.first(scratch))
        #expect(foreign.kind == .forgedCheckpoint && foreign.index == 10)
        #expect(foreign.detail.hasPrefix("no signature by a trusted key"))

        scratch.write("checkpoint", signer.sign(Checkpoint(origin: signer.origin, size: 7, root: RFC6962.emptyRoot)).bytes)
        let split = try #require(try Self.first(scratch))
        #expect(split == LogFinding(kind: .forgedCheckpoint, index: 7, location: scratch.path + "/checkpoint",
                                    detail: "signed by the trusted key, but the entries give another root at this size: the key signed a different history"))
        #expect(split.message == "forged checkpoint (size 7): signed by the trusted key, but the entries give another root at this size: the key signed a different history")

        var bent = original
        bent[bent.count - 10] ^= 0x01
        scratch.write("checkpoint", bent)
        #expect(try Self.first(scratch)?.kind == .forgedCheckpoint)
        scratch.write("checkpoint", original)
        #expect(try scratch.verify().isIntact)
    }

    @Test func aPinnedKeyThatIsNotTheLogsIsNamedFirst() throws {
        let (scratch, _) = try Self.makeLog(3)
        let other = try ApplianceKey.generate(origin: "test.sovereign/log")
        let report = try LogVerifier.verify(directory: scratch.path, trusting: other.verifierKey)
        #expect(report.findings.first?.kind == .keyMismatch)
        #expect(report.findings.dropFirst().first?.kind == .edited)
        #expect(report.findings.dropFirst().first?.index == 0)
    }

    @Test func contentRemovedWithoutAPurgeIsAnEdit() throws {
        let (scratch, _) = try Self.makeLog()
        var lines = LogLines(path: scratch.path)
        lines[2] = Array(lines.record(2)!.purged(by: 5).lineBytes.dropLast())
        lines.write()
        #expect(try Self.first(scratch) == LogFinding(kind: .edited, index: 2, location: scratch.path + "/entries/00000000000000000000.jsonl:3",
                                                        detail: "its content was removed, but entry 5 is not a purge that covers it"))
    }

    @Test func purgeDeletesContentAndEveryProofStillVerifies() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 3)
        for n in 0..<9 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        let oldCheckpoint = try log.checkpoint()
        let beforePurge = try scratch.verify()
        let proofs = try (0..<UInt64(9)).map { try beforePurge.inclusionProof(for: $0) }
        let purge = try log.purge(before: 1_780_000_005)
        #expect(purge == LogPurge(purgedEntries: 5, purgeEntry: 9, removedFragments: 0))
        try log.close()

        let report = try scratch.verify()
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.purgedEntries == 5)
        for n in 0..<9 {
            let record = try LogReader.record(at: UInt64(n), directory: scratch.path).record
            #expect((record.content == nil) == (n < 5))
            #expect(record.salt == nil || n >= 5)
            #expect(record.entry.metadata == exchange(n).metadata)
        }
        // No prompt or answer of a purged entry is left in any segment.
        let segment = String(decoding: scratch.read("entries/00000000000000000000.jsonl"), as: UTF8.self)
        #expect(!segment.contains("patient 4 take"))
        #expect(segment.contains("patient 5 take"))
        // Proofs made before the purge still verify against the new checkpoint's tree…
        for proof in proofs {
            let again = try report.inclusionProof(for: proof.index)
            #expect(again.leafHash == proof.leafHash)
            #expect(MerkleProof.verifyInclusion(leafIndex: proof.index, treeSize: proof.checkpoint.checkpoint.size, leafHash: proof.leafHash,
                                                proof: proof.path, root: proof.checkpoint.checkpoint.root))
        }
        // …and the checkpoint signed before it is consistent with today's.
        let consistency = try report.consistencyProof(from: oldCheckpoint)
        #expect(MerkleProof.verifyConsistency(oldSize: 9, newSize: 10, oldRoot: oldCheckpoint.checkpoint.root,
                                              newRoot: consistency.new.checkpoint.root, proof: consistency.path))
    }

    @Test func inclusionAndConsistencyProofsAgainstTheLatestCheckpoint() throws {
        let (scratch, signer) = try Self.makeLog(13, interval: 5)
        let report = try scratch.verify()
        let latest = try #require(report.latest)
        #expect(latest.checkpoint.size == 13)
        #expect(latest.bytes == scratch.read("checkpoint"))
        for index in 0..<UInt64(13) {
            let proof = try report.inclusionProof(for: index)
            let leaf = try LogReader.record(at: index, directory: scratch.path).record.entry.leafBytes
            let bundle = proof.bundle(leaf: leaf)
            let parsed = try TLogProof(parsing: bundle.bytes, source: "bundle")
            #expect(try parsed.verify(trusting: signer.verifierKey, source: "bundle").size == 13)
        }
        #expect(throws: LogError("entry 13", "not in the log (the latest checkpoint covers 13 entries)")) { try report.inclusionProof(for: 13) }
        let history = String(decoding: scratch.read("checkpoints.jsonl"), as: UTF8.self).split(separator: "\n")
        for line in history {
            let record = try CheckpointRecord(parsing: Array(line.utf8), source: "h")
            let old = try SignedCheckpoint.open(record.note.bytes, source: "h", trusting: signer.verifierKey)
            let proof = try report.consistencyProof(from: old)
            if old.checkpoint.size > 0 {
                #expect(MerkleProof.verifyConsistency(oldSize: old.checkpoint.size, newSize: 13, oldRoot: old.checkpoint.root,
                                                      newRoot: latest.checkpoint.root, proof: proof.path))
            }
        }
        let rewritten = signer.sign(Checkpoint(origin: signer.origin, size: 6, root: RFC6962.emptyRoot))
        #expect(throws: LogError.self) { try report.consistencyProof(from: rewritten) }
        let future = signer.sign(Checkpoint(origin: signer.origin, size: 20, root: RFC6962.emptyRoot))
        #expect(throws: LogError("checkpoint", "covers 20 entries, but the log now holds 13: entries were removed since it was signed")) {
            try report.consistencyProof(from: future)
        }
    }

    @Test func proofsAreRefusedForALogThatDoesNotVerify() throws {
        let (scratch, _) = try Self.makeLog()
        var lines = LogLines(path: scratch.path)
        lines.remove(at: 3)
        lines.write()
        let report = try scratch.verify()
        #expect(throws: LogError.self) { try report.inclusionProof(for: 1) }
    }
}
