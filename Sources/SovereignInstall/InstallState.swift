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
        var root = try StrictObjectReader(parsing: bytes, source: source)
        let schema = try root.string("schema")
        guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
        highestSequence = try root.optionalInteger("highestSequence")
        var images: [String: Image] = [:]
        if var imagesReader = try root.optionalObject("images") {
            for (digest, value) in imagesReader.allMembers() {
                var image = try StrictObjectReader(value, source: source, path: "images.\(digest)")
                images[digest] = Image(name: try image.string("name"), version: try image.string("version"), sequence: try image.integer("sequence"))
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
            "images": .object(images.mapValues { .object(["name": .string($0.name), "version": .string($0.version), "sequence": .integer($0.sequence)]) }),
            "history": .array(history.map {
                .object(["action": .string($0.action), "digest": .string($0.digest), "sequence": .integer($0.sequence), "time": .string($0.time)])
            }),
        ]
        if let highestSequence { object["highestSequence"] = .integer(highestSequence) }
        return .object(object)
    }
}
