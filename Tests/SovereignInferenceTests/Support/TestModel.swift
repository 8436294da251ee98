import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignInference

/// Paths inside the repository.
enum Repository {
    static let root = RepositoryRoot.url
    static func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

/// The real model, fetched by `scripts/fetch-model` (which pins its sha256).
/// Fetched once per test process; a test that needs it fails with the
/// script's message when it cannot be had — it is never skipped.
enum TestModel {
    static let path: Result<String, TestSetupError> = ReferenceModel.path

    static let file: Result<GGUFFile, TestSetupError> = path.flatMap { path in
        do {
            return .success(try GGUFFile(contentsOf: path))
        } catch {
            return .failure(TestSetupError(description: "cannot load the model: \(error)"))
        }
    }

    static func loadFile() throws -> GGUFFile { try file.get() }
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
