import Foundation
import Glibc
import Testing
import SovereignCrypto
import SovereignFormats
import SovereignTestSupport
@testable import SovereignLog

/// A log under a fresh scratch directory, with a clock that ticks one
/// second per entry from a fixed start, so times are reproducible.
final class ScratchLog: @unchecked Sendable {
    let scratch: TemporaryDirectory
    var path: String { scratch.path + "/log" }
    let clock: TestClock

    init(start: Int64 = 1_780_000_000) throws {
        scratch = try TemporaryDirectory()
        clock = TestClock(start: start)
    }

    deinit { scratch.remove() }

    func options(interval: UInt64 = 4, segmentBytes: Int64 = 64 << 20, crash: LogCrashInjection? = nil) -> AuditLogOptions {
        var options = AuditLogOptions()
        options.checkpointInterval = interval
        options.segmentByteLimit = segmentBytes
        options.origin = "test.sovereign/log"
        let clock = self.clock
        options.clock = { clock.tick() }
        options.crash = crash
        return options
    }

    func open(interval: UInt64 = 4, segmentBytes: Int64 = 64 << 20, crash: LogCrashInjection? = nil) throws -> AuditLog {
        try AuditLog.open(directory: path, options: options(interval: interval, segmentBytes: segmentBytes, crash: crash))
    }

    func file(_ relative: String) -> String { path + "/" + relative }

    func read(_ relative: String) -> [UInt8] {
        FileManager.default.contents(atPath: file(relative)).map { [UInt8]($0) } ?? []
    }

    func write(_ relative: String, _ bytes: [UInt8]) {
        writeFile(file(relative), bytes)
    }

    func segments() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: file("entries"))) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
    }

    func verify(pinned: Bool = true) throws -> LogVerification {
        try LogVerifier.verify(directory: path, trusting: pinned ? LogReader.publishedKey(directory: path) : nil)
    }
}

/// A clock that returns start, start+1, … (thread-safe).
final class TestClock: @unchecked Sendable {
    private var next: Int64
    private let lock = NSLock()
    init(start: Int64) { next = start }
    func tick() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        return next - 1
    }
    func peek() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        return next
    }
}

/// An exchange's worth of metadata and content, distinct per `n`.
func exchange(_ n: Int) -> (metadata: [String: JSONValue], content: [String: JSONValue]) {
    (["requestID": .string("req-\(n)"), "model": .string("sha256:" + String(repeating: "ab", count: 32)),
      "passages": .array([.string("dosage-\(n % 3)")]), "attempts": .integer(Int64(1 + n % 2))],
     ["prompt": .string("How much paracetamol may patient \(n) take?"),
      "answer": .string("At most 4 g in 24 hours (passage dosage-\(n % 3)); ask a pharmacist — n°\(n).")])
}

/// Replaces a file's bytes in place with plain write(2) (Foundation's
/// createFile writes atomically and fsyncs, which tests need not wait for).
func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            precondition(n > 0, "cannot write \(path)")
            offset += n
        }
    }
    close(fd)
}

extension TemporaryDirectory {
    func read(_ relative: String) -> [UInt8] {
        FileManager.default.contents(atPath: path + "/" + relative).map { [UInt8]($0) } ?? []
    }
}
