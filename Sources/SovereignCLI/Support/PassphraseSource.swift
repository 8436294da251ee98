import Foundation
import Glibc
import SovereignSystem

/// Where a key's passphrase comes from: an environment variable named by
/// `--passphrase-env`, a file named by `--passphrase-file`, or the terminal
/// (without echo). Never from argv: command lines are visible in `ps`.
enum PassphraseSource {
    case environment(String)
    case file(String)
    case terminal

    static func from(_ arguments: ParsedArguments) throws(CLIError) -> PassphraseSource {
        let env = arguments.value("--passphrase-env"), file = arguments.value("--passphrase-file")
        switch (env, file) {
        case (let name?, nil): return .environment(name)
        case (nil, let path?): return .file(path)
        case (nil, nil): return .terminal
        case (.some, .some):
            throw .usage("Give either '--passphrase-env' or '--passphrase-file', not both", command: arguments.command)
        }
    }

    /// Reads the passphrase. `confirm` asks twice on a terminal (new keys).
    func read(purpose: String, confirm: Bool = false) throws(CLIError) -> [UInt8] {
        switch self {
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw .failure(thing: "passphrase", reason: "environment variable \(name) is not set")
            }
            return Array(value.utf8)
        case .file(let path):
            var bytes: [UInt8]
            do { bytes = try FileSystem.readFile(path, limit: 64 << 10) } catch { throw CLIError.from(error) }
            // Files written by `echo` end in a newline that is not part of it.
            if bytes.last == 0x0A { bytes.removeLast() }
            if bytes.last == 0x0D { bytes.removeLast() }
            return bytes
        case .terminal:
            let first = try Self.prompt("Passphrase for \(purpose): ")
            if confirm {
                let second = try Self.prompt("Repeat the passphrase: ")
                guard first == second else { throw .failure(thing: "passphrase", reason: "the two entries differ") }
            }
            return first
        }
    }

    /// Reads one line from /dev/tty with echo off.
    private static func prompt(_ text: String) throws(CLIError) -> [UInt8] {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0, isatty(STDIN_FILENO) == 1 || isatty(tty) == 1 else {
            throw .failure(thing: "passphrase", reason: "no terminal to ask on: use --passphrase-env VAR or --passphrase-file FILE")
        }
        defer { close(tty) }
        var saved = termios()
        let hasTermios = tcgetattr(tty, &saved) == 0
        if hasTermios {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(tty, TCSAFLUSH, &silent)
        }
        _ = text.withCString { Glibc.write(tty, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while Glibc.read(tty, &byte, 1) == 1, byte != 0x0A {
            if line.count < 4096 { line.append(byte) }
        }
        if hasTermios { tcsetattr(tty, TCSAFLUSH, &saved) }
        _ = Glibc.write(tty, "\n", 1)
        if line.last == 0x0D { line.removeLast() }
        return line
    }
}
