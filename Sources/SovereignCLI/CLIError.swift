import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage
import SovereignTrust
import SovereignInstall
import SovereignInference

/// What ends a command unsuccessfully.
enum CLIError: Error {
    /// The command line was wrong: exit 64 with the usage line.
    case usage(String, command: [String])
    /// The command ran and failed: exit 1 with `sovereign: <thing>: <reason>`.
    case failure(thing: String, reason: String)
}

extension CLIError {
    /// Turns any module's error into the one line the user sees.
    static func from(_ error: any Error) -> CLIError {
        switch error {
        case let error as CLIError: return error
        case let error as CryptoError: return .failure(thing: error.thing, reason: error.reason)
        case let error as FormatsError: return .failure(thing: error.source, reason: error.reason)
        case let error as SystemError: return .failure(thing: error.path, reason: error.reason)
        case let error as FileSystemError: return .failure(thing: error.path, reason: error.reason)
        case let error as ImageError: return .failure(thing: error.thing, reason: error.reason)
        case let error as TrustError: return .failure(thing: error.source, reason: error.reason)
        case let error as InstallError: return .failure(thing: error.thing, reason: error.reason)
        case let error as GGUFError: return .failure(thing: error.source, reason: error.reason)
        default: return .failure(thing: "sovereign", reason: "\(error)")
        }
    }
}

/// Exit statuses, documented in `sovereign --help`.
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
}
