import SovereignFormats

/// k of n: for each of the rule's predicate types, an attestation of that
/// type about this image must be signed by at least `threshold` distinct
/// keys that have `role` in the policy, are neither revoked nor expired,
/// and whose signatures verify. Signatures by other keys do not count;
/// the reason says why each one did not.
///
/// The release rule counts on the policy's required predicates; the
/// certifier rule on verification summaries (SLSA VSA), which count only
/// when they are certifications of this image and its constraint layer
/// that say PASSED (`CertificationClaim`); the policy-author rule on
/// approvals of the constraint layer the image carries (`LayerApproval`),
/// adding up distinct keys across approvals of that one layer.
public struct SignatureThresholdRule: TrustRule {
    public let role: TrustPolicy.Role
    public let threshold: Int
    public let predicateTypes: [String]
    /// For certifications: the engines they must have been made on (nil: any).
    public let certificationEngines: [String]?

    public var name: String { "\(role.rawValue)-threshold" }

    public init(role: TrustPolicy.Role, threshold: Int, predicateTypes: [String], certificationEngines: [String]? = nil) {
        self.role = role
        self.threshold = threshold
        self.predicateTypes = predicateTypes
        self.certificationEngines = certificationEngines
    }

    /// The count for one predicate type.
    public struct Tally: Sendable, Equatable {
        public let predicateType: String
        /// The attestation counted on (the best one, when several qualify);
        /// nil when none could be counted on.
        public let attestation: Int?
        /// Key ids that counted, in envelope order.
        public let counted: [String]
        /// Why each other signature did not count.
        public let notCounted: [String]
        /// Why no attestation could be counted on, when `attestation` is nil.
        public let unavailable: String?
    }

    /// Counts signatures for every predicate type.
    public func tally(_ input: TrustRuleInput) -> [Tally] {
        predicateTypes.map { tally(type: $0, input) }
    }

    private func tally(type: String, _ input: TrustRuleInput) -> Tally {
        let evidence = input.evidence
        let ofType = evidence.attestations.indices.filter { evidence.attestations[$0].statement?.predicateType == type }
        // What each attestation must be about to count: a layer approval,
        // the image's own constraint layer; anything else, its manifest.
        var problems: [String] = []
        var eligible = ofType.filter { index in
            let problem = evidence.aboutProblem(evidence.attestations[index])
            if let problem, type == LayerApproval.predicateType { problems.append(problem) }
            return problem == nil
        }
        if type == LayerApproval.predicateType, eligible.isEmpty {
            let carried = evidence.constraintLayerDigest.map { " (\($0.prefixed))" } ?? ""
            return Tally(predicateType: type, attestation: nil, counted: [], notCounted: [],
                         unavailable: "no approval of the constraint layer this image carries\(carried)"
                            + (problems.isEmpty ? "" : " (\(problems.joined(separator: "; ")))"))
        }
        guard !eligible.isEmpty else {
            return Tally(predicateType: type, attestation: nil, counted: [], notCounted: [],
                         unavailable: "no attestation of type \(type) about this image to count signatures on")
        }
        if type == SLSAVerificationSummary.predicateType {
            eligible = eligible.filter { index in
                let problem = Self.certificationProblem(evidence.attestations[index], evidence: evidence, engines: certificationEngines)
                if let problem { problems.append(problem) }
                return problem == nil
            }
            guard !eligible.isEmpty else {
                return Tally(predicateType: type, attestation: nil, counted: [], notCounted: [],
                             unavailable: "no certification of this image and its constraint layer says PASSED (\(problems.joined(separator: "; ")))")
            }
        }
        if type == LayerApproval.predicateType {
            return union(of: eligible, type: type, input)
        }
        var best: Tally?
        for index in eligible {
            var counted: [String] = []
            var notCounted: [String] = []
            for report in input.signatures.reports[index] {
                if let reason = report.reasonNotCounted(for: role) {
                    notCounted.append(reason)
                } else {
                    counted.append(report.keyid)
                }
            }
            if best == nil || counted.count > best?.counted.count ?? 0 {
                best = Tally(predicateType: type, attestation: index, counted: counted, notCounted: notCounted, unavailable: nil)
            }
        }
        return best ?? Tally(predicateType: type, attestation: nil, counted: [], notCounted: [], unavailable: "no attestation to count on")
    }

    /// Approvals of one layer add up: each says "I approve these bytes",
    /// so two offices signing their own envelopes count as two, like two
    /// signatures on one. A key counts once however often it signs.
    private func union(of eligible: [Int], type: String, _ input: TrustRuleInput) -> Tally {
        var counted: [String] = [], notCounted: [String] = []
        var countedKeys: Set<String> = [], reasons: Set<String> = []
        for index in eligible {
            for report in input.signatures.reports[index] {
                if let reason = report.reasonNotCounted(for: role) {
                    if report.status != .duplicate, reasons.insert(reason).inserted { notCounted.append(reason) }
                } else if countedKeys.insert(report.keyid).inserted {
                    counted.append(report.keyid)
                }
            }
        }
        return Tally(predicateType: type, attestation: eligible.first, counted: counted, notCounted: notCounted, unavailable: nil)
    }

    public func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult {
        for tally in tally(input) {
            if let unavailable = tally.unavailable {
                return .failsToMeetPolicy(reason: "\(role.displayName) signatures: \(unavailable)")
            }
            guard tally.counted.count < threshold else { continue }
            var detail = "counted: " + (tally.counted.isEmpty ? "none" : tally.counted.joined(separator: ", "))
            if !tally.notCounted.isEmpty {
                // A reason stays one readable line however many signatures an envelope carries.
                let shown = tally.notCounted.prefix(8).joined(separator: ", ")
                detail += "; not counted: " + shown + (tally.notCounted.count > 8 ? " and \(tally.notCounted.count - 8) more" : "")
            }
            return .failsToMeetPolicy(reason: "\(role.displayName) signatures: \(tally.predicateType) is signed by \(tally.counted.count) of the required \(threshold) distinct \(role.displayName) keys (\(detail))")
        }
        return .meetsPolicy
    }

    /// Why a verification summary does not certify this image and its
    /// constraint layer (see `CertificationClaim`); nil when it does.
    static func certificationProblem(_ attestation: ImageEvidence.Attestation, evidence: ImageEvidence, engines: [String]?) -> String? {
        let name = attestation.uri ?? attestation.envelopeDigest.prefixed
        guard let statement = attestation.statement else { return "\(name): \(attestation.statementProblem ?? "unreadable")" }
        guard let layer = evidence.constraintLayerDigest else { return "\(name): the image's constraint layer is unknown" }
        do {
            let claim = try CertificationClaim(statement: statement, source: name)
            return claim.problem(manifest: evidence.manifestDigest, constraintLayer: layer, engines: engines).map { "\(name) \($0)" }
        } catch {
            return "\(name) \(error.reason)"
        }
    }
}
