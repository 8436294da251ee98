import SovereignSystem
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
        case let error as any SovereignError: return .failure(thing: error.thing, reason: error.reason)
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
