import SovereignPolicy

/// Checks one answer as it is decoded.
///
/// Feed it the answer's text in pieces (`append`); each call returns the
/// earliest violation that became certain with that piece: a forbidden
/// phrase once the word after it shows it is whole, a card number once its
/// digit run has ended, a figure the passages do not hold once it is
/// complete, the first scalar past `maxLength`. `finish()` then reports
/// what only the end decides (a `require` not met, `mustCite`, anything
/// still pending). `violations` holds everything found, in order found.
///
/// Offsets are UTF-8 bytes into the whole answer fed so far.
/// `safePrefixLength` is how much of the answer no rule can still flag:
/// a streaming server may send that much.
///
/// It is a value: copy it to keep a checkpoint (at a sentence boundary,
/// say) and continue from the copy after rolling the answer back.
public struct OutputMonitor: Sendable {
    public let rules: SteeringRules
    /// Every violation found so far, in the order found.
    public private(set) var violations: [Violation] = []

    private var normalizer = TextNormalizer()
    private var forbidMatchers: [(rule: Int, matcher: PatternMatcher)] = []
    private var requireMatchers: [(requirement: Int, matcher: PatternMatcher)] = []
    /// Per entry of `rules.requirements`: nil when its `when` did not match
    /// the prompt, else whether the answer has met it.
    private var requirementMet: [Bool?] = []
    private var matchingFed = 0
    /// Per output `detect` rule, per detector: where its next scan starts
    /// (in `folded` scalars), and the values the passages allow.
    private var detectResume: [[Int]] = []
    private var allowedValues: [Detector: [String]] = [:]
    private var groundedResume = 0
    private var groundingFigures: Set<String> = []
    private var maxLengthReported: [Bool] = []
    private var citations: [[Unicode.Scalar]] = []
    private var counts: [Int]
    private var finished = false

    /// - prompt: the prompt as the model sees it (after redaction); its
    ///   figures ground the answer and it decides which `require` rules apply.
    /// - passages: the passages injected for this request; their figures
    ///   ground the answer, their detector values are allowed where a rule
    ///   says `allowFromPassages`, their ids are what `mustCite` accepts.
    public init(rules: SteeringRules, prompt: String, passages: [Passage]) {
        self.rules = rules
        counts = Array(repeating: 0, count: rules.rules.count)
        let promptText = TextNormalizer.normalize(prompt)
        for entry in rules.forbid {
            for program in entry.programs { forbidMatchers.append((entry.rule, PatternMatcher(program))) }
        }
        for (index, requirement) in rules.requirements.enumerated() {
            let applies = requirement.when.map { SteeringRules.firstMatch($0, in: promptText.matching.scalars) != nil } ?? true
            requirementMet.append(applies ? false : nil)
            if applies {
                for program in requirement.answer { requireMatchers.append((index, PatternMatcher(program))) }
            }
        }
        let passageTexts = passages.map { TextNormalizer.normalize($0.title + "\n" + $0.text) }
        for detection in rules.detections {
            detectResume.append(Array(repeating: 0, count: detection.detectors.count))
            guard case .output(allowFromPassages: true) = detection.target else { continue }
            for detector in detection.detectors where allowedValues[detector] == nil {
                allowedValues[detector] = passageTexts.flatMap {
                    detector.scan($0.folded.scalars, from: 0, isFinal: true).matches.map(\.value)
                }
            }
        }
        if !rules.grounded.isEmpty {
            groundingFigures = rules.blipFigures.union(GroundedFigures.figures(in: promptText.folded.scalars))
            for text in passageTexts { groundingFigures.formUnion(GroundedFigures.figures(in: text.folded.scalars)) }
        }
        maxLengthReported = Array(repeating: false, count: rules.maxLengths.count)
        for entry in rules.maxLengths { normalizer.watchedScalarIndices.insert(entry.maxCharacters) }
        citations = passages.map { TextNormalizer.normalize($0.id).matching.scalars }
    }

    /// UTF-8 bytes of answer received.
    public var outputLength: Int { normalizer.sourceLength }

    /// Appends decoded text; returns the earliest violation it made certain.
    public mutating func append(_ text: String) -> Violation? {
        append(utf8: Array(text.utf8))
    }

    /// Appends raw bytes of the answer (a token's piece; a UTF-8 sequence
    /// may be split across calls).
    public mutating func append(utf8 bytes: [UInt8]) -> Violation? {
        precondition(!finished, "OutputMonitor: append after finish")
        normalizer.append(utf8: bytes)
        return check(isFinal: false).first
    }

    /// Ends the answer; returns the violations only the end made certain,
    /// by offset.
    public mutating func finish() -> [Violation] {
        guard !finished else { return [] }
        normalizer.finish()
        finished = true
        return check(isFinal: true)
    }

    /// Whether `finish()` may flag the answer as a whole: a `require` rule
    /// applies to this prompt, or a `mustCite` rule exists. Such a finding
    /// has no place in the answer to resume from, so the whole answer is
    /// regenerated and nothing of it is final before the end.
    public var judgesWholeAnswer: Bool {
        !rules.mustCite.isEmpty || requirementMet.contains { $0 != nil }
    }

    /// Bytes at the start of the answer that no rule can still flag: before
    /// any violation found, any match in progress, any detector candidate
    /// or figure not yet complete, and any text the normaliser holds.
    public var safePrefixLength: Int {
        var safe = normalizer.pendingSourceOffset
        for violation in violations { safe = min(safe, violation.range.lowerBound) }
        let matching = normalizer.matching, folded = normalizer.folded
        for entry in forbidMatchers {
            if let start = entry.matcher.earliestLiveStart, start < matching.count {
                safe = min(safe, matching.sourceRanges[start].lowerBound)
            }
        }
        // Only output detections scan the answer; an input detection's
        // resume point stays at 0 and says nothing about it.
        for (index, detection) in rules.detections.enumerated() {
            guard case .output = detection.target else { continue }
            for resume in detectResume[index] where resume < folded.count {
                safe = min(safe, folded.sourceRanges[resume].lowerBound)
            }
        }
        if !rules.grounded.isEmpty, groundedResume < folded.count {
            safe = min(safe, folded.sourceRanges[groundedResume].lowerBound)
        }
        return safe
    }

    private mutating func check(isFinal: Bool) -> [Violation] {
        var found: [Violation] = []
        func report(_ rule: Int, _ message: String, _ range: Range<Int>, _ detector: Detector? = nil) {
            guard counts[rule] < SteeringRules.maxViolationsPerRule else { return }
            counts[rule] += 1
            found.append(Violation(rule: rules.rules[rule], message: message, range: range, detector: detector))
        }

        for (index, entry) in rules.maxLengths.enumerated() where !maxLengthReported[index] {
            if let first = normalizer.watchedScalarRanges[entry.maxCharacters] {
                maxLengthReported[index] = true
                report(entry.rule, "the answer is longer than \(entry.maxCharacters) characters", first)
            }
        }

        let matching = normalizer.matching
        func feedMatchers(_ next: Unicode.Scalar?) {
            for index in forbidMatchers.indices {
                let range = next.map { forbidMatchers[index].matcher.feed($0) } ?? forbidMatchers[index].matcher.finish()
                if let range {
                    let program = forbidMatchers[index].matcher.program
                    report(forbidMatchers[index].rule, "forbidden \(program.isPhrase ? "phrase" : "pattern") '\(program.source)'",
                           matching.sourceRange(of: range))
                }
            }
            for index in requireMatchers.indices {
                let requirement = requireMatchers[index].requirement
                guard requirementMet[requirement] == false else { continue }
                let range = next.map { requireMatchers[index].matcher.feed($0) } ?? requireMatchers[index].matcher.finish()
                if range != nil { requirementMet[requirement] = true }
            }
        }
        while matchingFed < matching.count {
            feedMatchers(matching.scalars[matchingFed])
            matchingFed += 1
        }
        if isFinal { feedMatchers(nil) }

        let folded = normalizer.folded
        for (ruleIndex, detection) in rules.detections.enumerated() {
            guard case .output = detection.target else { continue }
            for (detectorIndex, detector) in detection.detectors.enumerated() {
                let (matches, resume) = detector.scan(folded.scalars, from: detectResume[ruleIndex][detectorIndex], isFinal: isFinal)
                detectResume[ruleIndex][detectorIndex] = resume
                for match in matches {
                    if let allowed = allowedValues[detector], allowed.contains(where: { detector.sameValue($0, match.value) }) { continue }
                    report(detection.rule, "the answer contains \(detector.indefiniteLabel)", folded.sourceRange(of: match.range), detector)
                }
            }
        }

        if !rules.grounded.isEmpty {
            let (figures, resume) = GroundedFigures.scan(folded.scalars, from: groundedResume, isFinal: isFinal)
            groundedResume = resume
            for figure in figures where !groundingFigures.contains(figure.value) {
                for entry in rules.grounded where !entry.allow.contains(figure.value) {
                    let written = String(String.UnicodeScalarView(folded.scalars[figure.range]))
                    report(entry.rule, "the figure '\(written)' is in no injected passage and not in the question",
                           folded.sourceRange(of: figure.range))
                }
            }
        }

        if isFinal {
            let end = normalizer.sourceLength
            for (index, requirement) in rules.requirements.enumerated() where requirementMet[index] == false {
                let sources = requirement.answer.map { "'\($0.source)'" }.joined(separator: ", ")
                report(requirement.rule, "the answer contains none of \(sources)", end..<end)
            }
            if !rules.mustCite.isEmpty {
                let cited = citations.contains { id in Self.contains(matching.scalars, id) }
                if !cited {
                    for rule in rules.mustCite { report(rule, "the answer cites no injected passage id", end..<end) }
                }
            }
        }

        found.sort { $0.range.lowerBound < $1.range.lowerBound }
        violations.append(contentsOf: found)
        return found
    }

    static func contains(_ text: [Unicode.Scalar], _ needle: [Unicode.Scalar]) -> Bool {
        guard !needle.isEmpty, needle.count <= text.count else { return false }
        for start in 0...(text.count - needle.count) where text[start] == needle[0] {
            if text[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
