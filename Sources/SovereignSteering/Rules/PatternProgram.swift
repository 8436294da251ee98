import SovereignPolicy

/// A phrase or pattern compiled to a Thompson automaton over the `matching`
/// form of normalised text (`TextNormalizer`). Literals are folded as the
/// text is, so `"Café"` in a rule matches `cafe`, `CAFÉ` and `ｃａｆé`; a
/// space or a dash in a rule matches a space or a dash in the text (the
/// text has at most one between two words); digits written with a single
/// space or dash between them are joined, as in the text.
struct PatternProgram: Sendable {
    /// Instructions after literal folding; a little above the policy's bound
    /// because folding can lengthen a literal (`ﬃ` → `ffi`).
    static let maxInstructions = 3 * RulePattern.maxProgramSize

    enum Instruction: Sendable {
        case scalar(Unicode.Scalar)
        case set(CompiledSet)
        case any
        /// A space or a dash: what a separator in the rule matches.
        case separator
        case split(Int, Int)
        case jump(Int)
        case assert(RulePattern.Assertion)
        case match
    }

    /// The phrase or pattern as the rule wrote it, for messages.
    let source: String
    let isPhrase: Bool
    let instructions: [Instruction]

    /// A phrase: whole words, literally.
    init(phrase: String) throws(SteeringError) {
        let elements = Self.foldLiterals(Array(phrase.unicodeScalars)).trimmingSeparators()
        guard let first = elements.first, let last = elements.last else {
            throw SteeringError("phrase '\(phrase)'", "normalises to nothing")
        }
        var compiler = Compiler()
        if first.isWord { compiler.emit(.assert(.wordBoundary)) }
        for element in elements { compiler.emit(element.instruction) }
        if last.isWord { compiler.emit(.assert(.wordBoundary)) }
        compiler.emit(.match)
        source = phrase
        isPhrase = true
        instructions = compiler.instructions
    }

    init(pattern: RulePattern) throws(SteeringError) {
        var compiler = Compiler()
        compiler.compile(pattern.root)
        compiler.emit(.match)
        guard compiler.instructions.count <= Self.maxInstructions else {
            throw SteeringError("pattern '\(pattern.source)'", "compiles to \(compiler.instructions.count) states, the limit is \(Self.maxInstructions)")
        }
        source = pattern.source
        isPhrase = false
        instructions = compiler.instructions
    }

    /// One literal position after folding.
    enum Element: Equatable {
        case scalar(Unicode.Scalar)
        case separator

        var isWord: Bool {
            if case .scalar(let scalar) = self { return scalar.isWordScalar }
            return false
        }

        var instruction: Instruction {
            switch self {
            case .scalar(let scalar): return .scalar(scalar)
            case .separator: return .separator
            }
        }
    }

    /// Folds a run of literal scalars the way `TextNormalizer` folds text,
    /// keeping separators at either end (the run may sit between groups).
    static func foldLiterals(_ scalars: [Unicode.Scalar]) -> [Element] {
        let folded = ScalarFolding.fold(scalars)

        var elements: [Element] = []
        var index = 0
        while index < folded.count {
            let scalar = folded[index]
            guard scalar.isSpaceLike || scalar.isDashLike else {
                elements.append(.scalar(scalar))
                index += 1
                continue
            }
            var end = index
            while end < folded.count, folded[end].isSpaceLike || folded[end].isDashLike { end += 1 }
            let joinsDigits = end - index == 1 && index > 0 && end < folded.count
                && folded[index - 1].isDecimalDigit && folded[end].isDecimalDigit
            if !joinsDigits { elements.append(.separator) }
            index = end
        }
        return elements
    }

    struct Compiler {
        var instructions: [Instruction] = []

        mutating func emit(_ instruction: Instruction) { instructions.append(instruction) }

        /// Emits a placeholder to patch once its target is known.
        mutating func placeholder() -> Int {
            instructions.append(.match)
            return instructions.count - 1
        }

        mutating func compile(_ node: RulePattern.Node) {
            switch node {
            case .empty:
                break
            case .literal(let scalar):
                for element in foldLiterals([scalar]) { emit(element.instruction) }
            case .any:
                emit(.any)
            case .set(let set):
                emit(.set(CompiledSet(set)))
            case .assertion(let assertion):
                emit(.assert(assertion))
            case .concatenation(let parts):
                var index = 0
                while index < parts.count {
                    // Consecutive literals fold together (a base and its accent).
                    var literals: [Unicode.Scalar] = []
                    while index < parts.count, case .literal(let scalar) = parts[index] {
                        literals.append(scalar)
                        index += 1
                    }
                    if !literals.isEmpty {
                        for element in foldLiterals(literals) { emit(element.instruction) }
                        continue
                    }
                    compile(parts[index])
                    index += 1
                }
            case .alternation(let choices):
                var jumpsToEnd: [Int] = []
                for (position, choice) in choices.enumerated() {
                    if position < choices.count - 1 {
                        let split = placeholder()
                        compile(choice)
                        jumpsToEnd.append(placeholder())
                        instructions[split] = .split(split + 1, instructions.count)
                    } else {
                        compile(choice)
                    }
                }
                for jump in jumpsToEnd { instructions[jump] = .jump(instructions.count) }
            case .repetition(let inner, let min, let max):
                for _ in 0..<min { compile(inner) }
                if let max {
                    var skips: [Int] = []
                    for _ in min..<max {
                        let split = placeholder()
                        skips.append(split)
                        compile(inner)
                        instructions[split] = .split(split + 1, -1)
                    }
                    for split in skips {
                        if case .split(let body, _) = instructions[split] { instructions[split] = .split(body, instructions.count) }
                    }
                } else {
                    let split = placeholder()
                    compile(inner)
                    emit(.jump(split))
                    instructions[split] = .split(split + 1, instructions.count)
                }
            }
        }
    }
}

extension [PatternProgram.Element] {
    func trimmingSeparators() -> [PatternProgram.Element] {
        var slice = self[...]
        while slice.first == .separator { slice = slice.dropFirst() }
        while slice.last == .separator { slice = slice.dropLast() }
        return Array(slice)
    }
}

/// A character class over folded text.
struct CompiledSet: Sendable {
    /// Classes larger than this keep their raw range instead of folding
    /// each member.
    static let maxEnumerated = 1024

    let negated: Bool
    let members: Set<Unicode.Scalar>
    let ranges: [ClosedRange<UInt32>]
    let classes: [RulePattern.ScalarSet.Item]

    init(_ set: RulePattern.ScalarSet) {
        var members = Set<Unicode.Scalar>()
        var ranges: [ClosedRange<UInt32>] = []
        var classes: [RulePattern.ScalarSet.Item] = []
        for item in set.items {
            guard case .range(let low, let high) = item else {
                classes.append(item)
                continue
            }
            guard high.value - low.value < UInt32(Self.maxEnumerated) else {
                ranges.append(low.value...high.value)
                continue
            }
            for value in low.value...high.value {
                guard let scalar = Unicode.Scalar(value) else { continue }
                if scalar.isSpaceLike || scalar.isDashLike {
                    members.insert(" ")
                    members.insert("-")
                    continue
                }
                let folded = ScalarFolding.fold([scalar])
                if folded.count == 1 { members.insert(folded[0]) }
            }
        }
        negated = set.negated
        self.members = members
        self.ranges = ranges
        self.classes = classes
    }

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        matchesItems(scalar) != negated
    }

    private func matchesItems(_ scalar: Unicode.Scalar) -> Bool {
        if members.contains(scalar) { return true }
        if ranges.contains(where: { $0.contains(scalar.value) }) { return true }
        for item in classes {
            switch item {
            case .digit: if scalar.isDecimalDigit { return true }
            case .notDigit: if !scalar.isDecimalDigit { return true }
            case .word: if scalar.isWordScalar { return true }
            case .notWord: if !scalar.isWordScalar { return true }
            case .space: if scalar.isSpaceLike { return true }
            case .notSpace: if !scalar.isSpaceLike { return true }
            case .range: break
            }
        }
        return false
    }
}
