/// One entry as the strict reader sees it: what libarchive must report
/// for the same entry, byte for byte.
struct TarProfileEntry: Equatable, Sendable {
    /// The name as every reader sees it: the pax `path`, else `prefix/name`.
    let name: [UInt8]
    let isDirectory: Bool
    let size: Int64
    /// The permission bits (at most 0o7777).
    let mode: UInt32
}

/// Holds a layer's raw bytes to `TarProfile` as they stream past: a small
/// state machine over 512-byte blocks that sees exactly the bytes handed
/// to libarchive, in any chunking. It keeps at most one header block and
/// one pax header (capped at `TarProfile.maximumPaxHeaderSize`) in memory,
/// plus the entries validated but not yet claimed by the extractor's
/// cross-check (libarchive's read position bounds them to about a chunk's
/// worth of headers).
///
/// The first departure from the profile is thrown as an `ArchiveError`
/// naming the layer, the entry (escaped with `SafeTarPath.display`) and
/// the reason; after it the validator accepts nothing more.
struct TarProfileValidator {
    private enum State {
        /// The next block is a header, or the first end-of-archive block.
        case header
        /// Reading a pax header's records: this many bytes to go.
        case paxRecords(remaining: Int)
        /// An entry's data: this many bytes to go.
        case data(remaining: Int64)
        /// Zero bytes up to the next block boundary: this many to go.
        case padding(remaining: Int)
        /// One zero block seen; the next must be the second.
        case secondEndBlock
        /// Both end-of-archive blocks seen; counting anything after them.
        case ended
    }

    /// An `x` header read, waiting for the entry it describes.
    private struct PendingPax {
        /// The `x` header's own name (prefix/name).
        let headerName: [UInt8]
        let size: Int
        var data: [UInt8] = []
        var records: Result<PaxRecords, PaxRecords.Refusal>?
    }

    private let label: String
    private var state = State.header
    private var block: [UInt8] = []
    private var pax: PendingPax?
    /// The name of what is being read (an entry's data, a pax header), for messages.
    private var current: [UInt8] = []
    private var entries: [TarProfileEntry] = []
    private var claimed = 0
    private var failed = false
    /// Bytes checked so far.
    private(set) var offset: Int64 = 0
    /// Bytes after the end-of-archive blocks.
    private(set) var trailing: Int64 = 0

    init(label: String) {
        self.label = label
        block.reserveCapacity(TarHeaderBlock.size)
    }

    /// The next entry validated and not yet claimed, in archive order.
    mutating func claimEntry() -> TarProfileEntry? {
        guard claimed < entries.count else { return nil }
        let entry = entries[claimed]
        claimed += 1
        if claimed >= 1024, claimed * 2 >= entries.count {
            entries.removeFirst(claimed)
            claimed = 0
        }
        return entry
    }

    /// Checks the next bytes of the layer.
    mutating func consume(_ chunk: UnsafeRawBufferPointer) throws(ArchiveError) {
        precondition(!failed, "the validator already refused this layer")
        do {
            try step(chunk)
        } catch {
            failed = true
            throw error
        }
    }

    /// At the end of the stream: the layer must have ended with its two
    /// end-of-archive blocks and nothing after them.
    mutating func finish() throws(ArchiveError) {
        precondition(!failed, "the validator already refused this layer")
        failed = true  // nothing more may be consumed either way
        switch state {
        case .ended:
            if trailing > 0 { throw ArchiveError(path: label, reason: "has \(trailing) bytes after its end-of-archive blocks") }
        case .header where !block.isEmpty:
            throw ArchiveError(path: label, reason: "is truncated in the middle of a header block (\(block.count) of its 512 bytes)")
        case .header:
            if let pax {
                throw refusal(pax.headerName, "is a pax extended header followed by the end of the layer, not by the entry it describes")
            }
            throw ArchiveError(path: label, reason: "does not end with two zero end-of-archive blocks")
        case .secondEndBlock:
            throw ArchiveError(path: label, reason: "does not end with two zero end-of-archive blocks (it ends after one)")
        case .paxRecords(let remaining):
            throw refusal(current, "is truncated: the layer ends \(remaining) bytes before the end of this pax extended header")
        case .data(let remaining):
            throw refusal(current, "is truncated: the layer ends \(remaining) bytes before the end of its data")
        case .padding(let remaining):
            throw refusal(current, "is truncated: the layer ends \(remaining) bytes before the end of the padding after its data")
        }
    }

    private func refusal(_ name: [UInt8], _ reason: String) -> ArchiveError {
        Self.refusal(label, name, reason)
    }

    private static func refusal(_ label: String, _ name: [UInt8], _ reason: String) -> ArchiveError {
        ArchiveError(path: name.isEmpty ? "\(label): (an entry with an empty name)" : "\(label): \(SafeTarPath.display(name))", reason: reason)
    }

    // MARK: - Blocks

    private mutating func step(_ chunk: UnsafeRawBufferPointer) throws(ArchiveError) {
        var index = 0
        let count = chunk.count
        while index < count {
            let available = count - index
            switch state {
            case .header, .secondEndBlock:
                let take = min(TarHeaderBlock.size - block.count, available)
                block.append(contentsOf: chunk[index..<(index + take)])
                index += take
                offset += Int64(take)
                if block.count == TarHeaderBlock.size {
                    let header = TarHeaderBlock(block)
                    block.removeAll(keepingCapacity: true)
                    try headerBlock(header, at: offset - Int64(TarHeaderBlock.size))
                }
            case .paxRecords(let remaining):
                let take = min(remaining, available)
                pax!.data.append(contentsOf: chunk[index..<(index + take)])
                index += take
                offset += Int64(take)
                if take == remaining {
                    // Parsed now, reported with the entry it describes (its name is in the next header).
                    pax!.records = PaxRecords.parse(pax!.data)
                    pax!.data = []
                    let padding = Self.paddingSize(Int64(pax!.size))
                    state = padding == 0 ? .header : .padding(remaining: padding)
                } else {
                    state = .paxRecords(remaining: remaining - take)
                }
            case .data(let remaining):
                let take = Int(min(remaining, Int64(available)))
                index += take
                offset += Int64(take)
                state = Int64(take) == remaining ? .padding(remaining: Self.paddingSize(offset)) : .data(remaining: remaining - Int64(take))
                if case .padding(0) = state { state = .header }
            case .padding(let remaining):
                let take = min(remaining, available)
                if let nonzero = chunk[index..<(index + take)].firstIndex(where: { $0 != 0 }) {
                    throw refusal(current, "has a non-zero byte in the padding after its data (byte \(offset + Int64(nonzero - index)) of the layer); padding is zeros")
                }
                index += take
                offset += Int64(take)
                state = take == remaining ? .header : .padding(remaining: remaining - take)
            case .ended:
                trailing += Int64(available)
                offset += Int64(available)
                index = count
            }
        }
    }

    /// Zero bytes from `position` to the next 512-byte boundary.
    private static func paddingSize(_ position: Int64) -> Int {
        Int((512 - position % 512) % 512)
    }

    // MARK: - Headers

    private static let regular = UInt8(ascii: "0"), directory = UInt8(ascii: "5"), paxHeader = UInt8(ascii: "x")

    private mutating func headerBlock(_ header: TarHeaderBlock, at position: Int64) throws(ArchiveError) {
        if header.isZero {
            if case .secondEndBlock = state {
                state = .ended
                return
            }
            if let pax {
                throw refusal(pax.headerName, "is a pax extended header followed by the end-of-archive blocks, not by the entry it describes")
            }
            state = .secondEndBlock
            return
        }
        // Names as stored, for messages before the fields are checked.
        let rawName = Self.upToNUL(header.field(TarHeaderBlock.name))
        let rawPrefix = Self.upToNUL(header.field(TarHeaderBlock.prefix))
        let joined = header.joinedName(prefix: rawPrefix, name: rawName)
        let paxPath: [UInt8]? = if case .success(let records)? = pax?.records { records.path } else { nil }
        let place = paxPath ?? joined
        let label = self.label
        func refuse(_ reason: String) -> ArchiveError { Self.refusal(label, place, reason) }

        if case .secondEndBlock = state {
            throw ArchiveError(path: label, reason: "has a header after a single zero block at byte \(position - 512) (libarchive stops at the zero block, GNU tar -i reads on); a layer ends with exactly two zero blocks")
        }
        let computed = header.computedChecksum
        guard case .octal(let stored)? = header.numeric(TarHeaderBlock.checksum), stored == computed else {
            if position == 0 {
                throw ArchiveError(path: label, reason: "is not a tar archive: its first block is no valid header (checksum field '\(header.shown(TarHeaderBlock.checksum))', bytes summing to \(computed))")
            }
            throw refuse("has a damaged header at byte \(position): its checksum field is '\(header.shown(TarHeaderBlock.checksum))', its bytes sum to \(computed)")
        }
        let type = header.typeflag
        guard type == Self.regular || type == Self.directory || type == Self.paxHeader else {
            throw refuse("\(Self.describe(type)); a layer holds only regular files ('0') and directories ('5'), each after at most one pax extended header ('x')")
        }
        if type == Self.paxHeader, let pax {
            throw refusal(pax.headerName, "is a pax extended header followed by another one ('\(SafeTarPath.display(joined))'), not by the entry it describes")
        }
        if let pax, case .failure(let problem)? = pax.records {
            throw refuse(problem.reason)
        }
        guard Array(header.field(TarHeaderBlock.magic)) == Array("ustar".utf8) + [0],
              Array(header.field(TarHeaderBlock.version)) == Array("00".utf8) else {
            throw refuse("has magic '\(header.shown(TarHeaderBlock.magic))' and version '\(header.shown(TarHeaderBlock.version))', not POSIX ustar's 'ustar\\x00' and '00' (other formats, such as GNU tar's, are read differently by different readers)")
        }
        try checkFields(header, name: rawName, prefix: rawPrefix, refuse)

        guard let size = header.numeric(TarHeaderBlock.sizeField) else {
            throw refuse("has a size field '\(header.shown(TarHeaderBlock.sizeField))' that is not octal digits ended by NUL or space")
        }
        if type == Self.paxHeader {
            guard case .octal(let length) = size, length <= Int64(TarProfile.maximumPaxHeaderSize) else {
                throw refuse("is a pax extended header of \(size.value) bytes, more than the \(TarProfile.maximumPaxHeaderSize) allowed")
            }
            guard length > 0 else { throw refuse("is an empty pax extended header (the writer never makes one)") }
            pax = PendingPax(headerName: joined, size: Int(length))
            current = joined
            state = .paxRecords(remaining: Int(length))
            return
        }
        try entryHeader(header, type: type, joined: joined, size: size, place: place, refuse)
    }

    /// Every field but size and typeflag, as the writer fills them.
    private func checkFields(_ header: TarHeaderBlock, name: [UInt8], prefix: [UInt8],
                             _ refuse: (String) -> ArchiveError) throws(ArchiveError) {
        guard header.text(TarHeaderBlock.name) != nil else {
            throw refuse("has bytes after the NUL that ends its name field ('\(header.shown(TarHeaderBlock.name))')")
        }
        guard header.text(TarHeaderBlock.prefix) != nil else {
            throw refuse("has bytes after the NUL that ends its prefix field ('\(header.shown(TarHeaderBlock.prefix))')")
        }
        if !prefix.isEmpty {
            guard prefix.last != TarProfile.slash else {
                throw refuse("has a prefix field ending in '/' (libarchive joins it to the name without another '/', Python's tarfile with one)")
            }
            guard !name.isEmpty else { throw refuse("has a prefix field but an empty name field") }
        }
        guard header.field(TarHeaderBlock.linkname).allSatisfy({ $0 == 0 }) else {
            throw refuse("has a link name ('\(header.shown(TarHeaderBlock.linkname))'); regular files and directories have none")
        }
        guard header.field(TarHeaderBlock.uname).allSatisfy({ $0 == 0 }),
              header.field(TarHeaderBlock.gname).allSatisfy({ $0 == 0 }) else {
            throw refuse("has a user or group name ('\(header.shown(TarHeaderBlock.uname))', '\(header.shown(TarHeaderBlock.gname))'); the writer records none, and other readers would chown to it")
        }
        guard case .octal(let mode)? = header.numeric(TarHeaderBlock.mode), mode <= 0o7777 else {
            throw refuse("has a mode field '\(header.shown(TarHeaderBlock.mode))' that is not octal up to 07777 ended by NUL or space")
        }
        guard header.numeric(TarHeaderBlock.uid) == .octal(0), header.numeric(TarHeaderBlock.gid) == .octal(0) else {
            throw refuse("has uid '\(header.shown(TarHeaderBlock.uid))' and gid '\(header.shown(TarHeaderBlock.gid))'; a layer's entries are owned by 0, as the writer makes them, and other readers would chown to anything else")
        }
        guard header.isEmptyOrZero(TarHeaderBlock.devmajor), header.isEmptyOrZero(TarHeaderBlock.devminor) else {
            throw refuse("has device numbers ('\(header.shown(TarHeaderBlock.devmajor))', '\(header.shown(TarHeaderBlock.devminor))'); only devices have them")
        }
        switch header.numeric(TarHeaderBlock.mtime) {
        case .octal?, .octalFullWidth?: break
        default: throw refuse("has an mtime field '\(header.shown(TarHeaderBlock.mtime))' that is not octal digits")
        }
        guard header.field(TarHeaderBlock.padding).allSatisfy({ $0 == 0 }) else {
            throw refuse("has non-zero bytes in the last 12 bytes of its header, which POSIX ustar leaves unused (other formats keep data there)")
        }
    }

    /// A regular file or directory header, with the pax header before it if any.
    private mutating func entryHeader(_ header: TarHeaderBlock, type: UInt8, joined: [UInt8], size: TarHeaderBlock.Numeric,
                                      place: [UInt8], _ refuse: (String) -> ArchiveError) throws(ArchiveError) {
        let records: PaxRecords? = if case .success(let records)? = pax?.records { records } else { nil }
        let name = records?.path ?? joined
        let isDirectory = type == Self.directory
        if isDirectory {
            guard name.last == TarProfile.slash, joined.last == TarProfile.slash else {
                throw refuse("is a directory whose name does not end in '/' (the writer always ends one so)")
            }
            guard size.value == 0 else {
                throw refuse("is a directory with a size of \(size.value) bytes (libarchive ignores it and reads the data as headers, other readers skip the data)")
            }
        } else {
            guard name.last != TarProfile.slash, joined.last != TarProfile.slash else {
                throw refuse("is a regular file (typeflag '0') whose name ends in '/' (libarchive reads it as a directory, Python's tarfile as a file)")
            }
        }
        switch size {
        case .octal:
            break
        case .octalFullWidth(let value), .base256(let value):
            guard value >= TarProfile.extendedSizeThreshold else {
                throw refuse("has its size (\(value) bytes) in an extended form ('\(header.shown(TarHeaderBlock.sizeField))') where ustar's eleven octal digits hold it")
            }
            guard records?.size != nil else {
                throw refuse("is \(value) bytes, more than ustar's eleven octal digits hold, with no pax 'size' record (the writer adds one from 8 GiB)")
            }
        }
        if let paxSize = records?.size, paxSize != size.value {
            throw refuse("has a pax 'size' of \(paxSize) bytes but a header size of \(size.value) (a reader that ignores pax records would find the next header elsewhere)")
        }
        if let paxTime = records?.mtime, let headerTime = header.numeric(TarHeaderBlock.mtime)?.value, paxTime != headerTime {
            throw refuse("has a pax 'mtime' of \(paxTime) but a header mtime of \(headerTime)")
        }
        if let pax {
            if let path = records?.path, !TarProfile.isUstarName(joined, of: path) {
                throw refuse("has a pax 'path' and a ustar name ('\(SafeTarPath.display(joined))') that disagree: a reader that ignores pax records would extract the ustar name, which is neither the path nor a truncation of it (leading directories of the path, then the start of its last component)")
            }
            guard TarProfile.isPaxHeaderName(pax.headerName, for: joined) else {
                throw refuse("follows a pax extended header named '\(SafeTarPath.display(pax.headerName))'; a layer's writer names it '<directory>/PaxHeader/<file>' after the entry's own name")
            }
        }
        let mode = header.numeric(TarHeaderBlock.mode)?.value ?? 0
        let entrySize = isDirectory ? 0 : size.value
        entries.append(TarProfileEntry(name: name, isDirectory: isDirectory, size: entrySize, mode: UInt32(mode)))
        pax = nil
        current = place
        state = entrySize > 0 ? .data(remaining: entrySize) : .header
    }

    private static func upToNUL(_ field: ArraySlice<UInt8>) -> [UInt8] {
        Array(field.prefix { $0 != 0 })
    }

    /// What a refused typeflag makes an entry, for the message.
    static func describe(_ type: UInt8) -> String {
        switch type {
        case 0: return "is an old-style regular file (typeflag NUL)"
        case UInt8(ascii: "1"): return "is a hard link (typeflag '1')"
        case UInt8(ascii: "2"): return "is a symbolic link (typeflag '2')"
        case UInt8(ascii: "3"): return "is a character device (typeflag '3')"
        case UInt8(ascii: "4"): return "is a block device (typeflag '4')"
        case UInt8(ascii: "6"): return "is a FIFO (typeflag '6')"
        case UInt8(ascii: "7"): return "is a contiguous file (typeflag '7')"
        case UInt8(ascii: "g"): return "is a pax global header (typeflag 'g'), whose records other tar readers apply to every later entry"
        case UInt8(ascii: "L"): return "is a GNU long-name header (typeflag 'L'), which renames the entry after it"
        case UInt8(ascii: "K"): return "is a GNU long-link-name header (typeflag 'K')"
        case UInt8(ascii: "V"): return "is a GNU volume header (typeflag 'V')"
        case UInt8(ascii: "N"): return "is a GNU old long-name header (typeflag 'N'), which renames entries after it"
        case UInt8(ascii: "S"): return "is a GNU sparse file (typeflag 'S')"
        case UInt8(ascii: "A"): return "is a Solaris ACL header (typeflag 'A')"
        case UInt8(ascii: "X"): return "is a Solaris extended header (typeflag 'X'), which some readers apply as pax and others extract as a file"
        case UInt8(ascii: "D"): return "is a GNU directory dump (typeflag 'D')"
        case UInt8(ascii: "M"): return "is a GNU multi-volume continuation (typeflag 'M')"
        case UInt8(ascii: "I"): return "is a star inode-metadata header (typeflag 'I')"
        case 0x21...0x7E: return "has the unknown typeflag '\(Character(Unicode.Scalar(type)))'"
        default: return "has the unknown typeflag byte 0x\(String(type, radix: 16))"
        }
    }
}
