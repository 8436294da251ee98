import Glibc

/// Named steps of an install or rollback at which a test can make the
/// process kill itself (SIGKILL, no clean-up) by setting
/// `SOVEREIGN_INSTALL_CRASH_AT=<step>`. Used by the crash-safety tests to
/// prove that an interruption anywhere leaves `current` on a complete tree.
/// Documented in `sovereign install --help`; harmless unless set.
public enum CrashPoint: String, CaseIterable, Sendable {
    case locked = "locked"
    case extracted = "extracted"
    /// A damaged stored tree has just been exchanged for a fresh one (repair only).
    case exchanged = "exchanged"
    case stored = "stored"
    case stateWritten = "state-written"
    case previousSwapped = "previous-swapped"
    case currentSwapped = "current-swapped"

    public static let environmentVariable = "SOVEREIGN_INSTALL_CRASH_AT"

    func reached() {
        guard let requested = getenv(Self.environmentVariable), String(cString: requested) == rawValue else { return }
        kill(getpid(), SIGKILL)
    }
}
