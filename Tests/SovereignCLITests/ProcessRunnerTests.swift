import Foundation
import Testing
import SovereignTestSupport

/// The one process runner every test uses (SovereignTestSupport's `runProcess`).
@Suite struct ProcessRunnerTests {
    static let mebibyte = 1 << 20

    @Test func capturesAMebibyteOnEachStreamWrittenStderrFirst() throws {
        // 1 MiB to stderr before a byte to stdout: a runner that reads stdout
        // to its end first waits forever while the child waits on a full stderr pipe.
        let script = """
        import sys
        sys.stderr.buffer.write(bytes(range(256)) * 4096); sys.stderr.flush()
        sys.stdout.buffer.write(bytes(reversed(range(256))) * 4096)
        """
        let result = try runProcess("/usr/bin/python3", ["-c", script], timeout: 60)
        #expect(result.status == 0)
        #expect(result.signal == nil)
        let expectedStderr = Array(repeating: Array(0...255) as [UInt8], count: 4096).flatMap { $0 }
        #expect(result.stderrBytes.count == Self.mebibyte)
        #expect(result.stderrBytes == expectedStderr)
        #expect(result.stdoutBytes.count == Self.mebibyte)
        #expect(result.stdoutBytes == Array(repeating: Array((0...255).reversed()) as [UInt8], count: 4096).flatMap { $0 })
    }

    @Test func capturesInterleavedStreamsFromTheShell() throws {
        // Alternating 64 KiB chunks, 1 MiB on each stream, so both pipes fill in turn.
        let result = try runProcess("/bin/sh", ["-c", """
            i=0
            while [ $i -lt 16 ]; do
                head -c 65536 /dev/zero | tr '\\0' e >&2
                head -c 65536 /dev/zero | tr '\\0' o
                i=$((i + 1))
            done
            """], timeout: 60)
        #expect(result.status == 0)
        #expect(result.stdout == String(repeating: "o", count: Self.mebibyte))
        #expect(result.stderr == String(repeating: "e", count: Self.mebibyte))
    }

    @Test func killsAProgramThatOutlivesItsTimeoutAndNamesIt() throws {
        let started = ContinuousClock.now
        var caught: ProcessRunnerError?
        do {
            _ = try runProcess("/bin/sh", ["-c", "echo started; echo warming up >&2; sleep 30"], timeout: 1)
        } catch let error as ProcessRunnerError {
            caught = error
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(5), "took \(elapsed)")
        let error = try #require(caught, "a program sleeping 30 s under a 1 s timeout returned a result")
        guard case .timedOut(let command, let seconds, let exitStatus, let stdout, let stderr) = error else {
            Issue.record("expected .timedOut, got \(error)")
            return
        }
        #expect(command == "/bin/sh -c 'echo started; echo warming up >&2; sleep 30'")
        #expect(seconds == 1)
        #expect(exitStatus == nil)
        #expect(stdout == Array("started\n".utf8))
        #expect(stderr == Array("warming up\n".utf8))
        #expect(error.description == """
            /bin/sh -c 'echo started; echo warming up >&2; sleep 30': timed out after 1 s; killed it and its process group (SIGKILL)
            stdout so far (8 bytes): started

            stderr so far (11 bytes): warming up

            """)
    }

    @Test func killsWhatTheProgramStartedInItsProcessGroup() throws {
        // The shell prints its background sleep's pid, then waits for it.
        var printed: [UInt8] = []
        do {
            _ = try runProcess("/bin/sh", ["-c", "sleep 30 & echo $!; wait"], timeout: 1)
            Issue.record("a program waiting 30 s under a 1 s timeout returned a result")
        } catch ProcessRunnerError.timedOut(_, _, _, let stdout, _) {
            printed = stdout
        }
        let pid = try #require(Int32(String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(isGone(pid), "the background sleep (pid \(pid)) outlived the timeout")
    }

    @Test func reportsAProgramThatExitedButLeftItsOutputOpen() throws {
        // The shell exits at once; the sleep it started keeps stdout open.
        let started = ContinuousClock.now
        do {
            _ = try runProcess("/bin/sh", ["-c", "sleep 30 & exit 5"], timeout: 1)
            Issue.record("a program whose output stays open 30 s under a 1 s timeout returned a result")
        } catch let error as ProcessRunnerError {
            guard case .timedOut(_, _, let exitStatus, _, _) = error else {
                Issue.record("expected .timedOut, got \(error)")
                return
            }
            #expect(exitStatus == 5)
            #expect(error.description.hasPrefix(
                "/bin/sh -c 'sleep 30 & exit 5': exited with status 5, but something it started still held its output open after 1 s"))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func feedsInputToTheProgram() throws {
        let result = try runProcess("/bin/sh", ["-c", #"read line; echo "got $line""#], input: Array("hello\n".utf8))
        #expect(result.status == 0)
        #expect(result.stdout == "got hello\n")
    }

    @Test func feedsAMebibyteOfInputWhileReadingTheEcho() throws {
        // cat writes back while we write: feeding all input before reading would stall.
        var generator = SeededBytes(seed: 10)
        let input = generator.bytes(Self.mebibyte)
        let result = try runProcess("/bin/cat", [], input: input, timeout: 60)
        #expect(result.status == 0)
        #expect(result.stdoutBytes == input)
    }

    @Test func survivesAProgramThatExitsWithoutReadingItsInput() throws {
        // The write fails with EPIPE; without SIGPIPE blocked it would kill this process.
        let result = try runProcess("/bin/true", [], input: [UInt8](repeating: 0x61, count: Self.mebibyte), timeout: 60)
        #expect(result.status == 0)
    }

    @Test func givesDevNullAsStdinWithoutInput() throws {
        let result = try runProcess("/bin/sh", ["-c", "cat; readlink /proc/self/fd/0"], timeout: 10)
        #expect(result.stdout == "/dev/null\n")
    }

    @Test(arguments: [(0, "exit 0"), (3, "exit 3"), (64, "exit 64"), (255, "exit 255")])
    func reportsTheExitStatus(expected: Int32, script: String) throws {
        let result = try runProcess("/bin/sh", ["-c", script])
        #expect(result.status == expected)
        #expect(result.signal == nil)
    }

    @Test func reportsTheSignalThatEndedTheProgram() throws {
        let result = try runProcess("/bin/sh", ["-c", "kill -KILL $$"])
        #expect(result.signal == SIGKILL)
        #expect(result.status == 128 + SIGKILL)
    }

    @Test func usesTheGivenEnvironmentAndDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try runProcess("/bin/sh", ["-c", #"pwd -P; echo "$ONLY""#], environment: ["ONLY": "this"],
                                    directory: directory.path)
        let expectedDirectory = URL(fileURLWithPath: directory.path).resolvingSymlinksInPath().path
        #expect(result.stdout == expectedDirectory + "\n" + "this\n")
    }

    @Test func namesAProgramThatCannotStart() throws {
        do {
            _ = try runProcess("/nonexistent/tool", ["--flag", "two words"])
            Issue.record("a missing program returned a result")
        } catch let error as ProcessRunnerError {
            guard case .cannotStart(let command, _) = error else {
                Issue.record("expected .cannotStart, got \(error)")
                return
            }
            #expect(command == "/nonexistent/tool --flag 'two words'")
            #expect(error.description.hasPrefix("/nonexistent/tool --flag 'two words': cannot start: "))
        }
    }

    /// True once `pid` is gone or a zombie, waiting up to 2 s for SIGKILL to land.
    private func isGone(_ pid: Int32) -> Bool {
        for _ in 0..<200 {
            if kill(pid, 0) != 0 && errno == ESRCH { return true }
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
               let close = stat.lastIndex(of: ")"),
               stat[close...].dropFirst(2).first == "Z" { return true }
            usleep(10_000)
        }
        return false
    }
}
