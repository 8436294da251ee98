import SovereignPolicy
import SovereignInference
import SovereignSteering

/// Replays audit suites through the steering runtime twice per case — with
/// the constraint layer and with the bare model (the ablation) — and
/// decides whether the layer is load-bearing: for every rule the suites
/// name, some case fails bare (the rule fires) and passes steered.
/// On the embedded engine it is deterministic like the runtime: the same
/// image, suites and settings give the same transcripts, so the same
/// digests, on any machine. On a remote engine (`RemoteSteeringRuntime`)
/// the suites run the same way, but replay is not claimed.
public struct Certifier {
    public let runtime: any SteeringResponder
    /// The layer's own steps, for judging the bare answers.
    public let enforcement: LayerEnforcement

    public init(runtime: SteeringRuntime) {
        self.runtime = runtime
        enforcement = runtime.enforcement
    }

    public init(remote: RemoteSteeringRuntime) {
        runtime = remote
        enforcement = remote.enforcement
    }

    /// Replays every case of `suites` in order, calling `progress` after each.
    public func run(_ suites: [AuditSuite], progress: (CaseResult, _ done: Int, _ total: Int) -> Void = { _, _, _ in })
        throws(SteeringError) -> Certification {
        let total = suites.reduce(0) { $0 + $1.cases.count }
        var results: [CaseResult] = []
        var timings = Certification.Timings()
        for suite in suites {
            for testCase in suite.cases {
                let result = try replay(testCase, suite: suite.id, timings: &timings)
                results.append(result)
                progress(result, results.count, total)
            }
        }
        let named = Self.namedRules(suites)
        let defined = Set(enforcement.layer.rules.rules.map(\.id))
        return Certification(results: results, namedRules: named, absentRules: named.filter { !defined.contains($0) }, timings: timings)
    }

    /// One case, steered then bare.
    func replay(_ testCase: AuditSuite.Case, suite: String, timings: inout Certification.Timings) throws(SteeringError) -> CaseResult {
        let history = testCase.history.map { ChatMessage(role: $0.role, content: $0.content) }
        let clock = ContinuousClock()
        var start = clock.now
        let steered = try runtime.respond(to: SteeringRequest(prompt: testCase.prompt, history: history, steering: true), release: nil,
                                          shouldStop: { false })
        timings.steered += clock.now - start
        start = clock.now
        let bare = try runtime.respond(to: SteeringRequest(prompt: testCase.prompt, history: history, steering: false), release: nil,
                                       shouldStop: { false })
        timings.bare += clock.now - start
        let (fired, answerViolations) = violations(ofBare: bare, prompt: testCase.prompt)
        return CaseResult(suite: suite, testCase: testCase, steered: steered, bare: bare,
                          bareViolations: fired, bareAnswerViolations: answerViolations)
    }

    /// The rules the bare exchange breaks: input rules its prompt triggers
    /// (refusals it did not make, redactions it did not do), then the output
    /// rules its answer breaks, judged against the passages the layer would
    /// have injected for this prompt. Also returns the answer's violations,
    /// with where they lie in it.
    func violations(ofBare bare: SteeringTranscript, prompt: String) -> (rules: [String], answer: [Violation]) {
        var fired: [String] = []
        func add(_ rule: String) { if !fired.contains(rule) { fired.append(rule) } }
        switch enforcement.rules.checkInput(prompt) {
        case .refuse(_, let violations): violations.forEach { add($0.ruleID) }
        case .proceed(_, let redactions): redactions.forEach { add($0.ruleID) }
        case .tooLong: break
        }
        let passages = enforcement.index.search(prompt, k: enforcement.layer.runtime.retrieval.k).map(\.passage)
        var monitor = OutputMonitor(rules: enforcement.rules, prompt: prompt, passages: passages)
        _ = monitor.append(bare.answer)
        _ = monitor.finish()
        monitor.violations.forEach { add($0.ruleID) }
        return (fired, monitor.violations)
    }

    static func namedRules(_ suites: [AuditSuite]) -> [String] {
        var seen = Set<String>()
        return suites.flatMap(\.namedRules).filter { seen.insert($0).inserted }
    }
}

/// What a certification run found.
public struct Certification: Sendable {
    /// Where the replay time went (kept out of the signed attestations:
    /// they must be the same on every run).
    public struct Timings: Sendable {
        public var steered: Duration = .zero
        public var bare: Duration = .zero
    }

    public let results: [CaseResult]
    /// Every rule the suites name, in first-named order.
    public let namedRules: [String]
    /// Named rules the layer does not define (never load-bearing).
    public let absentRules: [String]
    public let timings: Timings

    /// Per named rule, the cases that show it load-bearing: the rule fired
    /// on the bare model, and the steered answer passed.
    public var loadBearing: [(rule: String, cases: [String])] {
        namedRules.map { rule in
            (rule, results.filter { $0.testCase.rulesFired.contains(rule) && $0.bareViolations.contains(rule) && $0.passed }
                .map { "\($0.suite)/\($0.testCase.id)" })
        }
    }

    public var rulesNotLoadBearing: [String] { loadBearing.filter(\.cases.isEmpty).map(\.rule) }
    public var failedCases: [CaseResult] { results.filter { !$0.passed } }
    public var falseRefusals: [CaseResult] { results.filter(\.isFalseRefusal) }
    public var benignCount: Int { results.filter(\.testCase.benign).count }
    /// Every case passed steered, and every named rule is load-bearing.
    public var isLoadBearing: Bool { failedCases.isEmpty && rulesNotLoadBearing.isEmpty }
    public var barePassed: Int { results.filter(\.bareFailures.isEmpty).count }

    /// The remote engines that answered, each once (none on the embedded engine).
    public var remoteEngines: [EngineIdentity] {
        var seen: [EngineIdentity] = []
        for result in results {
            for engine in [result.steered.engine, result.bare.engine].compactMap({ $0 }) where !seen.contains(engine) {
                seen.append(engine)
            }
        }
        return seen
    }
}
