import Foundation
import Glibc

/// llama.cpp's llama-server, the peer engine the sidecar tests steer. Built
/// once from the pinned llama.cpp by `scripts/build-llama-cpp llama-server`
/// (about ten minutes on two cores; `scripts/test` does it before the tests)
/// and cached outside the clone, in `$SOVEREIGN_CACHE` (default
/// ~/.cache/sovereign). A test that needs it builds it if it is missing: it
/// is never skipped.
public final class LlamaServerPeer {
    public static let binary: Result<String, TestSetupError> = {
        var environment = ProcessInfo.processInfo.environment
        environment["SOVEREIGN_CACHE"] = environment["SOVEREIGN_CACHE"] ?? (NSHomeDirectory() + "/.cache/sovereign")
        let result: ProcessResult
        do {
            result = try runProcess("/bin/bash", [RepositoryRoot.path("scripts/build-llama-cpp"), "llama-server"],
                                    environment: environment, timeout: 3600)
        } catch {
            return .failure(TestSetupError(description: "cannot build llama-server: \(error)"))
        }
        let directory = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        guard result.status == 0, FileManager.default.isExecutableFile(atPath: directory + "/bin/llama-server") else {
            return .failure(TestSetupError(description: "scripts/build-llama-cpp llama-server failed: \(result.stderr.suffix(2000))"))
        }
        return .success(directory + "/bin/llama-server")
    }()

    public let port: Int
    /// The OpenAI base URL, as `--engine openai:` takes it.
    public var url: String { "http://127.0.0.1:\(port)/v1" }
    public let logPath: String
    /// The model id it reports (`--alias`).
    public static let modelID = "smollm2-135m-instruct"
    private let process = Process()

    /// Starts llama-server on a free loopback port with the model, and waits until `/health` says ok.
    public init(model: String, threads: Int = 1, slots: Int = 1, logDirectory: String) throws {
        let binary = try Self.binary.get()
        port = try Self.freePort()
        logPath = logDirectory + "/llama-server-\(port).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        // --no-repack: its repacked AMX/AVX kernels crash on some CPUs here (see REFERENCE.md).
        process.arguments = ["-m", model, "--host", "127.0.0.1", "--port", String(port), "-t", String(threads), "-c", String(2048 * slots),
                             "-np", String(slots), "--no-repack", "--alias", Self.modelID]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            guard process.isRunning else { break }
            let health = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/health"],
                                        timeout: 10)
            if health.stdout == "200" { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        kill()
        throw TestSetupError(description: "llama-server did not become healthy: " + ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""))
    }

    deinit { kill() }

    public var isRunning: Bool { process.isRunning }

    /// SIGKILL: an engine that disappears mid-answer.
    public func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// A port nothing listens on now (bound to 0, read, released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw TestSetupError(description: "cannot bind a loopback port: errno \(errno)") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
