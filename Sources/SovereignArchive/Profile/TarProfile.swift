/// The one tar profile a Sovereign layer may be written in: exactly what
/// `DeterministicTarWriter` produces (libarchive's pax-restricted writer,
/// configured there), so that libarchive, GNU tar, Python's tarfile and
/// any other reader an auditor picks see the same entries, names, sizes
/// and modes. `TarProfileValidator` holds a layer's raw bytes to it, block
/// by block, before libarchive sees them.
///
/// Accepted:
/// - headers with a correct (unsigned) checksum, POSIX ustar magic
///   `ustar` NUL and version `00`;
/// - typeflags `0` (regular file) and `5` (directory), each optionally
///   preceded by one `x` (pax extended header) that describes it;
/// - text fields (name, prefix) that end at their first NUL with only
///   NULs after it; no link name, user or group name; a prefix, when
///   present, not ending in `/` (libarchive and tarfile would join it to
///   the name differently);
/// - numeric fields in octal digits followed only by NULs or spaces; mode
///   at most 07777; uid and gid 0; device numbers 0 or empty; bytes 500-511 zero;
/// - a size in octal with a terminator below 8 GiB; from 8 GiB, twelve
///   octal digits or base-256 (as the writer makes them), then only with a
///   pax `size` record of the same value;
/// - files whose names do not end in `/`; directories whose names do, with size 0;
/// - pax headers of at most `maximumPaxHeaderSize` bytes holding well-formed
///   records (exact decimal lengths without leading zeros, a key, `=`, a
///   UTF-8 value without NUL, a newline), each key once, only the keys the
///   writer emits: `path`, `size` (equal to the header's size) and `mtime`
///   (whole seconds, equal to the header's mtime);
/// - with a pax `path`, a ustar name that is the path or a truncation of
///   it in the writer's shape: whole leading directories of the path, then
///   a leading part of its last component (`isUstarName(_:of:)`; not one
///   fixed truncation, since libarchive's lengths changed between versions
///   and a layer built with one must install with another); so a reader
///   that ignores pax records extracts a name inside the path's own
///   directories, never another one. The `x` header itself is named in the
///   writer's shape, `<dir>/PaxHeader/<file>` (`isPaxHeaderName(_:for:)`);
/// - data padded with zero bytes to a block; after the last entry exactly
///   two zero blocks and nothing else.
///
/// Refused: everything else, among it pax global headers (`g`), GNU long
/// names and link names (`L`, `K`), volume headers (`V`), old long names
/// (`N`), sparse files (`S`, or `GNU.sparse.*` records), Solaris ACLs and
/// extended headers (`A`, `X`), links, devices, FIFOs, old-style regular
/// files (NUL typeflag); pax records for extended attributes
/// (`SCHILY.xattr.*`, `LIBARCHIVE.xattr.*`), ACLs, flags, `hdrcharset`,
/// `linkpath`, owners, times other than mtime; a pax `path` holding a NUL
/// (libarchive stops at it, tarfile keeps the rest); a lone zero block
/// before more headers (libarchive stops there, `tar -i` reads on).
///
/// Names themselves (what characters, `..`, absolute paths) are
/// `SafeTarPath`'s rules, checked by the extractor on the name every
/// reader now agrees on.
public enum TarProfile {
    /// The largest pax extended header accepted (a path is at most
    /// `SafeTarPath.maximumLength` bytes; the cap only bounds memory).
    public static let maximumPaxHeaderSize = 64 << 10
    /// The pax keys the writer emits: a long path, a size from 8 GiB, an
    /// mtime from 2038 (libarchive 3.6; later versions with a 64-bit
    /// time_t from 2242).
    public static let allowedPaxKeys: Set<[UInt8]> = [Array("path".utf8), Array("size".utf8), Array("mtime".utf8)]
    /// Sizes from here need more than ustar's eleven octal digits (and a pax `size` record).
    public static let extendedSizeThreshold: Int64 = 1 << 33

    static let slash = UInt8(ascii: "/")

    /// Whether `name`, a ustar name (prefix/name joined), is `path` or a
    /// truncation of it in the shape every pax writer gives one (libarchive's
    /// build_ustar_entry_name, whose exact lengths differ between versions):
    /// whole leading directories of the path, then a non-empty leading part
    /// of its last component, then a `/` if and only if the path ends with
    /// one. A reader that ignores the pax `path` then extracts a name inside
    /// the path's own directories, never another one.
    static func isUstarName(_ name: [UInt8], of path: [UInt8]) -> Bool {
        if name == path { return true }
        guard (name.last == slash) == (path.last == slash) else { return false }
        let (pathDirectory, pathFile) = split(trimmingSlashes(path))
        let (directory, file) = split(trimmingSlashes(name))
        return !file.isEmpty && pathDirectory.starts(with: directory) && pathFile.starts(with: file)
    }

    /// Whether `name` is a name a pax writer gives the `x` header in front
    /// of an entry whose ustar name is `ustarName`: `<dir>/PaxHeader/<file>`,
    /// with `<dir>` whole leading directories of the entry's and `<file>` a
    /// non-empty leading part of its last component (libarchive's
    /// build_pax_attribute_name). A reader that does not know pax headers
    /// extracts it as that harmless file.
    static func isPaxHeaderName(_ name: [UInt8], for ustarName: [UInt8]) -> Bool {
        let (entryDirectory, entryFile) = split(trimmingSlashes(ustarName))
        let (head, file) = split(name[...])
        let marker = Array("PaxHeader/".utf8)
        guard !file.isEmpty, head.count >= marker.count, head.suffix(marker.count).elementsEqual(marker) else { return false }
        let directory = head.dropLast(marker.count)
        guard directory.isEmpty || directory.last == slash else { return false }
        return entryDirectory.starts(with: directory) && entryFile.starts(with: file)
    }

    private static func trimmingSlashes(_ name: [UInt8]) -> ArraySlice<UInt8> {
        var end = name.endIndex
        while end > name.startIndex, name[end - 1] == slash { end -= 1 }
        return name[..<end]
    }

    /// A name's directory part (through its last `/`, or empty) and its last component.
    private static func split(_ name: ArraySlice<UInt8>) -> (directory: ArraySlice<UInt8>, file: ArraySlice<UInt8>) {
        guard let last = name.lastIndex(of: slash) else { return (name[name.startIndex..<name.startIndex], name) }
        return (name[...last], name[(last + 1)...])
    }
}
