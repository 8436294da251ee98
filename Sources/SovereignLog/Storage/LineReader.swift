import SovereignSystem

/// Reads a file as lines with bounded memory: at most `maxLine` bytes of a
/// line are ever held, so a hostile file cannot make a reader allocate
/// without limit. Reads no more than the size the file had when opened, so
/// a writer appending meanwhile cannot keep it reading forever.
struct LineReader {
    enum Item {
        /// A line (without its newline) starting at `offset`.
        case line([UInt8], offset: Int64)
        /// Bytes after the last newline: an append that did not finish.
        case fragment([UInt8], offset: Int64)
        /// A line longer than `maxLine` (its bytes are skipped), ending at a
        /// newline or, when `terminated` is false, at the end of the file.
        case overlong(offset: Int64, length: Int64, terminated: Bool)
    }

    private let file: FileDescriptor
    private let maxLine: Int
    private var remaining: Int64
    private var buffer: [UInt8] = []
    private var start = 0
    /// File offset of `buffer[start]`.
    private var offset: Int64 = 0
    private var atEnd = false
    private static let chunk = 1 << 20

    /// Reads `file` from `start` (where its offset must already be) to `size`.
    init(file: FileDescriptor, size: Int64, maxLine: Int, start: Int64 = 0) {
        self.file = file
        self.remaining = size - start
        self.maxLine = maxLine
        self.offset = start
    }

    mutating func next() throws(SystemError) -> Item? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                let lineOffset = offset
                consume(upTo: newline + 1)
                return .line(line, offset: lineOffset)
            }
            if buffer.count - start > maxLine {
                return try skipOverlong()
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let fragment = Array(buffer[start...])
                let fragmentOffset = offset
                consume(upTo: buffer.count)
                return .fragment(fragment, offset: fragmentOffset)
            }
            try fill()
        }
    }

    /// Skips to the end of an overlong line.
    private mutating func skipOverlong() throws(SystemError) -> Item {
        let lineOffset = offset
        var length: Int64 = 0
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                length += Int64(newline - start)
                consume(upTo: newline + 1)
                return .overlong(offset: lineOffset, length: length, terminated: true)
            }
            length += Int64(buffer.count - start)
            consume(upTo: buffer.count)
            if atEnd { return .overlong(offset: lineOffset, length: length, terminated: false) }
            try fill()
        }
    }

    private mutating func consume(upTo end: Int) {
        offset += Int64(end - start)
        start = end
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
    }

    private mutating func fill() throws(SystemError) {
        guard remaining > 0 else { atEnd = true; return }
        if start > 0 {
            buffer.removeSubrange(..<start)
            start = 0
        }
        let want = Int(min(Int64(Self.chunk), remaining))
        let old = buffer.count
        buffer += [UInt8](repeating: 0, count: want)
        let file = self.file
        let got = try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(SystemError) in try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[old...])) }
        }.get()
        buffer.removeSubrange((old + got)...)
        if got == 0 { atEnd = true } else { remaining -= Int64(got) }
    }
}
