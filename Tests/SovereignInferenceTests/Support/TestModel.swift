import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignInference

/// Paths inside the repository, found from this file's location (resolving
/// symlinks, so a scratch package that links the test folder works too).
enum Repository {
    static let root: URL = {
        // Tests/SovereignInferenceTests/Support/TestModel.swift → repository root
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }()

    static func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
}

/// The real model, fetched by `scripts/fetch-model` (which pins its sha256).
/// Fetched once per test process; a test that needs it fails with the
/// script's message when it cannot be had — it is never skipped.
enum TestModel {
    static let path: Result<String, TestSetupError> = fetch()

    static let file: Result<GGUFFile, TestSetupError> = path.flatMap { path in
        do {
            return .success(try GGUFFile(contentsOf: path))
        } catch {
            return .failure(TestSetupError(description: "cannot load the model: \(error)"))
        }
    }

    static func loadFile() throws -> GGUFFile { try file.get() }

    private static func fetch() -> Result<String, TestSetupError> {
        let script = Repository.path("scripts/fetch-model")
        let result: ProcessResult
        do {
            result = try runProcess("/bin/bash", [script.path])
        } catch {
            return .failure(TestSetupError(description: "cannot run \(script.path): \(error)"))
        }
        // The path is the last line on stdout; progress and errors go to stderr.
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, let last = text.split(separator: "\n").last else {
            return .failure(TestSetupError(description:
                "scripts/fetch-model failed (exit \(result.status)); the real model is required: \(result.stderr)\(result.stdout)"))
        }
        return .success(String(last))
    }
}

extension TestModel {
    static let tokenizer: Result<BPETokenizer, TestSetupError> = file.flatMap { file in
        do {
            return .success(try BPETokenizer(file: file))
        } catch {
            return .failure(TestSetupError(description: "cannot build the tokenizer: \(error)"))
        }
    }

    static func loadTokenizer() throws -> BPETokenizer { try tokenizer.get() }
}
