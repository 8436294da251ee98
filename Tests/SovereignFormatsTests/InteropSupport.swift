import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignFormats

/// Runs the independent Python checkers in Tests/Interop with the package's
/// virtual environment (made by scripts/setup).
enum FormatsInterop {
    /// The package root, found from this file's path (symlinks resolved, so
    /// a scratch package that links Tests/ still finds the real root).
    static let packageRoot: String = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var python: String { packageRoot + "/.venv/bin/python" }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Result {
        let status: Int32
        let output: String
    }

    /// Runs `Tests/Interop/<script>` with `arguments`. Throws (so the test
    /// fails, never skips) when the virtual environment is missing or the
    /// checker cannot import its library (its exit status 2).
    static func run(_ script: String, _ arguments: [String]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure(description: "\(python) not found: run scripts/setup")
        }
        let result = try runProcess(python, [packageRoot + "/Tests/Interop/" + script] + arguments)
        // The checkers print their verdict on stdout and tracebacks on stderr.
        let output = (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status != 2 else {
            throw Failure(description: "\(script) could not run: \(output) (run scripts/setup)")
        }
        return Result(status: result.status, output: output)
    }

    /// Writes `value` canonically to a fresh temporary file and runs `script`
    /// on it (with `leading` arguments before the path).
    static func check(_ script: String, _ leading: [String] = [], document value: JSONValue) throws -> Result {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sovereign-formats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("document.json")
        try Data(CanonicalJSON.serialize(value)).write(to: file)
        return try run(script, leading + [file.path])
    }
}

/// One step into a JSON document: an object key or an array index.
enum JSONStep: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case key(String)
    case index(Int)
    init(stringLiteral value: String) { self = .key(value) }
    init(integerLiteral value: Int) { self = .index(value) }
}

extension JSONValue {
    /// A copy with the value at `path` replaced, or removed when `newValue`
    /// is nil. Traps on a path that does not exist (a test bug).
    func setting(_ path: [JSONStep], to newValue: JSONValue?) -> JSONValue {
        guard let first = path.first else { return newValue ?? .null }
        let rest = Array(path.dropFirst())
        switch (self, first) {
        case (.object(var members), .key(let key)):
            if rest.isEmpty {
                members[key] = newValue
            } else {
                members[key] = members[key]!.setting(rest, to: newValue)
            }
            return .object(members)
        case (.array(var elements), .index(let index)):
            if rest.isEmpty {
                if let newValue { elements[index] = newValue } else { elements.remove(at: index) }
            } else {
                elements[index] = elements[index].setting(rest, to: newValue)
            }
            return .array(elements)
        default:
            preconditionFailure("no \(first) in \(self.typeName)")
        }
    }

    /// The value at `path`, if any.
    func at(_ path: JSONStep...) -> JSONValue? {
        var current: JSONValue? = self
        for step in path {
            switch (current, step) {
            case (.object(let members)?, .key(let key)): current = members[key]
            case (.array(let elements)?, .index(let index)): current = elements.indices.contains(index) ? elements[index] : nil
            default: return nil
            }
        }
        return current
    }
}
