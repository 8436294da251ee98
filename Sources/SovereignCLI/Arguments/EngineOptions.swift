import Glibc
import SovereignInference

/// `--threads` and `--kernels`, read the same way by every command that
/// runs the model (`model generate`, `chat`, `serve`).
struct EngineOptions {
    let threads: Int
    let kernels: KernelSelection

    /// Default threads: the online CPUs, at most 8 (beyond that a model
    /// this size gains nothing); at most 256.
    init(_ arguments: ParsedArguments) throws(CLIError) {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        threads = try arguments.positiveInteger("--threads", default: min(max(online, 1), 8))
        guard threads <= 256 else { throw ModelCommands.invalid(arguments, "--threads") }
        guard let text = arguments.value("--kernels") else {
            kernels = .automatic
            return
        }
        guard let choice = KernelSelection(rawValue: text) else { throw ModelCommands.invalid(arguments, "--kernels") }
        kernels = choice
    }
}
