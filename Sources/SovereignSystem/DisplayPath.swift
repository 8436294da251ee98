/// Paths for messages, bounded in length.
///
/// A directory handle carries the path it was opened from so that an error
/// can name the file. A walk thousands of levels deep would otherwise keep a
/// path per level that grows with the depth: memory with the square of the
/// depth (20,000 levels took 466 MB). Up to `limit` bytes a path is shown
/// whole; past it, as its start (where the walk began), an ellipsis, and its
/// last components: `R/store/.trash-<hex>/d/d/…/d/d/f`. Every path made
/// here is at most `limit` bytes plus one component, so a walk needs memory
/// linear in its depth. The walk itself never uses these strings: it goes
/// by descriptors and single names.
public enum DisplayPath {
    /// Longest path shown whole, in bytes.
    public static let limit = 1024
    /// Between the start and the last components of a shortened path.
    public static let elision = "/\u{2026}/"
    private static let elisionBytes = Array(elision.utf8)
    private static let slash = UInt8(ascii: "/")

    /// `parent/name`, shortened once it is longer than `limit`.
    public static func child(_ parent: String, _ name: String) -> String {
        guard parent.utf8.count + 1 + name.utf8.count > limit else { return parent + "/" + name }
        var joined = Array(parent.utf8)
        joined.append(slash)
        joined.append(contentsOf: name.utf8)
        return joined.withUnsafeBufferPointer { shorten($0) }
    }

    /// A path over the limit as its start, the ellipsis and its last components.
    private static func shorten(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let half = limit / 2
        var head: Range<Int>, tail: Range<Int>
        if let marker = firstElision(in: bytes) {
            head = 0..<marker
            tail = (marker + elisionBytes.count)..<bytes.count
        } else {
            // First time over the limit: keep about half of it as the start, cut at a slash.
            let cut = bytes[0..<half].lastIndex(of: slash)
            head = 0..<(cut ?? half)
            tail = (cut.map { $0 + 1 } ?? half)..<bytes.count
        }
        if head.count > half { head = 0..<half }
        if tail.count > half {
            // The last components that fit; a single long name is kept whole (NAME_MAX bounds it).
            if let next = bytes[(tail.upperBound - half)..<tail.upperBound].firstIndex(of: slash), next + 1 < tail.upperBound {
                tail = (next + 1)..<tail.upperBound
            } else if let last = bytes[tail].lastIndex(of: slash) {
                tail = (last + 1)..<tail.upperBound
            }
        }
        var shortened = [UInt8]()
        shortened.reserveCapacity(head.count + elisionBytes.count + tail.count)
        shortened.append(contentsOf: bytes[head])
        shortened.append(contentsOf: elisionBytes)
        shortened.append(contentsOf: bytes[tail])
        return String(decoding: shortened, as: UTF8.self)
    }

    /// `child` with the name given as bytes (shown with invalid UTF-8 replaced).
    public static func child(_ parent: String, _ name: [UInt8]) -> String {
        child(parent, String(decoding: name, as: UTF8.self))
    }

    /// The display path of the directory holding `path`, for a walk that
    /// climbs back up: the path without its last component, or, once only
    /// the start and the ellipsis are left, that (it then stands for every
    /// directory between).
    public static func parent(of path: String) -> String {
        if path.hasSuffix("/\u{2026}") { return path }
        let bytes = Array(path.utf8)
        guard let last = bytes.lastIndex(of: slash) else { return "." }
        if last == 0 { return "/" }
        // "start/…/name" climbs to "start/…", and stays there.
        return String(decoding: bytes[..<last], as: UTF8.self)
    }

    /// Where the first elision marker starts (within the start's budget), if any.
    private static func firstElision(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let marker = elisionBytes
        let last = min(bytes.count, limit / 2 + marker.count) - marker.count
        guard last >= 0 else { return nil }
        var index = 0
        while index <= last {
            if bytes[index] == marker[0] && bytes[index + 1] == marker[1] {
                var matched = 2
                while matched < marker.count && bytes[index + matched] == marker[matched] { matched += 1 }
                if matched == marker.count { return index }
            }
            index += 1
        }
        return nil
    }
}
