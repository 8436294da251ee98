/// What every module's error offers: the thing it is about (a path, a key
/// id, a field, a blob) and the reason, so a caller can report any of them
/// as one line, `sovereign: <thing>: <reason>`, without knowing its type.
public protocol SovereignError: Error, CustomStringConvertible {
    var thing: String { get }
    var reason: String { get }
}

extension SovereignError {
    public var description: String { "\(thing): \(reason)" }
}
