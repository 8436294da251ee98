internal import CLinux

/// The Linux calls glibc's Swift module hides, in one place (the C shims
/// live in Sources/CLinux/shim.h). Kept apart so that no public signature
/// takes its types from the internal C module.
enum LinuxCalls {
    /// openat2 confined beneath `directory`, following no symlink; ENOSYS before Linux 5.6.
    static func openBeneath(_ directory: Int32, _ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: UInt32) -> Int32 {
        sovereign_openat_beneath(directory, path, flags, mode)
    }

    /// renameat2 with RENAME_NOREPLACE.
    static func renameNoReplace(_ fromDirectory: Int32, _ from: UnsafePointer<CChar>, _ toDirectory: Int32,
                                _ to: UnsafePointer<CChar>) -> Int32 {
        sovereign_renameat_noreplace(fromDirectory, from, toDirectory, to)
    }

    /// renameat2 with RENAME_EXCHANGE: swaps two existing names atomically.
    static func renameExchange(_ fromDirectory: Int32, _ from: UnsafePointer<CChar>, _ toDirectory: Int32,
                               _ to: UnsafePointer<CChar>) -> Int32 {
        sovereign_renameat_exchange(fromDirectory, from, toDirectory, to)
    }
}
