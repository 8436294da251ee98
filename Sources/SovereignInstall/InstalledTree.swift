import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignArchive
import SovereignImage

/// Checks a stored tree against the signed file list, byte for byte: the
/// tree holds exactly the listed files (each a regular file with its
/// signed size and SHA-256) in exactly the directories they need, and
/// nothing else (no symlink, no extra file, no stray directory). A tree is
/// trusted only after this check, never because a directory of the right
/// name exists: a name is predictable (builds are reproducible), so a
/// planted or half-deleted tree must not pass for an installed one.
///
/// Content is not all: every directory and file must also be this
/// process's (effective uid and gid) with exactly the modes the installer
/// sets (directories 0555, files 0444 or 0555). A tree planted with the
/// right bytes but its planter's ownership or a writable mode would stay
/// the planter's to change after it was adopted.
enum InstalledTree {
    /// - Parameters:
    ///   - name: the tree's directory name below `parent` (a manifest hex digest).
    ///   - expected: the signed files, image.json included.
    static func check(_ name: [UInt8], in parent: borrowing DirectoryHandle, expected: [SignedFile]) throws(InstallError) {
        var wanted: [[UInt8]: SignedFile] = [:]
        var directories = Set<[UInt8]>()
        for file in expected {
            let bytes = file.pathBytes
            wanted[bytes] = file
            var prefix = bytes
            while let slash = prefix.lastIndex(of: UInt8(ascii: "/")) {
                prefix = Array(prefix[..<slash])
                directories.insert(prefix)
            }
        }
        let tree = try system { () throws(SystemError) in try parent.openDirectory(name) }
        try checkOwnership(try system { () throws(SystemError) in try tree.status() }, at: tree.path)
        var seen = 0
        try visit(tree, prefix: [], wanted: wanted, directories: directories, seen: &seen)
        guard seen == wanted.count else {
            let missing = wanted.count - seen
            throw InstallError(tree.path, "\(missing) signed file\(missing == 1 ? " is" : "s are") missing from the stored tree")
        }
    }

    private static func visit(_ directory: borrowing DirectoryHandle, prefix: [UInt8], wanted: [[UInt8]: SignedFile],
                              directories: Set<[UInt8]>, seen: inout Int) throws(InstallError) {
            for name in try system({ () throws(SystemError) in try directory.entries() }) {
                let path = prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
                let place = "\(directory.path)/\(SafeTarPath.display(name))"
                guard let info = try system({ () throws(SystemError) in try directory.status(name) }) else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    guard directories.contains(path) else { throw InstallError(place, "is a directory the signed image does not have") }
                    let subdirectory = try system { () throws(SystemError) in try directory.openDirectory(name) }
                    try checkOwnership(try system { () throws(SystemError) in try subdirectory.status() }, at: subdirectory.path)
                    try visit(subdirectory, prefix: path, wanted: wanted, directories: directories, seen: &seen)
                case S_IFREG:
                    guard let file = wanted[path] else { throw InstallError(place, "is not in the signed file list") }
                    let (descriptor, size) = try system { () throws(SystemError) in try directory.openRegularFile(name) }
                    defer { descriptor.closeIgnoringErrors() }
                    guard size == file.size else { throw InstallError(place, "is \(size) bytes, the signed image lists \(file.size)") }
                    let digest = try system { () throws(SystemError) in try hash(descriptor, size: size) }
                    guard digest == file.sha256 else {
                        throw InstallError(place, "sha256 is \(digest.hex), the signed image lists \(file.sha256.hex)")
                    }
                    // After the content, so an edited file is reported as edited.
                    try checkOwnership(try system { () throws(SystemError) in try descriptor.status() }, at: place)
                    seen += 1
                default:
                    throw InstallError(place, "is neither a regular file nor a directory")
                }
            }
    }

    /// Owned by this process's effective uid and gid, with exactly the
    /// mode the installer sets (`DirectoryTree.makeReadOnly`).
    static func checkOwnership(_ info: stat, at place: String) throws(InstallError) {
        let user = geteuid(), group = getegid()
        guard info.st_uid == user, info.st_gid == group else {
            throw InstallError(place, "is owned by uid \(info.st_uid) gid \(info.st_gid), not by this installer (uid \(user) gid \(group))")
        }
        let mode = info.st_mode & 0o7777
        if (info.st_mode & S_IFMT) == S_IFDIR {
            guard mode == 0o555 else { throw InstallError(place, "has mode \(octal(mode)), the installer sets directories to 0555") }
        } else {
            guard mode == 0o444 || mode == 0o555 else { throw InstallError(place, "has mode \(octal(mode)), the installer sets files to 0444 or 0555") }
        }
    }

    /// SHA-256 of exactly `size` bytes of an open file.
    private static func hash(_ file: FileDescriptor, size: Int64) throws(SystemError) -> SHA256Digest {
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var left = size
        while left > 0 {
            let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(buffer.count), left))]))
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            left -= Int64(n)
        }
        guard left == 0 else { throw SystemError(path: file.path, operation: "read (the file shrank)", errno: EIO) }
        return hasher.finalize()
    }
}
