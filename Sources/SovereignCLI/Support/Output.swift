import Glibc
import SovereignSystem
import SovereignFormats

/// Where commands write. stdout carries results; stderr carries errors and
/// progress, so `--json` output can be piped without noise. Unbuffered
/// writes to the descriptors: output order is exactly call order.
enum Output {
    enum Stream {
        case standardOutput, standardError
        var descriptor: FileDescriptor {
            self == .standardOutput ? FileDescriptor(rawValue: STDOUT_FILENO, path: "stdout")
                : FileDescriptor(rawValue: STDERR_FILENO, path: "stderr")
        }
    }

    /// A line (or lines) of results; terminal controls in it are shown, not obeyed.
    static func line(_ text: String = "") {
        write(TerminalText.escape(text, keepingNewlines: true) + "\n", to: .standardOutput)
    }

    /// One line on stderr: nothing in it can act on the terminal or start a new line.
    static func error(_ text: String) {
        write(TerminalText.escape(text, keepingNewlines: false) + "\n", to: .standardError)
    }

    /// Writes canonical JSON plus a newline (stable bytes for scripts and tests).
    static func json(_ value: JSONValue) {
        write(String(decoding: CanonicalJSON.serialize(value), as: UTF8.self) + "\n", to: .standardOutput)
    }

    static func write(_ text: String, to stream: Stream) {
        // A closed pipe (e.g. `| head`) is not worth failing a command over.
        try? stream.descriptor.writeAll(Array(text.utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
}
