import SovereignSystem
import SovereignFormats

/// `R/state.json`: the anti-rollback mark (highest sequence ever
/// installed), what each stored image is, and the history of actions.
/// Written with write-temp, fsync, rename, fsync-directory, so it is always
/// either the old or the new version. Which tree is current or previous is
/// read from the symlinks themselves, never from here.
public struct InstallState: Sendable, Equatable {
    public static let schema = "sovereign.install-state/v1"

    public struct Image: Sendable, Equatable {
        public var name: String
        public var version: String
        public var sequence: Int64
        /// SHA-256 of the image's signed `sovereign/image.json`, which
        /// binds the stored tree to the image that was verified (absent in
        /// roots written before it was recorded).
        public var imageIndexSHA256: String?
        /// The policy and evidence the image was accepted on (absent in
        /// roots written before it was recorded).
        public var trust: RecordedTrust?

        public init(name: String, version: String, sequence: Int64, imageIndexSHA256: String?, trust: RecordedTrust? = nil) {
            self.name = name
            self.version = version
            self.sequence = sequence
            self.imageIndexSHA256 = imageIndexSHA256
            self.trust = trust
        }
    }

    public struct Event: Sendable, Equatable {
        public var action: String      // install, reinstall, rollback, gc
        public var digest: String
        public var sequence: Int64
        public var time: String
    }

    public var highestSequence: Int64?
    public var images: [String: Image] = [:]
    public var history: [Event] = []

    public init() {}

    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        var root = try JSONObjectReader(parsing: bytes, source: source, mode: .strict)
        let schema = try root.string("schema")
        guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
        highestSequence = try root.optionalInteger("highestSequence")
        var images: [String: Image] = [:]
        if var imagesReader = try root.optionalObject("images") {
            for (digest, value) in imagesReader.allMembers() {
                var image = try JSONObjectReader(value, source: source, path: "images.\(digest)", mode: .strict)
                images[digest] = Image(name: try image.string("name"), version: try image.string("version"), sequence: try image.integer("sequence"),
                                       imageIndexSHA256: try image.optionalString("imageIndexSHA256"),
                                       trust: try image.optionalObject("trust") { (trust) throws(FormatsError) in try RecordedTrust(reading: &trust) })
                try image.finish()
            }
        }
        self.images = images
        for var event in try root.objects("history") {
            history.append(Event(action: try event.string("action"), digest: try event.string("digest"),
                                 sequence: try event.integer("sequence"), time: try event.string("time")))
            try event.finish()
        }
        try root.finish()
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "schema": .string(Self.schema),
            "images": .object(images.mapValues { image in
                var object: [String: JSONValue] = ["name": .string(image.name), "version": .string(image.version), "sequence": .integer(image.sequence)]
                if let digest = image.imageIndexSHA256 { object["imageIndexSHA256"] = .string(digest) }
                if let trust = image.trust { object["trust"] = trust.json }
                return .object(object)
            }),
            "history": .array(history.map {
                .object(["action": .string($0.action), "digest": .string($0.digest), "sequence": .integer($0.sequence), "time": .string($0.time)])
            }),
        ]
        if let highestSequence { object["highestSequence"] = .integer(highestSequence) }
        return .object(object)
    }
}
