import SovereignFormats

/// Which engine generated an answer, as the log and certifications name it:
/// the embedded engine (bit-exact, replayable) or a remote OpenAI-compatible
/// one, by URL, the model id it reports and its version where it tells us
/// (`system_fingerprint`).
public struct EngineIdentity: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case embedded
        case openai
    }

    public let kind: Kind
    public let url: String?
    /// The model id the engine reports (remote), or nil (embedded: the image's model digest names it).
    public let model: String?
    public let version: String?

    public static let embedded = EngineIdentity(kind: .embedded, url: nil, model: nil, version: nil)

    public init(kind: Kind, url: String?, model: String?, version: String?) {
        self.kind = kind
        self.url = url
        self.model = model
        self.version = version
    }

    /// Whether answers can be replayed bit for bit: only the embedded engine's.
    public var replaysBitExact: Bool { kind == .embedded }

    public var json: JSONValue {
        var object: [String: JSONValue] = ["kind": .string(kind.rawValue)]
        if let url { object["url"] = .string(url) }
        if let model { object["model"] = .string(model) }
        if let version { object["version"] = .string(version) }
        return .object(object)
    }
}
