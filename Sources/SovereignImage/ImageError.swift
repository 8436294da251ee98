import SovereignSystem

/// Failures building, reading or co-signing images: the thing and why.
public struct ImageError: SovereignError, Sendable, Equatable {
    public let thing: String
    public let reason: String

    public init(_ thing: String, _ reason: String) {
        self.thing = thing
        self.reason = reason
    }

    /// Wraps any lower module's error, keeping its thing and reason.
    public static func from(_ error: any Error) -> ImageError {
        if let error = error as? ImageError { return error }
        if let error = error as? any SovereignError { return ImageError(error.thing, error.reason) }
        return ImageError("image", "\(error)")
    }
}
