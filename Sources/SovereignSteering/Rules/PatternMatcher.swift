import SovereignPolicy

/// Runs a `PatternProgram` over text one scalar at a time (a Pike VM): time
/// linear in the text whatever the pattern, and a match is reported as soon
/// as it is certain, which for a trailing `\b` or `$` is when the scalar
/// after it (or the end) arrives.
///
/// Matches do not overlap: after one, the search starts again where it
/// ended. Among matches ending at the same place, the one that starts
/// first is reported.
struct PatternMatcher: Sendable {
    let program: PatternProgram
    /// Live threads, sorted by start (ascending) with distinct program counters.
    private var threads: [(pc: Int, start: Int)] = []
    /// Position of the next scalar.
    private(set) var position = 0
    private var previous: Unicode.Scalar?
    private var finished = false
    // Scratch for the closure, kept to avoid allocations per scalar.
    private var marks: [Int]
    private var generation = 0

    init(_ program: PatternProgram) {
        self.program = program
        marks = Array(repeating: -1, count: program.instructions.count)
    }

    /// The start of the earliest match still in progress: no match can
    /// begin before it (nil when none is in progress).
    var earliestLiveStart: Int? { threads.first?.start }

    /// Feeds the next scalar; returns a match (a range of positions) that
    /// became certain with it.
    mutating func feed(_ scalar: Unicode.Scalar) -> Range<Int>? {
        precondition(!finished, "PatternMatcher: feed after finish")
        return advance(scalar)
    }

    /// Ends the text; returns a match that only the end made certain.
    mutating func finish() -> Range<Int>? {
        guard !finished else { return nil }
        let match = advance(nil)
        finished = true
        return match
    }

    private mutating func advance(_ next: Unicode.Scalar?) -> Range<Int>? {
        var candidates = threads
        candidates.append((0, position))
        var (ready, match) = closure(candidates, next: next)
        if match != nil {
            // Non-overlapping: forget the threads, search again from here.
            (ready, _) = closure([(0, position)], next: next)
        }
        threads = []
        if let next {
            for thread in ready where consumes(program.instructions[thread.pc], next) {
                threads.append((thread.pc + 1, thread.start))
            }
            previous = next
            position += 1
        } else {
            threads = []
        }
        return match
    }

    private func consumes(_ instruction: PatternProgram.Instruction, _ scalar: Unicode.Scalar) -> Bool {
        switch instruction {
        case .scalar(let expected): return scalar == expected
        case .set(let set): return set.contains(scalar)
        case .any: return true
        case .separator: return scalar == " " || scalar == "-"
        default: return false
        }
    }

    /// Follows jumps, splits and assertions from `candidates` (in order, so
    /// the first thread to reach an instruction has the earliest start).
    /// Returns the threads waiting on a scalar, and the earliest-starting
    /// match reached.
    private mutating func closure(_ candidates: [(pc: Int, start: Int)], next: Unicode.Scalar?)
        -> ([(pc: Int, start: Int)], Range<Int>?) {
        generation += 1
        var ready: [(pc: Int, start: Int)] = []
        var match: Range<Int>?
        var stack: [Int] = []
        for candidate in candidates {
            stack.append(candidate.pc)
            while let pc = stack.popLast() {
                guard marks[pc] != generation else { continue }
                marks[pc] = generation
                switch program.instructions[pc] {
                case .jump(let target):
                    stack.append(target)
                case .split(let first, let second):
                    stack.append(second)
                    stack.append(first)
                case .assert(let assertion):
                    if holds(assertion, next: next) { stack.append(pc + 1) }
                case .match:
                    if match == nil { match = candidate.start..<position }
                case .scalar, .set, .any, .separator:
                    ready.append((pc, candidate.start))
                }
            }
        }
        return (ready, match)
    }

    private func holds(_ assertion: RulePattern.Assertion, next: Unicode.Scalar?) -> Bool {
        switch assertion {
        case .start: return position == 0
        case .end: return next == nil
        case .wordBoundary: return (previous?.isWordScalar ?? false) != (next?.isWordScalar ?? false)
        case .notWordBoundary: return (previous?.isWordScalar ?? false) == (next?.isWordScalar ?? false)
        }
    }
}
