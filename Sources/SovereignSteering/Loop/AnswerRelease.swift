/// What of an answer in progress may go to a streaming client: only text
/// that will be in the final answer whatever the rules find later.
///
/// The runtime offers it, after every decoded token, the longest prefix
/// that is final:
/// - bare model: everything decoded, but for a tail that may be the start of a stop string;
/// - `resume`: up to the last sentence boundary at or before the monitor's
///   `safePrefixLength`. A later violation starts at or after the safe
///   prefix, so resume rolls back to a sentence boundary at or after this one;
/// - `restart`, or rules that judge the answer as a whole (`require`,
///   `mustCite`): nothing before the end, since a correction would replace
///   all of it.
/// The rest is released once the answer is final; a refusal releases
/// nothing more (the server ends the stream with an error).
struct AnswerRelease {
    /// Receives each newly final piece of text ("" when there is none yet,
    /// so a caller can still cancel); returns false to cancel the request.
    typealias Sink = (String) -> Bool

    private let sink: Sink?
    /// UTF-8 bytes released so far.
    private(set) var released: [UInt8] = []
    /// Nothing is final before the end of the answer.
    var holdsEverything = false

    init(sink: Sink?) { self.sink = sink }

    /// Releases `answer[released.count ..< limit]` if that is more than
    /// before, then asks the sink whether to go on.
    mutating func offer(_ answer: [UInt8], upTo limit: Int) throws(SteeringError) {
        guard let sink else { return }
        var text = ""
        if limit > released.count, !holdsEverything || limit == answer.count {
            guard answer.count >= limit, answer[..<released.count].elementsEqual(released) else {
                throw SteeringError("stream", "the answer no longer starts with the text already sent (a bug in the runtime)")
            }
            let piece = answer[released.count ..< limit]
            released += piece
            text = String(decoding: piece, as: UTF8.self)
        }
        guard sink(text) else { throw SteeringError.cancelled }
    }

    /// Asks the sink whether to go on, releasing nothing.
    mutating func stillWanted() -> Bool {
        guard let sink else { return true }
        return sink("")
    }

    /// Releases the whole of the final `answer`.
    mutating func finish(_ answer: String) throws(SteeringError) {
        holdsEverything = false
        let bytes = Array(answer.utf8)
        try offer(bytes, upTo: bytes.count)
    }

    /// How many bytes at the end of `answer` could be the start of one of
    /// `stops` (held back until the next token tells).
    static func stopHoldBack(_ answer: [UInt8], stops: [[UInt8]]) -> Int {
        var longest = 0
        for stop in stops {
            var length = min(stop.count - 1, answer.count)
            while length > longest {
                if answer[(answer.count - length)...].elementsEqual(stop[..<length]) {
                    longest = length
                    break
                }
                length -= 1
            }
        }
        return longest
    }

    /// Where the first of `stops` begins in `answer`, searching from `from`.
    static func firstStop(in answer: [UInt8], stops: [[UInt8]], from: Int) -> Int? {
        var earliest: Int?
        for stop in stops where !stop.isEmpty && stop.count <= answer.count {
            var start = max(0, from)
            while start + stop.count <= answer.count {
                if answer[start ..< start + stop.count].elementsEqual(stop) {
                    if start < earliest ?? Int.max { earliest = start }
                    break
                }
                start += 1
            }
        }
        return earliest
    }
}

extension SteeringError {
    /// The caller stopped the request (a streaming client went away).
    public static let cancelled = SteeringError("request", "cancelled by the caller")

    public var isCancellation: Bool { self == .cancelled }
}
