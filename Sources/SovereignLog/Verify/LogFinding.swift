import SovereignFormats

/// Something `LogVerifier` found wrong, named by kind and by the first
/// entry it concerns.
public struct LogFinding: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// An entry's bytes differ from what the appliance signed (its data,
        /// content, root or signature), or its content was removed without a
        /// purge that covers it.
        case edited
        /// A line the appliance did not write at this place: a copy of
        /// another entry, or a line no trusted key signed.
        case inserted
        /// Entries are missing from the middle of the log.
        case deleted
        /// Genuine entries out of order.
        case reordered
        /// The log ends before what a signed checkpoint covers.
        case truncated
        /// The last line is incomplete, beyond every checkpoint: an append
        /// was interrupted (a crash). `AuditLog.open` keeps the bytes in
        /// `torn/`, cuts them off and records a `recovery` entry.
        case torn
        /// A checkpoint that does not verify against the trusted key, or
        /// that the trusted key signed over a different history.
        case forgedCheckpoint = "forged-checkpoint"
        /// The log's `appliance.pub` is not the key the auditor pinned.
        case keyMismatch = "key-mismatch"
    }

    public let kind: Kind
    /// The first entry concerned: where the log stops matching what was
    /// signed (for checkpoints, their tree size; nil for the key).
    public let index: UInt64?
    /// `file:line`, or the file.
    public let location: String
    public let detail: String

    public init(kind: Kind, index: UInt64?, location: String, detail: String) {
        self.kind = kind
        self.index = index
        self.location = location
        self.detail = detail
    }

    /// One line: `<kind> entry <n>: <detail>`.
    public var message: String {
        let label = kind.rawValue.replacingOccurrences(of: "-", with: " ")
        switch (kind, index) {
        case (.forgedCheckpoint, let size?): return "\(label) (size \(size)): \(detail)"
        case (_, let index?): return "\(label) entry \(index): \(detail)"
        default: return "\(label): \(detail)"
        }
    }

    public var description: String { "\(location): \(message)" }

    public var json: JSONValue {
        var object: [String: JSONValue] = ["kind": .string(kind.rawValue), "location": .string(location),
                                           "detail": .string(detail), "message": .string(message)]
        if let index { object["index"] = .integer(Int64(index)) }
        return .object(object)
    }
}
