/// Text in normal form, with a map from every normalised scalar back to the
/// UTF-8 bytes of the original text it came from.
///
/// Several normalised scalars can come from one original scalar (`ß` →
/// `ss`, both mapped to the two bytes of `ß`); an original scalar can vanish
/// (a combining accent, a zero-width space, the space inside a digit group),
/// in which case the map skips it.
public struct NormalizedText: Sendable, Equatable {
    public private(set) var scalars: [Unicode.Scalar] = []
    /// `sourceRanges[i]`: the UTF-8 byte range, in the original text, of the
    /// scalar that `scalars[i]` came from.
    public private(set) var sourceRanges: [Range<Int>] = []

    public init() {}

    public var count: Int { scalars.count }
    public var isEmpty: Bool { scalars.isEmpty }

    /// The normalised text as a string.
    public var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// The original bytes a run of normalised scalars came from: from the
    /// start of the first one's source to the end of the last one's.
    public func sourceRange(of range: Range<Int>) -> Range<Int> {
        precondition(!range.isEmpty && range.upperBound <= scalars.count, "sourceRange: range out of bounds")
        return sourceRanges[range.lowerBound].lowerBound..<sourceRanges[range.upperBound - 1].upperBound
    }

    mutating func append(_ scalar: Unicode.Scalar, from source: Range<Int>) {
        scalars.append(scalar)
        sourceRanges.append(source)
    }
}
