/// Where a log keeps what, and how big anything read from it may be.
///
///     log/appliance.key          the signing key (0600, created once)
///     log/appliance.pub          its verifier key string (what auditors pin)
///     log/entries/<20 digits>.jsonl
///                                segments of JSON lines, named by their first index
///     log/checkpoints.jsonl      every checkpoint written, with the tree's right edge
///     log/checkpoint             the latest signed checkpoint (C2SP text)
///     log/torn/                  bytes of interrupted appends, kept as evidence
///     log/.lock                  flock: one writer; readers take it shared
public enum LogLayout {
    public static let entriesDirectory = "entries"
    public static let tornDirectory = "torn"
    public static let checkpointFile = "checkpoint"
    public static let checkpointHistory = "checkpoints.jsonl"
    static let lockFile = ".lock"
    static let segmentSuffix = ".jsonl"
    static let purgeSuffix = ".purge-tmp"
    static let checkpointTemporary = ".checkpoint.tmp"
    static let pendingPrefix = "pending-"

    /// Longest log line (one entry, its content and its signature).
    public static let maxLineBytes = 1 << 20
    /// Longest line of checkpoints.jsonl.
    static let maxCheckpointLineBytes = 128 << 10

    /// `00000000000000000042.jsonl`: 20 digits sort as numbers do.
    static func segmentName(firstIndex: UInt64) -> String {
        let digits = String(firstIndex)
        return String(repeating: "0", count: 20 - digits.count) + digits + segmentSuffix
    }

    /// The first index a segment's name gives, or nil if it is not a segment's name.
    static func firstIndex(ofSegment name: [UInt8]) -> UInt64? {
        let suffix = Array(segmentSuffix.utf8)
        guard name.count == 20 + suffix.count, name.suffix(suffix.count).elementsEqual(suffix),
              name.prefix(20).allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return UInt64(String(decoding: name.prefix(20), as: UTF8.self))
    }
}
