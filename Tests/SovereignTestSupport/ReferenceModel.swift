import Foundation

/// The repository's root, found from this file's location (resolving
/// symlinks, so a scratch package that links the test folder works too).
public enum RepositoryRoot {
    public static let url: URL = {
        // Tests/SovereignTestSupport/ReferenceModel.swift → repository root
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    public static func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }
}

/// Why a test's setup could not be done (the model could not be fetched…).
public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The real reference model (SmolLM2-135M-Instruct), fetched by
/// `scripts/fetch-model`, which pins its sha256. Fetched once per test
/// process; a test that needs it fails with the script's message when it
/// cannot be had: it is never skipped.
public enum ReferenceModel {
    public static let path: Result<String, TestSetupError> = {
        let script = RepositoryRoot.path("scripts/fetch-model")
        let result: ProcessResult
        do {
            result = try runProcess("/bin/bash", [script])
        } catch {
            return .failure(TestSetupError(description: "cannot run \(script): \(error)"))
        }
        // The path is the last line on stdout; progress and errors go to stderr.
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, let last = text.split(separator: "\n").last else {
            return .failure(TestSetupError(description:
                "scripts/fetch-model failed (exit \(result.status)); the real model is required: \(result.stderr)\(result.stdout)"))
        }
        return .success(String(last))
    }()
}
