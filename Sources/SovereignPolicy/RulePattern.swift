/// A regular expression of a rule, parsed and bounded: the syntax the
/// constraint layer accepts, checked when the layer is loaded (by
/// `sovereign build` and by the runtime), so a bad pattern never reaches an
/// appliance.
///
/// The language is deliberately small, so that the steering runtime can run
/// every pattern as a Thompson automaton, in time linear in the text, one
/// scalar at a time (an incremental check needs that; a backtracking engine
/// would also let a stranger's text cost exponential time):
///
/// - literals; `.`; classes `[a-z0-9]`, `[^…]`; escapes `\d \D \w \W \s \S`
///   and `\` before any ASCII punctuation;
/// - groups `(…)` and `(?:…)` (nothing is captured), alternation `|`;
/// - `* + ? {n} {n,} {n,m}` (a trailing `?`, lazy, is accepted and means the
///   same: only whether and where a match exists matters);
/// - `\b`, `\B`, `^` (start of text), `$` (end of text).
///
/// Not accepted: backreferences, lookaround, named groups, flags, Unicode
/// property escapes. Limits: at most `maxScalars` scalars, repetition
/// bounds at most `maxRepetition`, nesting at most `maxDepth`, at most
/// `maxProgramSize` automaton states once repetitions are expanded, and a
/// pattern must not match the empty text (it would fire everywhere).
///
/// Matching happens on normalised text (see Policies/README.md): the runtime
/// folds the pattern's literals the same way as the text.
public struct RulePattern: Sendable, Equatable, CustomStringConvertible {
    public static let maxScalars = 256
    public static let maxRepetition = 100
    public static let maxDepth = 16
    public static let maxProgramSize = 4000

    /// What a pattern is made of.
    public indirect enum Node: Sendable, Equatable {
        case empty
        case literal(Unicode.Scalar)
        /// `.`: any one scalar.
        case any
        case set(ScalarSet)
        case assertion(Assertion)
        case concatenation([Node])
        case alternation([Node])
        /// `max == nil`: unbounded.
        case repetition(Node, min: Int, max: Int?)
    }

    /// A character class.
    public struct ScalarSet: Sendable, Equatable {
        public enum Item: Sendable, Equatable {
            case range(Unicode.Scalar, Unicode.Scalar)
            case digit, notDigit, word, notWord, space, notSpace
        }
        public var negated: Bool
        public var items: [Item]
    }

    public enum Assertion: Sendable, Equatable {
        case wordBoundary, notWordBoundary, start, end
    }

    /// The pattern as written in rules.json.
    public let source: String
    public let root: Node

    public var description: String { source }

    /// Parses `source`; the error's reason names the position (1-based, in
    /// scalars) and what is wrong.
    public init(_ source: String) throws(PatternError) {
        let scalars = Array(source.unicodeScalars)
        guard !scalars.isEmpty else { throw PatternError("is empty") }
        guard scalars.count <= Self.maxScalars else {
            throw PatternError("is \(scalars.count) scalars long, the limit is \(Self.maxScalars)")
        }
        var parser = Parser(scalars: scalars)
        let root = try parser.parseAlternation(depth: 0)
        if parser.position < scalars.count {
            // Only an unmatched ')' stops the top-level alternation early.
            throw PatternError("unmatched ')' at \(parser.position + 1)")
        }
        let size = Self.programSize(root)
        guard size <= Self.maxProgramSize else {
            throw PatternError("expands to \(size) automaton states, the limit is \(Self.maxProgramSize) (lower the repetition counts)")
        }
        guard !Self.matchesEmpty(root) else { throw PatternError("can match the empty text, so it would match everywhere") }
        self.source = source
        self.root = root
    }

    /// Whether `node` can match without consuming a scalar (assertions are
    /// taken as satisfiable).
    static func matchesEmpty(_ node: Node) -> Bool {
        switch node {
        case .empty, .assertion: return true
        case .literal, .any, .set: return false
        case .concatenation(let parts): return parts.allSatisfy(matchesEmpty)
        case .alternation(let choices): return choices.contains(where: matchesEmpty)
        case .repetition(let inner, let min, _): return min == 0 || matchesEmpty(inner)
        }
    }

    /// Automaton states the node needs once repetitions are written out (a
    /// bound the runtime's compiler stays within, up to literal folding).
    static func programSize(_ node: Node) -> Int {
        switch node {
        case .empty: return 0
        case .literal, .any, .set, .assertion: return 1
        case .concatenation(let parts): return parts.reduce(0) { $0 + programSize($1) }
        case .alternation(let choices): return choices.reduce(0) { $0 + programSize($1) + 2 }
        case .repetition(let inner, let min, let max):
            let one = programSize(inner) + 2
            return one * Swift.max(1, max ?? (min + 1))
        }
    }
}

/// Why a pattern was refused (the caller adds which rule and which pattern).
public struct PatternError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension RulePattern {
    /// Recursive descent over the scalars; positions in errors are 1-based.
    struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0

        var atEnd: Bool { position >= scalars.count }
        var current: Unicode.Scalar? { atEnd ? nil : scalars[position] }

        mutating func parseAlternation(depth: Int) throws(PatternError) -> Node {
            guard depth <= RulePattern.maxDepth else {
                throw PatternError("nests groups deeper than \(RulePattern.maxDepth) at \(position + 1)")
            }
            var choices = [try parseConcatenation(depth: depth)]
            while current == "|" {
                position += 1
                choices.append(try parseConcatenation(depth: depth))
            }
            return choices.count == 1 ? choices[0] : .alternation(choices)
        }

        mutating func parseConcatenation(depth: Int) throws(PatternError) -> Node {
            var parts: [Node] = []
            while let scalar = current, scalar != "|", scalar != ")" {
                let atom = try parseAtom(depth: depth)
                parts.append(try parseQuantifiers(atom))
            }
            switch parts.count {
            case 0: return .empty
            case 1: return parts[0]
            default: return .concatenation(parts)
            }
        }

        mutating func parseQuantifiers(_ atom: Node) throws(PatternError) -> Node {
            var node = atom
            var quantified = false
            while let scalar = current {
                let start = position
                var bounds: (Int, Int?)
                switch scalar {
                case "*": bounds = (0, nil); position += 1
                case "+": bounds = (1, nil); position += 1
                case "?": bounds = (0, 1); position += 1
                case "{":
                    guard let parsed = try parseBraces() else { return node }
                    bounds = parsed
                default: return node
                }
                if quantified {
                    throw PatternError("repeats a repetition at \(start + 1) (write a group: '(…)\(String(scalar))')")
                }
                if case .assertion = node { throw PatternError("repeats an assertion at \(start + 1)") }
                if case .empty = node { throw PatternError("has nothing to repeat at \(start + 1)") }
                if current == "?" { position += 1 }  // lazy: same matches
                node = .repetition(node, min: bounds.0, max: bounds.1)
                quantified = true
            }
            return node
        }

        /// `{n}`, `{n,}`, `{n,m}`; nil (and no input consumed) when the
        /// brace does not start a repetition.
        mutating func parseBraces() throws(PatternError) -> (Int, Int?)? {
            let start = position
            var cursor = position + 1
            func number(_ cursor: inout Int) -> Int? {
                var value = 0, digits = 0
                while cursor < scalars.count, let digit = scalars[cursor].asciiDigit {
                    value = Swift.min(value * 10 + digit, 1_000_000)
                    digits += 1
                    cursor += 1
                }
                return digits == 0 ? nil : value
            }
            guard let low = number(&cursor) else {
                throw PatternError("'{' at \(start + 1) does not start a repetition {n}, {n,} or {n,m} (write '\\{' for the character)")
            }
            var high: Int? = low
            if cursor < scalars.count, scalars[cursor] == "," {
                cursor += 1
                high = number(&cursor)
            }
            guard cursor < scalars.count, scalars[cursor] == "}" else {
                throw PatternError("repetition at \(start + 1) is not closed with '}'")
            }
            position = cursor + 1
            let limit = RulePattern.maxRepetition
            guard low <= limit, (high ?? 0) <= limit else {
                throw PatternError("repetition bound at \(start + 1) is above \(limit)")
            }
            if let high, high < low {
                throw PatternError("repetition {\(low),\(high)} at \(start + 1) has its minimum above its maximum")
            }
            if let high, high == 0 { throw PatternError("repetition {0} at \(start + 1) matches nothing") }
            return (low, high)
        }

        mutating func parseAtom(depth: Int) throws(PatternError) -> Node {
            guard let scalar = current else { throw PatternError("ends unexpectedly") }
            let start = position
            position += 1
            switch scalar {
            case "(":
                if current == "?" {
                    guard position + 1 < scalars.count, scalars[position + 1] == ":" else {
                        throw PatternError("group syntax '(?' at \(start + 1) is not supported (only '(?:'; no lookaround, no named groups, no flags)")
                    }
                    position += 2
                }
                let inner = try parseAlternation(depth: depth + 1)
                guard current == ")" else { throw PatternError("group opened at \(start + 1) is not closed") }
                position += 1
                return inner
            case ".": return .any
            case "^": return .assertion(.start)
            case "$": return .assertion(.end)
            case "[": return .set(try parseSet(start: start))
            case "\\": return try parseEscape(start: start)
            case "*", "+", "?":
                throw PatternError("has nothing to repeat at \(start + 1)")
            case "{":
                position = start
                if (try? parseBraces()) != nil {
                    throw PatternError("has nothing to repeat at \(start + 1)")
                }
                position = start + 1
                throw PatternError("'{' at \(start + 1) does not start a repetition {n}, {n,} or {n,m} (write '\\{' for the character)")
            case "}", "]":
                throw PatternError("'\(scalar)' at \(start + 1) has no opening partner (write '\\\(scalar)' for the character)")
            default:
                return .literal(scalar)
            }
        }

        mutating func parseEscape(start: Int) throws(PatternError) -> Node {
            guard let escaped = current else { throw PatternError("ends with a lone '\\'") }
            position += 1
            switch escaped {
            case "b": return .assertion(.wordBoundary)
            case "B": return .assertion(.notWordBoundary)
            default:
                if let item = Self.classEscape(escaped) { return .set(ScalarSet(negated: false, items: [item])) }
                if escaped.isASCII, Self.isASCIIPunctuation(escaped) { return .literal(escaped) }
                throw PatternError("escape '\\\(escaped)' at \(start + 1) is not supported (backreferences, \\p{…} and letter escapes other than \\d \\w \\s \\b are not)")
            }
        }

        static func classEscape(_ scalar: Unicode.Scalar) -> ScalarSet.Item? {
            switch scalar {
            case "d": return .digit
            case "D": return .notDigit
            case "w": return .word
            case "W": return .notWord
            case "s": return .space
            case "S": return .notSpace
            default: return nil
            }
        }

        static func isASCIIPunctuation(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            return (0x21...0x2F).contains(value) || (0x3A...0x40).contains(value)
                || (0x5B...0x60).contains(value) || (0x7B...0x7E).contains(value) || value == 0x20
        }

        mutating func parseSet(start: Int) throws(PatternError) -> ScalarSet {
            var set = ScalarSet(negated: false, items: [])
            if current == "^" {
                set.negated = true
                position += 1
            }
            var first = true
            while true {
                guard let scalar = current else { throw PatternError("class opened at \(start + 1) is not closed") }
                if scalar == "]" && !first { position += 1; break }
                first = false
                let lowPosition = position
                let low: Unicode.Scalar
                if scalar == "\\" {
                    position += 1
                    guard let escaped = current else { throw PatternError("ends with a lone '\\'") }
                    position += 1
                    if let item = Self.classEscape(escaped) {
                        set.items.append(item)
                        continue
                    }
                    guard escaped.isASCII, Self.isASCIIPunctuation(escaped) else {
                        throw PatternError("escape '\\\(escaped)' at \(lowPosition + 1) is not supported in a class")
                    }
                    low = escaped
                } else {
                    if scalar == "[" { throw PatternError("'[' inside a class at \(lowPosition + 1) must be written '\\['") }
                    low = scalar
                    position += 1
                }
                // A range `a-z`, unless the '-' is last in the class.
                if current == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                    position += 1
                    var high = scalars[position]
                    if high == "\\" {
                        position += 1
                        guard let escaped = current, escaped.isASCII, Self.isASCIIPunctuation(escaped) else {
                            throw PatternError("class range at \(lowPosition + 1) ends in an escape that is not a character")
                        }
                        high = escaped
                    }
                    position += 1
                    guard low.value <= high.value else {
                        throw PatternError("class range '\(low)-\(high)' at \(lowPosition + 1) is reversed")
                    }
                    set.items.append(.range(low, high))
                } else {
                    set.items.append(.range(low, low))
                }
            }
            guard !set.items.isEmpty else { throw PatternError("class at \(start + 1) is empty") }
            return set
        }
    }
}

extension Unicode.Scalar {
    var asciiDigit: Int? { ("0"..."9").contains(self) ? Int(value - 48) : nil }
}
