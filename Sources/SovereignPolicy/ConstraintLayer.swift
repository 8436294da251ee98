import Foundation
import SovereignSystem
import SovereignFormats

/// A constraint layer on disk: `reference/*.md`, `rules.json` and
/// `runtime.json` in one folder, loaded and cross-checked (every rule cites
/// an existing passage; passage ids unique across documents).
public struct ConstraintLayer: Sendable {
    public let name: String
    public let directory: String
    public let documents: [ReferenceDocument]
    public let rules: RuleSet
    public let runtime: RuntimeSettings
    /// Every file of the layer as a path relative to `directory`, sorted.
    public let files: [String]

    public var passages: [Passage] { documents.flatMap(\.passages) }

    /// - Parameter runtimeFile: where `runtime.json` is, when not in
    ///   `directory` (an installed image keeps it at sovereign/runtime/).
    public init(directory: String, runtimeFile: String? = nil) throws(FormatsError) {
        self.directory = directory
        name = FileSystem.baseName(directory.hasSuffix("/") ? String(directory.dropLast()) : directory)
        let referenceDirectory = directory + "/reference"
        let names = try Self.listFiles(referenceDirectory, suffix: ".md")
        guard !names.isEmpty else {
            throw FormatsError(source: referenceDirectory, reason: "holds no reference documents (*.md)")
        }
        var documents: [ReferenceDocument] = []
        for fileName in names {
            let path = referenceDirectory + "/" + fileName
            let bytes = try Self.read(path)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw FormatsError(source: path, reason: "is not valid UTF-8")
            }
            documents.append(try ReferenceDocument(name: fileName, text: text))
        }
        let rulesPath = directory + "/rules.json"
        let rules = try RuleSet(json: try Self.read(rulesPath), source: rulesPath)
        let runtimePath = runtimeFile ?? directory + "/runtime.json"
        let runtime = try RuntimeSettings(json: try Self.read(runtimePath), source: runtimePath)
        try Self.crossCheck(documents: documents, rules: rules, documentsSource: referenceDirectory, rulesSource: rulesPath)
        self.documents = documents
        self.rules = rules
        self.runtime = runtime
        files = names.map { "reference/" + $0 } + ["rules.json", "runtime.json"]
        let allowed = runtimeFile == nil ? ["rules.json", "runtime.json", "README.md"] : ["rules.json"]
        let unexpected = try Self.listFiles(directory, suffix: "").filter { !allowed.contains($0) }
        if let stray = unexpected.first {
            throw FormatsError(source: directory + "/" + stray, reason: "is not part of a constraint layer (expected reference/, rules.json, runtime.json)")
        }
    }

    /// A layer held in memory (tests, tools), cross-checked like one read
    /// from disk; `directory` is empty and `files` lists nothing.
    public init(name: String, documents: [ReferenceDocument], rules: RuleSet, runtime: RuntimeSettings) throws(FormatsError) {
        try Self.crossCheck(documents: documents, rules: rules, documentsSource: name + "/reference", rulesSource: name + "/rules.json")
        self.name = name
        directory = ""
        self.documents = documents
        self.rules = rules
        self.runtime = runtime
        files = []
    }

    /// Passage ids are unique across documents, and every rule derives from
    /// one of them.
    static func crossCheck(documents: [ReferenceDocument], rules: RuleSet, documentsSource: String, rulesSource: String) throws(FormatsError) {
        var owner: [String: String] = [:]
        for document in documents {
            for passage in document.passages {
                if let other = owner[passage.id] {
                    throw FormatsError(source: documentsSource + "/" + document.name,
                                       reason: "section id '\(passage.id)' is also used in \(other)")
                }
                owner[passage.id] = document.name
            }
        }
        for rule in rules.rules where owner[rule.derivedFrom] == nil {
            throw FormatsError(source: rulesSource, reason: "rule '\(rule.id)' derives from passage '\(rule.derivedFrom)', which no reference document defines")
        }
    }

    /// Checks an audit suite against this layer: every rule it names exists.
    public func check(_ suite: AuditSuite, source: String) throws(FormatsError) {
        let ids = Set(rules.rules.map(\.id))
        for testCase in suite.cases {
            if let missing = testCase.rulesFired.first(where: { !ids.contains($0) }) {
                throw FormatsError(source: source, reason: "case '\(testCase.id)' names rule '\(missing)', which \(name)/rules.json does not define")
            }
        }
    }

    static func read(_ path: String) throws(FormatsError) -> [UInt8] {
        do { return try FileSystem.readFile(path) } catch { throw FormatsError(source: error.path, reason: error.reason) }
    }

    /// Regular files directly in `directory` ending in `suffix`, sorted by
    /// bytes (not locale), so every machine sees the same order.
    public static func listFiles(_ directory: String, suffix: String) throws(FormatsError) -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw FormatsError(source: directory, reason: FileSystem.isDirectory(directory) ? "cannot be listed" : "no such directory")
        }
        return names.filter { $0.hasSuffix(suffix) && !$0.hasPrefix(".") && !FileSystem.isDirectory(directory + "/" + $0) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
