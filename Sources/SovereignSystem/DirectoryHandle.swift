import Glibc

/// An open directory that closes itself, and the calls made relative to
/// it. Every name handed to it is one component as bytes: refused at this
/// boundary when empty, ".", "..", or holding 0x2F or NUL, whatever checks
/// the caller made before. Nothing here follows a symlink: directories and
/// files are opened with `O_NOFOLLOW`, and where the kernel has openat2
/// with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so the kernel itself
/// refuses to leave the directory.
public struct DirectoryHandle: ~Copyable {
    public let rawValue: Int32
    /// The path it was opened from, for error messages (shortened past
    /// `DisplayPath.limit` bytes, so deep walks stay linear in memory).
    public let path: String

    private init(rawValue: Int32, path: String) {
        self.rawValue = rawValue
        self.path = path
    }

    deinit {
        // Not retried on EINTR: the descriptor is gone either way on Linux.
        _ = Glibc.close(rawValue)
    }

    private static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    /// Opens the directory at `path` (its last component must not be a symlink).
    public static func open(_ path: String) throws(SystemError) -> DirectoryHandle {
        let fd = try retryingOnInterrupt(path: path, operation: "open") { Glibc.open(path, directoryFlags) }
        return DirectoryHandle(rawValue: fd, path: path)
    }

    /// The path of a child, for messages (the name shown safely, the
    /// whole bounded by `DisplayPath`).
    public func childPath(_ name: [UInt8]) -> String {
        DisplayPath.child(path, name)
    }

    /// Checks a single component at the system-call boundary.
    static func checkName(_ name: [UInt8], in directory: String, operation: String) throws(SystemError) {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        if name.isEmpty || name == [dot] || name == [dot, dot] || name.contains(slash) || name.contains(0) {
            throw SystemError(path: DisplayPath.child(directory, name),
                              operation: operation + " (not a single path component)", errno: EINVAL)
        }
    }

    /// Opens `name` relative to this directory beneath it, never through a symlink.
    private func openBeneath(_ name: [UInt8], flags: Int32, mode: mode_t = 0, operation: String) throws(SystemError) -> Int32 {
        try Self.checkName(name, in: path, operation: operation)
        let cName = name + [0]
        while true {
            let fd = cName.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars -> Int32 in
                    let fd = LinuxCalls.openBeneath(rawValue, chars.baseAddress!, flags, UInt32(mode))
                    if fd >= 0 || errno != ENOSYS { return fd }
                    // Kernels before 5.6: one checked component with O_NOFOLLOW is just as confined.
                    return openat(rawValue, chars.baseAddress!, flags | O_NOFOLLOW, mode)
                }
            }
            if fd >= 0 { return fd }
            let code = errno
            if code == EINTR { continue }
            // The path is made only for the message: a deep walk opens a directory per level.
            throw SystemError(path: childPath(name), operation: operation, errno: code)
        }
    }

    private func withCName<T>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (name + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    /// Opens the subdirectory `name`; a symlink or non-directory there fails (ELOOP, ENOTDIR).
    public func openDirectory(_ name: [UInt8]) throws(SystemError) -> DirectoryHandle {
        let fd = try openBeneath(name, flags: Self.directoryFlags, operation: "openat")
        return DirectoryHandle(rawValue: fd, path: childPath(name))
    }

    /// Makes the subdirectory `name` (mode set exactly, whatever the umask).
    /// Returns false if something already exists there.
    @discardableResult
    public func makeDirectory(_ name: [UInt8], mode: mode_t = 0o755) throws(SystemError) -> Bool {
        try Self.checkName(name, in: path, operation: "mkdirat")
        let result = withCName(name) { mkdirat(rawValue, $0, mode) }
        if result != 0 {
            if errno == EEXIST { return false }
            throw SystemError(path: childPath(name), operation: "mkdirat", errno: errno)
        }
        let made = try openDirectory(name)
        try made.setMode(mode)
        return true
    }

    /// Creates the new regular file `name`; fails with EEXIST if anything
    /// (a symlink included) is there. Mode set with fchmod, so the umask
    /// does not change it.
    public func createFile(_ name: [UInt8], mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        let fd = try openBeneath(name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: mode, operation: "openat")
        let file = FileDescriptor(rawValue: fd, path: childPath(name))
        do { _ = try retryingOnInterrupt(path: file.path, operation: "fchmod") { fchmod(fd, mode) } } catch {
            file.closeIgnoringErrors()
            throw error
        }
        return file
    }

    /// Opens the regular file `name` for reading. Anything else (a symlink,
    /// a FIFO, a device, a directory) is refused without blocking: the open
    /// is non-blocking, so a FIFO with no writer cannot hang the reader.
    public func openRegularFile(_ name: [UInt8]) throws(SystemError) -> (file: FileDescriptor, size: Int64) {
        let fd = try openBeneath(name, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, operation: "openat")
        return try FileDescriptor.adoptRegular(fd, path: childPath(name))
    }

    /// Opens the regular file `name` for reading and writing, creating it
    /// (with `mode`, less the umask) if nothing is there: for lock files.
    /// A symlink is never followed (ELOOP), and anything but a regular
    /// file is refused without blocking, as `openRegularFile` does.
    public func openOrCreateRegularFile(_ name: [UInt8], mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        let fd = try openBeneath(name, flags: O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode: mode, operation: "openat")
        return try FileDescriptor.adoptRegular(fd, path: childPath(name)).file
    }

    /// The whole of the regular file `name`, never through a symlink,
    /// refusing one over `limit` bytes.
    public func readRegularFile(_ name: [UInt8], limit: Int) throws(FileSystemError) -> [UInt8] {
        let file: FileDescriptor, size: Int64
        do { (file, size) = try openRegularFile(name) } catch {
            if error.errno == EINVAL { throw .notRegularFile(childPath(name)) }
            throw .system(error)
        }
        defer { file.closeIgnoringErrors() }
        guard size <= limit else { throw .tooLarge(file.path, size: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let read = bytes.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try file.readFully(into: raw) } }
        let count: Int
        do { count = try read.get() } catch { throw .system(error) }
        bytes.removeSubrange(count...)
        return bytes
    }

    /// The target of the symlink `name`, as bytes; nil if nothing is
    /// there. Anything there that is not a symlink fails with EINVAL.
    public func readLink(_ name: [UInt8]) throws(SystemError) -> [UInt8]? {
        try Self.checkName(name, in: path, operation: "readlinkat")
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = withCName(name) { cName in
            buffer.withUnsafeMutableBufferPointer { raw in
                raw.withMemoryRebound(to: CChar.self) { readlinkat(rawValue, cName, $0.baseAddress!, $0.count) }
            }
        }
        if count < 0 {
            if errno == ENOENT { return nil }
            throw SystemError(path: childPath(name), operation: "readlinkat", errno: errno)
        }
        return Array(buffer[0..<count])
    }

    /// lstat of `name`, or nil if nothing is there.
    public func status(_ name: [UInt8]) throws(SystemError) -> stat? {
        try Self.checkName(name, in: path, operation: "fstatat")
        var info = stat()
        if withCName(name, { fstatat(rawValue, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 { return info }
        if errno == ENOENT { return nil }
        throw SystemError(path: childPath(name), operation: "fstatat", errno: errno)
    }

    /// Removes the file (or, with `directory`, the empty directory) `name`.
    public func remove(_ name: [UInt8], directory: Bool = false) throws(SystemError) {
        try Self.checkName(name, in: path, operation: "unlinkat")
        guard withCName(name, { unlinkat(rawValue, $0, directory ? AT_REMOVEDIR : 0) }) == 0 else {
            throw SystemError(path: childPath(name), operation: "unlinkat", errno: errno)
        }
    }

    /// Renames `name` to `newName` in this directory, failing if `newName` exists.
    public func rename(_ name: [UInt8], to newName: [UInt8]) throws(SystemError) {
        try Self.checkName(name, in: path, operation: "renameat2")
        try Self.checkName(newName, in: path, operation: "renameat2")
        let result = withCName(name) { from in withCName(newName) { to in LinuxCalls.renameNoReplace(rawValue, from, rawValue, to) } }
        guard result == 0 else { throw SystemError(path: childPath(newName), operation: "renameat2", errno: errno) }
    }

    /// Swaps `name` and `otherName` in this directory in one step
    /// (renameat2 with RENAME_EXCHANGE): at every instant each name holds
    /// one of the two entries, never nothing, so a kill cannot leave a name
    /// empty. Both must exist; EINVAL where the file system cannot.
    public func exchange(_ name: [UInt8], with otherName: [UInt8]) throws(SystemError) {
        try Self.checkName(name, in: path, operation: "renameat2 (exchange)")
        try Self.checkName(otherName, in: path, operation: "renameat2 (exchange)")
        let result = withCName(name) { from in withCName(otherName) { to in LinuxCalls.renameExchange(rawValue, from, rawValue, to) } }
        guard result == 0 else { throw SystemError(path: childPath(name), operation: "renameat2 (exchange)", errno: errno) }
    }

    public func setMode(_ mode: mode_t) throws(SystemError) {
        _ = try retryingOnInterrupt(path: path, operation: "fchmod") { fchmod(rawValue, mode) }
    }

    public func sync() throws(SystemError) {
        _ = try retryingOnInterrupt(path: path, operation: "fsync") { fsync(rawValue) }
    }

    public func status() throws(SystemError) -> stat {
        var info = stat()
        _ = try retryingOnInterrupt(path: path, operation: "fstat") { fstat(rawValue, &info) }
        return info
    }

    /// The names in this directory (without "." and ".."), as bytes, sorted.
    public func entries() throws(SystemError) -> [[UInt8]] {
        // fdopendir takes its descriptor over: give it a fresh one.
        let listing = openat(rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard listing >= 0 else { throw SystemError(path: path, operation: "openat", errno: errno) }
        guard let stream = fdopendir(listing) else {
            let code = errno
            _ = Glibc.close(listing)
            throw SystemError(path: path, operation: "fdopendir", errno: code)
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        errno = 0
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
            errno = 0
        }
        if errno != 0 { throw SystemError(path: path, operation: "readdir", errno: errno) }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Opens the parent (`..`), for walks that keep one descriptor at a time.
    fileprivate func openParent(path parentPath: String) throws(SystemError) -> DirectoryHandle {
        let fd = try retryingOnInterrupt(path: path + "/..", operation: "openat") {
            openat(rawValue, "..", Self.directoryFlags)
        }
        return DirectoryHandle(rawValue: fd, path: parentPath)
    }
}

extension FileDescriptor {
    /// fstat of the open file.
    public func status() throws(SystemError) -> stat {
        var info = stat()
        _ = try retryingOnInterrupt(path: path, operation: "fstat") { fstat(rawValue, &info) }
        return info
    }

    /// Takes over `fd` if it is a regular file; closes it and fails otherwise.
    /// Clears O_NONBLOCK (opened that way only so a FIFO cannot block the open).
    public static func adoptRegular(_ fd: Int32, path: String) throws(SystemError) -> (file: FileDescriptor, size: Int64) {
        let file = FileDescriptor(rawValue: fd, path: path)
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            file.closeIgnoringErrors()
            throw SystemError(path: path, operation: "fstat", errno: code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            file.closeIgnoringErrors()
            throw SystemError(path: path, operation: "open (not a regular file)", errno: EINVAL)
        }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return (file, Int64(info.st_size))
    }
}

/// Removing and re-moding whole trees through directory descriptors, at any
/// depth: the walk holds one descriptor at a time (climbing back with ".."
/// and checking it lands on the directory it left), so neither PATH_MAX nor
/// the descriptor limit bounds the depth, and every failure is reported.
/// Memory is linear in the depth: a level keeps its name, its identity and
/// the subdirectories still to visit, and paths exist only for messages,
/// bounded by `DisplayPath`.
public enum DirectoryTree {
    /// Removes `name` below `parent` and everything under it, making
    /// directories writable as it goes (installed trees are read-only).
    public static func remove(_ name: [UInt8], in parent: borrowing DirectoryHandle) throws(SystemError) {
        guard let info = try parent.status(name) else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return try parent.remove(name) }
        try walk(name, in: parent, enter: { (directory) throws(SystemError) in try directory.setMode(0o700) },
                 file: { (directory, child, _) throws(SystemError) in try directory.remove(child) },
                 leave: { (_, container, child) throws(SystemError) in try container.remove(child, directory: true) })
    }

    /// Removes whatever is at `path` (a tree, a file, or nothing).
    public static func remove(path: String) throws(SystemError) {
        let parent = try DirectoryHandle.open(FileSystem.directoryName(path))
        try remove(Array(FileSystem.baseName(path).utf8), in: parent)
    }

    /// Makes the tree `name` below `parent` read-only and this process's:
    /// files 0444 (0555 if any execute bit), directories 0555, children
    /// before their directory, and each entry's group this process's
    /// effective group where it differs (a set-group-ID directory above
    /// hands its own group down), so the tree passes an ownership check.
    public static func makeReadOnly(_ name: [UInt8], in parent: borrowing DirectoryHandle) throws(SystemError) {
        let group = getegid()
        try walk(name, in: parent, enter: { _ throws(SystemError) in },
                 file: { (directory, child, info) throws(SystemError) in
                     guard (info.st_mode & S_IFMT) == S_IFREG else { return }
                     let mode: mode_t = (info.st_mode & 0o111) != 0 ? 0o555 : 0o444
                     try directory.checkedChmod(child, mode, group: info.st_gid == group ? nil : group)
                 },
                 leave: { (directory, _, _) throws(SystemError) in
                     if try directory.status().st_gid != group { try directory.setGroup(group) }
                     try directory.setMode(0o555)
                 })
    }

    /// Post-order walk of the directory `name` below `parent`: `enter` on
    /// each directory before its entries, `file` for every non-directory,
    /// `leave(directory, itsParent, itsName)` after its entries.
    static func walk(
        _ name: [UInt8], in parent: borrowing DirectoryHandle,
        enter: (borrowing DirectoryHandle) throws(SystemError) -> Void,
        file: (borrowing DirectoryHandle, [UInt8], stat) throws(SystemError) -> Void,
        leave: (borrowing DirectoryHandle, borrowing DirectoryHandle, [UInt8]) throws(SystemError) -> Void
    ) throws(SystemError) {
        // One frame a level: the name, its identity (to check '..' lands
        // back where it left), the subdirectories still to visit, and its
        // path for messages only while that is short (a shortened one is
        // rebuilt from the child's on the way up), so memory stays linear.
        struct Frame { let name: [UInt8]; let shortPath: String?; let device: UInt; let inode: UInt; var pending: [[UInt8]] }
        var frames: [Frame] = []
        var current = try parent.openDirectory(name)
        func open(_ directory: borrowing DirectoryHandle, as name: [UInt8]) throws(SystemError) -> Frame {
            try enter(directory)
            var subdirectories: [[UInt8]] = []
            for child in try directory.entries() {
                guard let info = try directory.status(child) else { continue }
                if (info.st_mode & S_IFMT) == S_IFDIR { subdirectories.append(child) } else { try file(directory, child, info) }
            }
            let info = try directory.status()
            let shortened = directory.path.utf8.count > DisplayPath.limit / 2 || directory.path.contains(DisplayPath.elision)
            return Frame(name: name, shortPath: shortened ? nil : directory.path, device: UInt(info.st_dev), inode: UInt(info.st_ino),
                         pending: subdirectories.reversed())
        }
        frames.append(try open(current, as: name))
        while let last = frames.last {
            if let child = last.pending.last {
                frames[frames.count - 1].pending.removeLast()
                let next = try current.openDirectory(child)
                current = next
                frames.append(try open(current, as: child))
                continue
            }
            frames.removeLast()
            let up: DirectoryHandle
            if frames.isEmpty {
                up = try parent.duplicate()
            } else {
                let expected = frames[frames.count - 1]
                up = try current.openParent(path: expected.shortPath ?? DisplayPath.parent(of: current.path))
                let info = try up.status()
                guard UInt(info.st_dev) == expected.device, UInt(info.st_ino) == expected.inode else {
                    throw SystemError(path: up.path, operation: "openat .. (the tree moved while it was walked)", errno: ESTALE)
                }
            }
            try leave(current, up, last.name)
            current = up
        }
    }
}

extension DirectoryHandle {
    /// A second descriptor for this same directory.
    public func duplicate() throws(SystemError) -> DirectoryHandle {
        let fd = try retryingOnInterrupt(path: path, operation: "openat") {
            openat(rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        return DirectoryHandle(rawValue: fd, path: path)
    }

    /// Sets this directory's group (its owner unchanged).
    public func setGroup(_ group: gid_t) throws(SystemError) {
        _ = try retryingOnInterrupt(path: path, operation: "fchown") { fchown(rawValue, uid_t.max, group) }
    }

    /// chmod (and, given a group, chown to it) of a regular file through
    /// its own descriptor, never a path.
    fileprivate func checkedChmod(_ name: [UInt8], _ mode: mode_t, group: gid_t? = nil) throws(SystemError) {
        let file = try openRegularFile(name).file
        defer { file.closeIgnoringErrors() }
        if let group {
            _ = try retryingOnInterrupt(path: file.path, operation: "fchown") { fchown(file.rawValue, uid_t.max, group) }
        }
        _ = try retryingOnInterrupt(path: file.path, operation: "fchmod") { fchmod(file.rawValue, mode) }
    }
}
