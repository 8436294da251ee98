import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive

/// Failures building, reading or co-signing images: the thing and why.
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let thing: String
    public let reason: String

    public init(_ thing: String, _ reason: String) {
        self.thing = thing
        self.reason = reason
    }

    public var description: String { "\(thing): \(reason)" }

    /// Wraps any lower module's error, keeping its thing and reason.
    public static func from(_ error: any Error) -> ImageError {
        switch error {
        case let error as ImageError: return error
        case let error as SystemError: return ImageError(error.path, error.reason)
        case let error as FileSystemError: return ImageError(error.path, error.reason)
        case let error as CryptoError: return ImageError(error.thing, error.reason)
        case let error as FormatsError: return ImageError(error.source, error.reason)
        case let error as ArchiveError: return ImageError(error.path, error.reason)
        default: return ImageError("image", "\(error)")
        }
    }
}
