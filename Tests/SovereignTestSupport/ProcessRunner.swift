import Dispatch
import Foundation

// The one way tests run a program: stdout and stderr drained together (a
// child that fills one pipe while the runner waits on the other would
// deadlock), optional bytes on stdin, and a time limit after which the
// child's whole process group is killed.

/// What a finished program did.
public struct ProcessResult: Sendable {
    /// The exit status; when a signal ended the program, 128 + its number
    /// (as a shell reports it), so a crash never reads as an expected exit 1.
    public let status: Int32
    /// The signal that ended the program, or nil when it exited.
    public let signal: Int32?
    /// Everything it wrote to stdout.
    public let stdoutBytes: [UInt8]
    /// Everything it wrote to stderr.
    public let stderrBytes: [UInt8]
    /// `stdoutBytes` as UTF-8, invalid bytes replaced. Decoded on each use:
    /// repairing a mebibyte of binary output takes seconds in a debug build.
    public var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    /// `stderrBytes` as UTF-8, invalid bytes replaced, decoded on each use.
    public var stderr: String { String(decoding: stderrBytes, as: UTF8.self) }
}

/// Why `runProcess` returned no result.
public enum ProcessRunnerError: Error, CustomStringConvertible {
    /// The program could not be started (missing, not executable, bad directory).
    case cannotStart(command: String, reason: String)
    /// The program ran past `seconds` and its process group was killed.
    /// `exitStatus` is set when the program itself had already exited but
    /// something it started still held stdout or stderr open.
    case timedOut(command: String, seconds: Double, exitStatus: Int32?, stdout: [UInt8], stderr: [UInt8])
    /// A read or write on one of the pipes failed.
    case pipe(command: String, call: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotStart(let command, let reason):
            return "\(command): cannot start: \(reason)"
        case .timedOut(let command, let seconds, let exitStatus, let stdout, let stderr):
            let what = exitStatus.map {
                "exited with status \($0), but something it started still held its output open after \(formatted(seconds)) s;"
                    + " killed its process group"
            } ?? "timed out after \(formatted(seconds)) s; killed it and its process group (SIGKILL)"
            return "\(command): \(what)\n" + printed("stdout", stdout) + "\n" + printed("stderr", stderr)
        case .pipe(let command, let call, let code):
            return "\(command): \(call): \(String(cString: strerror(code)))"
        }
    }

    private func formatted(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    /// What the program printed so far: all of it up to 4 KiB, else the last 4 KiB.
    private func printed(_ name: String, _ bytes: [UInt8]) -> String {
        let shown = 4096
        guard bytes.count > shown else {
            return "\(name) so far (\(bytes.count) bytes): \(String(decoding: bytes, as: UTF8.self))"
        }
        return "\(name) so far (\(bytes.count) bytes, the last \(shown) shown): …"
            + String(decoding: bytes.suffix(shown), as: UTF8.self)
    }
}

/// Runs `executable arguments…` and waits for it, reading stdout and stderr
/// concurrently (one `poll` loop, so neither pipe can fill and stall the child).
///
/// - `environment`: the whole environment; nil inherits this process's.
/// - `directory`: the working directory; nil keeps this process's.
/// - `input`: bytes written to the program's stdin, which is then closed;
///   nil gives it /dev/null. Input it has not read when it closes both
///   stdout and stderr is dropped.
/// - `timeout`: seconds until the program (started in a process group of
///   its own) and everything else in its group get SIGKILL, and
///   `ProcessRunnerError.timedOut` is thrown with what it printed so far.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       directory: String? = nil, input: [UInt8]? = nil, timeout: Double = 600) throws -> ProcessResult {
    precondition(timeout > 0, "runProcess: timeout must be positive")
    let command = ([executable] + arguments).map(shellQuoted).joined(separator: " ")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let stdoutPipe = Pipe(), stderrPipe = Pipe()
    let stdinPipe = input.map { _ in Pipe() }
    process.standardOutput = stdoutPipe
    process.standardError = stderrPipe
    process.standardInput = stdinPipe ?? FileHandle.nullDevice
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    // Foundation's Process spawns with POSIX_SPAWN_SETPGROUP: the child leads
    // a new process group, so a kill reaches it and whatever it started (a
    // shell's `sleep`, which would otherwise keep the pipes open). It closes
    // the child's ends of the pipes in this process after spawning.
    do {
        try process.run()
    } catch {
        throw ProcessRunnerError.cannotStart(command: command, reason: "\(error)")
    }
    let pipes = PipeDrain(command: command, stdout: stdoutPipe.fileHandleForReading,
                          stderr: stderrPipe.fileHandleForReading,
                          stdin: stdinPipe?.fileHandleForWriting, input: input ?? [])
    defer { pipes.closeAll() }

    let deadline = DispatchTime.now() + timeout
    let child = Child(process: process, exited: exited)
    do {
        if try pipes.drain(until: deadline), let end = child.waitForExit(until: deadline) {
            return ProcessResult(status: end.status, signal: end.signal,
                                 stdoutBytes: pipes.stdoutBytes, stderrBytes: pipes.stderrBytes)
        }
    } catch {
        child.killGroup()
        _ = child.waitForExit(until: DispatchTime.now() + 2)
        throw error
    }

    // Out of time, either still running or exited with its output held open
    // by something it started. Kill the group, then collect what the pipes
    // still hold. Both waits are bounded: a descendant that left the group
    // (setsid) can keep the pipes, and Foundation's exit notice, open.
    let exitedBefore = child.exitStatus()
    child.killGroup()
    _ = child.waitForExit(until: DispatchTime.now() + 2)
    _ = try? pipes.drain(until: DispatchTime.now() + 2)
    throw ProcessRunnerError.timedOut(command: command, seconds: timeout, exitStatus: exitedBefore?.status,
                                      stdout: pipes.stdoutBytes, stderr: pipes.stderrBytes)
}

/// The spawned program, as far as this runner needs it: whether it has exited
/// and how, and a kill for its process group.
///
/// Foundation learns of the exit only when a socket the child inherits closes,
/// so a background descendant that keeps it delays `terminationHandler`
/// indefinitely. `waitid(WNOWAIT)` sees the child itself exit without reaping
/// it (Foundation reaps it later), and while it is unreaped its pid, which is
/// also its process group's id, cannot be reused, so `kill(-pid)` is safe.
private struct Child {
    let process: Process
    let exited: DispatchSemaphore

    /// The exit status (128 + signal when a signal ended it) and the signal,
    /// or nil while the child is still running.
    func exitStatus() -> (status: Int32, signal: Int32?)? {
        var info = siginfo_t()
        let pid = process.processIdentifier
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 {
            if errno == EINTR { continue }
            // ECHILD: Foundation has reaped it; its status is on the Process
            // once the termination handler has run.
            exited.wait()
            exited.signal()
            let signaled = process.terminationReason == .uncaughtSignal
            return signaled ? (128 + process.terminationStatus, process.terminationStatus) : (process.terminationStatus, nil)
        }
        guard info._sifields._sigchld.si_pid == pid else { return nil }
        let value = info._sifields._sigchld.si_status
        return info.si_code == Int32(CLD_EXITED) ? (value, nil) : (128 + value, value)
    }

    /// Polls (from 0.5 ms up to 10 ms apart) until the child exits or `deadline` passes.
    func waitForExit(until deadline: DispatchTime) -> (status: Int32, signal: Int32?)? {
        var pause: useconds_t = 500
        while true {
            if let end = exitStatus() { return end }
            guard DispatchTime.now() < deadline else { return nil }
            usleep(pause)
            pause = min(pause * 2, 10_000)
        }
    }

    /// SIGKILL to the child's process group: Foundation spawns with
    /// POSIX_SPAWN_SETPGROUP, so the group's id is the child's pid.
    func killGroup() {
        _ = kill(-process.processIdentifier, SIGKILL)
    }
}

/// The parent's ends of the three pipes, read and written from one `poll` loop.
private final class PipeDrain {
    let command: String
    private(set) var stdoutBytes: [UInt8] = []
    private(set) var stderrBytes: [UInt8] = []
    private var stdout: FileHandle?
    private var stderr: FileHandle?
    private var stdin: FileHandle?
    private let input: [UInt8]
    private var written = 0
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    init(command: String, stdout: FileHandle, stderr: FileHandle, stdin: FileHandle?, input: [UInt8]) {
        self.command = command
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self.input = input
        for handle in [stdout, stderr] + (stdin.map { [$0] } ?? []) {
            let fd = handle.fileDescriptor
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        if input.isEmpty { closeStdin() }
    }

    /// Reads both outputs and feeds stdin until both outputs are at end of
    /// file (true) or `deadline` passes (false).
    func drain(until deadline: DispatchTime) throws -> Bool {
        while stdout != nil || stderr != nil {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline.uptimeNanoseconds else { return false }
            let wait = Int32(min((deadline.uptimeNanoseconds - now + 999_999) / 1_000_000, 60_000))
            var watched: [pollfd] = []
            if let stdout { watched.append(pollfd(fd: stdout.fileDescriptor, events: Int16(POLLIN), revents: 0)) }
            if let stderr { watched.append(pollfd(fd: stderr.fileDescriptor, events: Int16(POLLIN), revents: 0)) }
            if let stdin { watched.append(pollfd(fd: stdin.fileDescriptor, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&watched, nfds_t(watched.count), wait)
            if ready < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ProcessRunnerError.pipe(command: command, call: "poll", errno: code)
            }
            for entry in watched where entry.revents != 0 {
                if entry.fd == stdout?.fileDescriptor {
                    if try read(entry.fd, into: &stdoutBytes) { close(&stdout) }
                } else if entry.fd == stderr?.fileDescriptor {
                    if try read(entry.fd, into: &stderrBytes) { close(&stderr) }
                } else if entry.fd == stdin?.fileDescriptor {
                    try feed(entry.fd)
                }
            }
        }
        closeStdin()
        return true
    }

    /// One read; true at end of file.
    private func read(_ fd: Int32, into bytes: inout [UInt8]) throws -> Bool {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            bytes.append(contentsOf: buffer[0..<count])
            return false
        }
        if count == 0 { return true }
        let code = errno
        if code == EINTR || code == EAGAIN { return false }
        throw ProcessRunnerError.pipe(command: command, call: "read", errno: code)
    }

    /// One write of what is left of the input; stdin is closed when it is all
    /// written or the program has closed its end (EPIPE).
    private func feed(_ fd: Int32) throws {
        let (count, code) = input.withUnsafeBytes { bytes in
            writeWithoutSIGPIPE(fd, bytes.baseAddress! + written, min(bytes.count - written, 1 << 16))
        }
        if count > 0 {
            written += count
            if written == input.count { closeStdin() }
        } else if code == EPIPE {
            closeStdin()
        } else if code != EINTR && code != EAGAIN {
            throw ProcessRunnerError.pipe(command: command, call: "write", errno: code)
        }
    }

    private func closeStdin() { close(&stdin) }

    /// Closes through the FileHandle, so it does not close the number again
    /// when it is freed (by then another thread may own that number).
    private func close(_ handle: inout FileHandle?) {
        try? handle?.close()
        handle = nil
    }

    func closeAll() {
        close(&stdout)
        close(&stderr)
        close(&stdin)
    }
}

/// write(2) with SIGPIPE blocked on this thread, so a program that exits
/// without reading its input yields EPIPE instead of killing the test
/// process. A SIGPIPE the write raised is taken off the thread's pending set
/// before the mask is restored; the process-wide disposition is not touched.
private func writeWithoutSIGPIPE(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> (written: Int, errno: Int32) {
    var pipeSignal = sigset_t()
    sigemptyset(&pipeSignal)
    sigaddset(&pipeSignal, SIGPIPE)
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    var pending = sigset_t()
    sigpending(&pending)
    let alreadyPending = sigismember(&pending, SIGPIPE) == 1
    let count = write(fd, bytes, count)
    let code = count < 0 ? errno : 0
    if code == EPIPE && !alreadyPending {
        var now = timespec()
        while sigtimedwait(&pipeSignal, nil, &now) < 0 && errno == EINTR {}
    }
    return (count, code)
}

/// `argument` as a POSIX shell would need it, for messages.
private func shellQuoted(_ argument: String) -> String {
    let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%")
    if !argument.isEmpty && argument.allSatisfy(plain.contains) { return argument }
    return "'" + argument.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
}
