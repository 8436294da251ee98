import SovereignPolicy
import SovereignInference

/// The constraint layer's own steps, the same whichever engine generates:
/// input rules (with redaction), retrieval, the system prompt with its
/// passages and announced requirements, findings and the refusal text.
/// Both control loops (the embedded engine's and a remote engine's) go
/// through these, so a layer behaves the same in front of either.
public struct LayerEnforcement: Sendable {
    public let layer: ConstraintLayer
    public let rules: SteeringRules
    public let index: BM25Index

    public init(layer: ConstraintLayer) throws(SteeringError) {
        self.layer = layer
        rules = try SteeringRules(layer: layer)
        index = BM25Index(layer: layer)
    }

    /// The client's text after the input rules: the prompt and every user
    /// or system turn before it (assistant turns are the model's own),
    /// redacted, with the first refusal found.
    struct CheckedInput {
        var prompt: String
        var history: [ChatMessage]
        var redactions: [String]
        var refusal: [Violation]?
    }

    func checkInputs(_ request: SteeringRequest) throws(SteeringError) -> CheckedInput {
        var redactions: [String] = []
        func check(_ text: String, _ what: String) throws(SteeringError) -> (String, [Violation]?) {
            switch rules.checkInput(text) {
            case .refuse(let redacted, let violations):
                return (redacted, violations)
            case .tooLong(let bytes, let limit):
                throw SteeringError(what, "is \(bytes) bytes, more than the \(limit) the layer accepts (runtime.json maxPromptBytes)",
                                    invalidRequest: true)
            case .proceed(let redacted, let found):
                redactions += found.map { "\($0.ruleID): \($0.detector.rawValue) → \($0.replacement)" }
                return (redacted, nil)
            }
        }
        // Every turn is checked (and redacted) even after one refuses, so a
        // refusal's transcript never holds a value a rule removes.
        var history: [ChatMessage] = []
        var refusal: [Violation]?
        for (index, message) in request.history.enumerated() {
            guard message.role != "assistant" else {
                history.append(message)
                continue
            }
            let (text, refused) = try check(message.content, "message \(index + 1) (\(message.role))")
            refusal = refusal ?? refused
            history.append(ChatMessage(role: message.role, content: text))
        }
        let (prompt, refused) = try check(request.prompt, "prompt")
        return CheckedInput(prompt: prompt, history: history, redactions: redactions, refusal: refusal ?? refused)
    }

    /// The transcript of a request an input rule refused before generating.
    func refusedAtInput(_ input: CheckedInput, _ violations: [Violation], strategy: String,
                        decoding: EffectiveDecoding) -> SteeringTranscript {
        let findings = violations.map(Self.finding)
        return SteeringTranscript(steering: true, strategy: strategy, prompt: input.prompt, history: input.history, decoding: decoding,
                                  redactions: [], passages: [], announced: [], attempts: [], inputViolations: findings,
                                  outcome: .refused, answer: refusalText(findings.first), refusalReason: findings.first,
                                  finishReason: "content_filter", promptTokens: 0, reusedPromptTokens: 0)
    }

    /// The persona, each retrieved passage with its id (so answers can cite
    /// them), and the blips of the `require` rules the question triggers.
    public func systemPrompt(_ passages: [Passage], requirements: [Rule] = []) -> String {
        var text = layer.runtime.persona
        for rule in requirements { text += "\n" + rule.blip }
        if !passages.isEmpty {
            text += "\n\nReference passages (the source of truth; cite their ids):"
            for passage in passages { text += "\n[\(passage.id)] \(passage.title): \(passage.text)" }
        }
        return text
    }

    /// Adds the passage of the rule a blip invoked to what answers may draw
    /// on (the blip names it, so the corrected answer may quote it).
    func addInvokedPassage(of violation: Violation, to passages: inout [Passage]) {
        if !passages.contains(where: { $0.id == violation.passageID }),
           let invoked = layer.passages.first(where: { $0.id == violation.passageID }) {
            passages.append(invoked)
        }
    }

    func refusalText(_ reason: SteeringTranscript.Finding?) -> String {
        guard let reason else { return layer.runtime.refusal }
        return "\(layer.runtime.refusal) (rule \(reason.ruleID), from passage \(reason.passageID))"
    }

    static func finding(_ violation: Violation) -> SteeringTranscript.Finding {
        .init(ruleID: violation.ruleID, passageID: violation.passageID, kind: violation.kind.rawValue,
              severity: violation.severity.rawValue, blip: violation.blip, message: violation.message,
              offset: violation.range.isEmpty ? nil : violation.outputOffset)
    }
}
