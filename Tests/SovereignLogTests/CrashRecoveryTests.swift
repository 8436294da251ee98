import Foundation
import Testing
import SovereignCrypto
import SovereignFormats
import SovereignTestSupport
@testable import SovereignLog

/// A crash at every named step of an append, a checkpoint, a purge and a
/// recovery (simulated: nothing more is written after the step, exactly
/// what a kill -9 there leaves): no entry whose append returned is lost,
/// a torn line is reported, then recovered and recorded, never dropped.
@Suite struct CrashRecoveryTests {
    /// Appends until the injected crash; returns the indices whose append returned.
    static func appendUntilCrash(_ log: AuditLog, from first: Int, limit: Int = 50) -> [UInt64] {
        var returned: [UInt64] = []
        for n in first..<(first + limit) {
            guard let index = try? log.append(metadata: exchange(n).metadata, content: exchange(n).content) else { break }
            returned.append(index)
        }
        try? log.close()
        return returned
    }

    static func expectPresent(_ returned: [UInt64], in scratch: ScratchLog, offset: Int,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        for index in returned {
            let record = try LogReader.record(at: index, directory: scratch.path).record
            #expect(record.entry.metadata["requestID"] == .string("req-\(Int(index) + offset)"), sourceLocation: sourceLocation)
            #expect(record.content == exchange(Int(index) + offset).content, sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [LogCrashPoint.beforeWrite, .midLine, .beforeSync, .afterSync, .midCheckpoint])
    func aCrashDuringAppendLosesNoReturnedEntry(point: LogCrashPoint) throws {
        var random = SeededBytes(seed: 0x5EED_0000 + UInt64(LogCrashPoint.allCases.firstIndex(of: point)!))
        for _ in 0..<6 {
            let scratch = try ScratchLog()
            let interval = 1 + random.next() % 5
            let warmup = Int(random.next() % 7)
            let log = try scratch.open(interval: interval)
            for n in 0..<warmup { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
            try log.close()
            let skip = Int(random.next() % 4)
            let crashing = try scratch.open(interval: interval, crash: LogCrashInjection(point: point, skip: skip, killsProcess: false))
            let returned = (0..<UInt64(warmup)).map { $0 } + Self.appendUntilCrash(crashing, from: warmup)
            #expect(returned.count >= warmup)

            // Before anyone reopens it: only a torn line is a finding, and it is named.
            let before = try scratch.verify()
            if point == .midLine {
                #expect(before.findings.map(\.kind) == [.torn], "\(before.findings)")
                #expect(before.findings.first?.index == before.entryCount)
            } else {
                #expect(before.isIntact, "\(point): \(before.findings)")
            }
            #expect(before.entryCount >= UInt64(returned.count))

            // Reopening recovers; every returned entry is there; the log verifies.
            let reopened = try scratch.open(interval: interval)
            if point == .midLine {
                let recovery = try #require(reopened.recovery)
                #expect(recovery.entryIndex == before.entryCount)
                #expect(recovery.fragments.count == 1)
                let fragment = recovery.fragments[0]
                #expect(fragment.file.hasPrefix("entries/"))
                let kept = scratch.read(fragment.savedAs)
                #expect(SHA256.hash(kept) == fragment.sha256)
                #expect(Int64(kept.count) == fragment.length)
                #expect(!kept.contains(0x0A))
            } else {
                #expect(reopened.recovery == nil)
            }
            _ = try reopened.append(metadata: exchange(999).metadata, content: exchange(999).content)
            try reopened.close()
            try Self.expectPresent(returned, in: scratch, offset: 0)
            let after = try scratch.verify()
            #expect(after.isIntact, "\(point): \(after.findings)")
            #expect(after.recoveries.count == (point == .midLine ? 1 : 0))
            #expect(scratch.read("checkpoint") == after.latest?.bytes)
        }
    }

    @Test func aCrashBetweenSavingTornBytesAndRecordingThemRecordsThemOnTheNextOpen() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(crash: LogCrashInjection(point: .midLine, skip: 3, killsProcess: false))
        let returned = Self.appendUntilCrash(log, from: 0)
        #expect(returned.count == 3)
        #expect(throws: LogError(scratch.path, "simulated crash at mid-recovery")) {
            try scratch.open(crash: LogCrashInjection(point: .midRecovery, killsProcess: false))
        }
        // The torn bytes are cut off and kept, pending; nothing recorded yet.
        let pending = try FileManager.default.contentsOfDirectory(atPath: scratch.file("torn"))
        #expect(pending.count == 1 && pending[0].hasPrefix("pending-00000000000000000000.jsonl@"))
        let reopened = try scratch.open()
        let recovery = try #require(reopened.recovery)
        #expect(recovery.entryIndex == 3)
        try reopened.close()
        let kept = try FileManager.default.contentsOfDirectory(atPath: scratch.file("torn"))
        #expect(kept == [String(pending[0].dropFirst("pending-".count))])
        let report = try scratch.verify()
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.recoveries == [3])
        let entry = try LogReader.record(at: 3, directory: scratch.path).record.entry
        #expect(entry.kind == .recovery)
        #expect(entry.metadata["torn"]?.arrayValue?.count == 1)
    }

    @Test func aTornCheckpointRecordIsKeptAndRecordedToo() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 2)
        for n in 0..<4 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        try log.close()
        var history = scratch.read("checkpoints.jsonl")
        history += Array(history.suffix(40).dropLast())   // part of a record, no newline
        scratch.write("checkpoints.jsonl", history)
        let report = try scratch.verify()
        #expect(report.isIntact)
        #expect(report.notes.contains { $0.contains("an incomplete checkpoint record") })
        let reopened = try scratch.open(interval: 2)
        let recovery = try #require(reopened.recovery)
        #expect(recovery.fragments.map(\.file) == ["checkpoints.jsonl"])
        try reopened.close()
        #expect(try scratch.verify().isIntact)
    }

    @Test func aCrashInThePurgeLeavesEverySegmentWholeAndPurgingAgainFinishes() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 3, segmentBytes: 2048)
        for n in 0..<12 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        try log.close()
        let cutoff = scratch.clock.peek() - 4   // entries 0…7 are older
        let crashing = try scratch.open(interval: 3, segmentBytes: 2048, crash: LogCrashInjection(point: .midPurge, killsProcess: false))
        #expect(throws: LogError.self) { try crashing.purge(before: cutoff) }
        try? crashing.close()
        let between = try scratch.verify()
        #expect(between.isIntact, "\(between.findings)")
        #expect(between.purgedEntries == 0)
        let again = try scratch.open(interval: 3, segmentBytes: 2048)
        let purge = try again.purge(before: cutoff)
        #expect(purge.purgedEntries == 8)
        #expect(purge.purgeEntry == 13)
        try again.close()
        let report = try scratch.verify()
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.purgedEntries == 8)
    }
}
