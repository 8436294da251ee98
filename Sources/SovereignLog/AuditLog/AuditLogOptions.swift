import Glibc

/// How an `AuditLog` writes.
public struct AuditLogOptions: Sendable {
    /// A checkpoint after every this many entries (and on `close`). Every
    /// line is signed anyway; checkpoints are the files auditors collect.
    public var checkpointInterval: UInt64 = 256
    /// The log's origin (its key's name), used only when the key is created.
    /// Nil: `sovereign.appliance/log/<16 hex of the public key's SHA-256>`.
    public var origin: String?
    /// A new segment starts once the current one would pass this size.
    /// `open` reads at most the last segment, and `purge` rewrites whole
    /// segments: smaller is cheaper for both, at the price of more files.
    public var segmentByteLimit: Int64 = 16 << 20
    /// Wait for another writer to close the log, instead of failing at once.
    public var waitForLock = false
    /// Unix seconds for entry times (tests inject a fixed clock).
    public var clock: @Sendable () -> Int64 = { Int64(time(nil)) }
    /// Crash at a named step (fault-injection tests; see `LogCrashPoint`).
    public var crash: LogCrashInjection?

    public init() {}
}

/// The steps at which a crash is interesting, for fault-injection tests.
public enum LogCrashPoint: String, Sendable, CaseIterable {
    /// The entry is built and signed; nothing is written.
    case beforeWrite = "before-write"
    /// Half the line is written, no newline: a torn line.
    case midLine = "mid-line"
    /// The whole line is written but not fsynced.
    case beforeSync = "before-sync"
    /// The line is durable; `append` has not returned.
    case afterSync = "after-sync"
    /// checkpoints.jsonl has the new checkpoint; `checkpoint` is not replaced yet.
    case midCheckpoint = "mid-checkpoint"
    /// The purge entry is durable; no content is deleted yet.
    case midPurge = "mid-purge"
    /// Torn bytes are saved and cut off; the recovery entry is not written.
    case midRecovery = "mid-recovery"
}

/// Where and how to crash.
public struct LogCrashInjection: Sendable {
    public var point: LogCrashPoint
    /// How many times the step is passed before the crash (0: the first time).
    public var skip: Int
    /// true: SIGKILL this process, as kill -9 would. false: throw, and leave
    /// the log object unusable with nothing more written, as if the process
    /// had died there (the files are then exactly what a kill leaves).
    public var killsProcess: Bool

    public init(point: LogCrashPoint, skip: Int = 0, killsProcess: Bool) {
        self.point = point
        self.skip = skip
        self.killsProcess = killsProcess
    }

    /// Reads `<step>[:<skip>]` (the `SOVEREIGN_LOG_CRASH_AT` form); nil if malformed.
    public init?(parsing text: String, killsProcess: Bool) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let first = parts.first, let point = LogCrashPoint(rawValue: first) else { return nil }
        let skip = parts.count > 1 ? Int(parts[1]) : 0
        guard let skip, skip >= 0 else { return nil }
        self.init(point: point, skip: skip, killsProcess: killsProcess)
    }
}
