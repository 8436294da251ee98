import SovereignPolicy

/// A constraint layer's rules compiled for checking: phrases and patterns as
/// automata over normalised text, detectors and figure checks ready. One
/// value serves every request (it is immutable and `Sendable`); each
/// answer gets an `OutputMonitor`.
public struct SteeringRules: Sendable {
    /// At most this many violations are reported per rule and text (a
    /// pattern that matches everywhere cannot flood the log).
    public static let maxViolationsPerRule = 16

    public let rules: [Rule]
    public let runtime: RuntimeSettings

    struct Programs: Sendable {
        let rule: Int
        let programs: [PatternProgram]
    }

    struct Requirement: Sendable {
        let rule: Int
        let when: [PatternProgram]?
        let answer: [PatternProgram]
    }

    struct Detection: Sendable {
        let rule: Int
        let detectors: [Detector]
        let target: Rule.DetectTarget
    }

    let refuseWhen: [Programs]
    let forbid: [Programs]
    let requirements: [Requirement]
    let maxLengths: [(rule: Int, maxCharacters: Int)]
    let detections: [Detection]
    let grounded: [(rule: Int, allow: Set<String>)]
    let mustCite: [Int]
    /// Figures in the rules' own blips (a blip the model was shown may be
    /// repeated: the layer is its source).
    let blipFigures: Set<String>

    /// Compiles a loaded (and so validated) constraint layer.
    public init(layer: ConstraintLayer) throws(SteeringError) {
        try self.init(rules: layer.rules, runtime: layer.runtime)
    }

    public init(rules ruleSet: RuleSet, runtime: RuntimeSettings) throws(SteeringError) {
        var refuseWhen: [Programs] = [], forbid: [Programs] = [], requirements: [Requirement] = []
        var maxLengths: [(Int, Int)] = [], detections: [Detection] = [], grounded: [(Int, Set<String>)] = [], mustCite: [Int] = []
        var blipFigures = Set<String>()
        for (index, rule) in ruleSet.rules.enumerated() {
            func compile(_ matchers: TextMatchers, _ field: String) throws(SteeringError) -> [PatternProgram] {
                var programs: [PatternProgram] = []
                do {
                    for phrase in matchers.phrases { programs.append(try PatternProgram(phrase: phrase)) }
                    for pattern in matchers.patterns { programs.append(try PatternProgram(pattern: pattern)) }
                } catch {
                    throw SteeringError("rule '\(rule.id)'", "\(field)\(error.thing): \(error.reason)")
                }
                return programs
            }
            switch rule.parameters {
            case .refuseWhen(let matchers):
                refuseWhen.append(Programs(rule: index, programs: try compile(matchers, "")))
            case .forbid(let matchers):
                forbid.append(Programs(rule: index, programs: try compile(matchers, "")))
            case .require(let when, let answer):
                let whenPrograms: [PatternProgram]? = if let when { try compile(when, "when: ") } else { nil }
                requirements.append(Requirement(rule: index, when: whenPrograms, answer: try compile(answer, "")))
            case .maxLength(let maxCharacters):
                maxLengths.append((index, maxCharacters))
            case .detect(let detectors, let target):
                detections.append(Detection(rule: index, detectors: detectors, target: target))
            case .grounded(let allow):
                grounded.append((index, Set(allow.map(GroundedFigures.canonical))))
            case .mustCite:
                mustCite.append(index)
            }
            blipFigures.formUnion(GroundedFigures.figures(in: TextNormalizer.normalize(rule.blip).folded.scalars))
        }
        rules = ruleSet.rules
        self.runtime = runtime
        self.refuseWhen = refuseWhen
        self.forbid = forbid
        self.requirements = requirements
        self.maxLengths = maxLengths
        self.detections = detections
        self.grounded = grounded
        self.mustCite = mustCite
        self.blipFigures = blipFigures
    }

    /// The input rules on a prompt: too long, refused (every `refuseWhen`
    /// match and every detector set to refuse, all reported), or go on with
    /// the detectors' values redacted.
    public func checkInput(_ prompt: String) -> InputDecision {
        let bytes = prompt.utf8.count
        guard bytes <= runtime.maxPromptBytes else { return .tooLong(bytes: bytes, limit: runtime.maxPromptBytes) }
        let text = TextNormalizer.normalize(prompt)
        var violations: [Violation] = []
        for entry in refuseWhen {
            let rule = rules[entry.rule]
            if let (program, range) = Self.firstMatch(entry.programs, in: text.matching.scalars) {
                let what = program.isPhrase ? "phrase" : "pattern"
                violations.append(Violation(rule: rule, message: "the prompt matches \(what) '\(program.source)'",
                                            range: text.matching.sourceRange(of: range)))
            }
        }
        var removed: [Removal] = []
        for detection in detections {
            let rule = rules[detection.rule]
            var count = 0
            for detector in detection.detectors {
                for found in detector.scan(text.folded.scalars, from: 0, isFinal: true).matches {
                    let range = text.folded.sourceRange(of: found.range)
                    switch detection.target {
                    case .output:
                        continue
                    case .inputRefuse:
                        removed.append(Removal(range: range, replacement: "[\(detector.label) removed]", rule: rule, detector: detector, redacts: false))
                        if count < Self.maxViolationsPerRule {
                            violations.append(Violation(rule: rule, message: "the prompt contains \(detector.indefiniteLabel)", range: range, detector: detector))
                        }
                        count += 1
                    case .inputRedact(let replacement):
                        removed.append(Removal(range: range, replacement: replacement, rule: rule, detector: detector, redacts: true))
                    }
                }
            }
        }
        let (redacted, kept) = Self.redact(prompt, removed)
        let redactions = kept.filter(\.redacts).map {
            Redaction(ruleID: $0.rule.id, passageID: $0.rule.derivedFrom, detector: $0.detector, blip: $0.rule.blip,
                      range: $0.range, replacement: $0.replacement)
        }
        if !violations.isEmpty {
            return .refuse(prompt: redacted, violations: violations.sorted { $0.range.lowerBound < $1.range.lowerBound })
        }
        return .proceed(prompt: redacted, redactions: redactions)
    }

    /// The first match of any program over a complete text: the one that
    /// ends first, then starts first, then comes first in the rule.
    static func firstMatch(_ programs: [PatternProgram], in scalars: [Unicode.Scalar]) -> (PatternProgram, Range<Int>)? {
        var best: (PatternProgram, Range<Int>)?
        for program in programs {
            var matcher = PatternMatcher(program)
            var found: Range<Int>?
            for scalar in scalars {
                found = matcher.feed(scalar)
                if found != nil { break }
            }
            if found == nil { found = matcher.finish() }
            guard let found else { continue }
            if let current = best?.1,
               (current.upperBound, current.lowerBound) <= (found.upperBound, found.lowerBound) { continue }
            best = (program, found)
        }
        return best
    }

    /// A detector's find to cut out of a prompt.
    struct Removal {
        var range: Range<Int>
        let replacement: String
        let rule: Rule
        let detector: Detector
        /// A redaction (reported as such), or a refused value (cut from the
        /// prompt the log records).
        let redacts: Bool
    }

    /// Replaces byte ranges of `text`; a range overlapping an earlier one is
    /// merged into it (the earlier replacement covers both). Returns the new
    /// text and the removals as applied.
    static func redact(_ text: String, _ removals: [Removal]) -> (String, [Removal]) {
        let sorted = removals.enumerated().sorted {
            ($0.element.range.lowerBound, $0.offset) < ($1.element.range.lowerBound, $1.offset)
        }.map(\.element)
        var kept: [Removal] = []
        for removal in sorted {
            if let last = kept.last, removal.range.lowerBound < last.range.upperBound {
                if removal.range.upperBound > last.range.upperBound {
                    kept[kept.count - 1].range = last.range.lowerBound..<removal.range.upperBound
                }
                continue
            }
            kept.append(removal)
        }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var position = 0
        for removal in kept {
            output.append(contentsOf: bytes[position..<removal.range.lowerBound])
            output.append(contentsOf: removal.replacement.utf8)
            position = removal.range.upperBound
        }
        output.append(contentsOf: bytes[position...])
        return (String(decoding: output, as: UTF8.self), kept)
    }
}
