import Foundation
import SovereignFormats

/// A passage of a reference document: the text under one `## Heading {#id}`
/// up to the next heading. Rules cite passages by id; steering retrieves them.
public struct Passage: Sendable, Equatable {
    public let id: String
    public let title: String
    /// The document's file name, e.g. `conduct.md`.
    public let document: String
    /// The passage body (without its heading), trimmed.
    public let text: String
    /// 1-based line of the heading, for error messages.
    public let line: Int
}

/// A Markdown reference document split into passages.
///
/// Format: an optional `# Title` line, then sections whose headings (level
/// 2 to 6) each end with a Pandoc-style id, `## Privacy {#privacy-no-pii}`.
/// Ids are lowercase letters, digits, `-` and `.`; a section heading without
/// an id is an error, so no passage is ever uncitable by accident. Headings
/// inside fenced code blocks are text.
public struct ReferenceDocument: Sendable, Equatable {
    public let name: String
    public let title: String?
    public let passages: [Passage]

    public init(name: String, text: String) throws(FormatsError) {
        self.name = name
        var title: String?
        var passages: [Passage] = []
        var current: (id: String, title: String, line: Int, body: [Substring])?
        var inFence = false

        func close() {
            if let section = current {
                let body = section.body.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
                passages.append(Passage(id: section.id, title: section.title, document: name, text: body, line: section.line))
            }
            current = nil
        }

        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let trimmed = line.drop(while: { $0 == " " })
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") { inFence.toggle() }
            guard !inFence, let heading = Self.heading(line) else {
                current?.body.append(line)
                continue
            }
            if heading.level == 1, title == nil, current == nil, passages.isEmpty {
                title = heading.text
                continue
            }
            guard let (sectionTitle, id) = Self.splitID(heading.text) else {
                throw FormatsError(source: name, reason: "line \(number): heading '\(heading.text)' has no section id (write '\(String(repeating: "#", count: heading.level)) \(heading.text) {#some-id}')")
            }
            guard Self.isValidID(id) else {
                throw FormatsError(source: name, reason: "line \(number): section id '\(id)' must be lowercase letters, digits, '-' or '.'")
            }
            close()
            current = (id, sectionTitle, number, [])
        }
        close()
        if let duplicate = Self.firstDuplicate(passages.map(\.id)) {
            throw FormatsError(source: name, reason: "section id '\(duplicate)' is used twice")
        }
        self.title = title
        self.passages = passages
    }

    static func heading(_ line: Substring) -> (level: Int, text: String)? {
        let hashes = line.prefix(while: { $0 == "#" }).count
        guard (1...6).contains(hashes) else { return nil }
        let rest = line.dropFirst(hashes)
        guard rest.first == " " else { return nil }
        return (hashes, rest.trimmingCharacters(in: .whitespaces))
    }

    /// "Title {#id}" → ("Title", "id").
    static func splitID(_ text: String) -> (String, String)? {
        guard text.hasSuffix("}"), let open = text.range(of: "{#", options: .backwards) else { return nil }
        let id = String(text[open.upperBound..<text.index(before: text.endIndex)])
        let title = text[..<open.lowerBound].trimmingCharacters(in: .whitespaces)
        return (title, id)
    }

    static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, ("a"..."z").contains(first) || ("0"..."9").contains(first) else { return false }
        return id.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
    }

    static func firstDuplicate(_ ids: [String]) -> String? {
        var seen = Set<String>()
        return ids.first { !seen.insert($0).inserted }
    }
}
