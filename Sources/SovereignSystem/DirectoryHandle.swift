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
    /// The path it was opened from, for error messages.
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

    /// The path of a child, for messages (the name shown safely).
    public func childPath(_ name: [UInt8]) -> String {
        path + "/" + String(decoding: name, as: UTF8.self)
    }

    /// Checks a single component at the system-call boundary.
    static func checkName(_ name: [UInt8], in directory: String, operation: String) throws(SystemError) {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        if name.isEmpty || name == [dot] || name == [dot, dot] || name.contains(slash) || name.contains(0) {
            throw SystemError(path: directory + "/" + String(decoding: name, as: UTF8.self),
                              operation: operation + " (not a single path component)", errno: EINVAL)
        }
    }

    /// Opens `name` relative to this directory beneath it, never through a symlink.
    private func openBeneath(_ name: [UInt8], flags: Int32, mode: mode_t = 0, operation: String) throws(SystemError) -> Int32 {
        try Self.checkName(name, in: path, operation: operation)
        let cName = name + [0]
        return try retryingOnInterrupt(path: childPath(name), operation: operation) {
            cName.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars -> Int32 in
                    let fd = LinuxCalls.openBeneath(rawValue, chars.baseAddress!, flags, UInt32(mode))
                    if fd >= 0 || errno != ENOSYS { return fd }
                    // Kernels before 5.6: one checked component with O_NOFOLLOW is just as confined.
                    return openat(rawValue, chars.baseAddress!, flags | O_NOFOLLOW, mode)
                }
            }
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
    /// Takes over `fd` if it is a regular file; closes it and fails otherwise.
    /// Clears O_NONBLOCK (opened that way only so a FIFO cannot block the open).
    static func adoptRegular(_ fd: Int32, path: String) throws(SystemError) -> (file: FileDescriptor, size: Int64) {
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

    /// Makes the tree `name` below `parent` read-only: files 0444 (0555 if
    /// any execute bit), directories 0555, children before their directory.
    public static func makeReadOnly(_ name: [UInt8], in parent: borrowing DirectoryHandle) throws(SystemError) {
        try walk(name, in: parent, enter: { _ throws(SystemError) in },
                 file: { (directory, child, info) throws(SystemError) in
                     guard (info.st_mode & S_IFMT) == S_IFREG else { return }
                     let mode: mode_t = (info.st_mode & 0o111) != 0 ? 0o555 : 0o444
                     try directory.checkedChmod(child, mode)
                 },
                 leave: { (directory, _, _) throws(SystemError) in try directory.setMode(0o555) })
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
        // back where it left), and the subdirectories still to visit.
        struct Frame { let name: [UInt8]; let path: String; let device: UInt; let inode: UInt; var pending: [[UInt8]] }
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
            return Frame(name: name, path: directory.path, device: UInt(info.st_dev), inode: UInt(info.st_ino),
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
                up = try current.openParent(path: frames[frames.count - 1].path)
                let info = try up.status()
                let expected = frames[frames.count - 1]
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

    /// chmod of a regular file through its own descriptor, never a path.
    fileprivate func checkedChmod(_ name: [UInt8], _ mode: mode_t) throws(SystemError) {
        let file = try openRegularFile(name).file
        defer { file.closeIgnoringErrors() }
        _ = try retryingOnInterrupt(path: file.path, operation: "fchmod") { fchmod(file.rawValue, mode) }
    }
}
