import SovereignCrypto
import SovereignFormats

/// What one signature on one attestation is worth under a policy, before
/// roles: whether it verifies, and whether its key may count at all.
public struct SignatureReport: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        /// Verifies under a policy key that is unrevoked and unexpired;
        /// counts towards these roles' thresholds.
        case trusted(roles: [TrustPolicy.Role])
        /// The key is not in the policy (or, with no keyid, the signature
        /// verifies under none of its keys): does not count.
        case unknownKey
        /// Claims a policy key but does not verify under it: the envelope
        /// was altered.
        case badSignature
        /// The key id is in `revokedKeys`: does not count.
        case revoked
        /// The key expired at this instant (Unix seconds): does not count.
        case expired(at: Int64)
        /// The key already signed this envelope: counted once.
        case duplicate
    }

    /// Index into `ImageEvidence.attestations`.
    public let attestation: Int
    /// The key id the signature names, or the key it verified under when
    /// it names none; empty when neither.
    public let keyid: String
    public let status: Status

    public init(attestation: Int, keyid: String, status: Status) {
        self.attestation = attestation
        self.keyid = keyid
        self.status = status
    }

    /// Why the signature does not count for `role`, or nil when it does.
    public func reasonNotCounted(for role: TrustPolicy.Role) -> String? {
        let name = keyid.isEmpty ? "a signature with no keyid" : keyid
        switch status {
        case .trusted(let roles):
            return roles.contains(role) ? nil : "\(name) does not have role '\(role.rawValue)'"
        case .unknownKey:
            return keyid.isEmpty ? "a signature with no keyid verifies under no key in the policy" : "\(name) is not in the policy"
        case .badSignature: return "\(name)'s signature does not verify"
        case .revoked: return "\(name) is revoked"
        case .expired(let at): return "\(name) expired at \(Timestamp.format(at))"
        case .duplicate: return "\(name) signed more than once (counted once)"
        }
    }

    /// A short status word for reports and JSON.
    public var statusName: String {
        switch status {
        case .trusted: return "trusted"
        case .unknownKey: return "unknown-key"
        case .badSignature: return "bad-signature"
        case .revoked: return "revoked"
        case .expired: return "expired"
        case .duplicate: return "duplicate"
        }
    }
}

/// Every signature of every attestation checked once against a policy at
/// a given time; the rules read it.
public struct SignatureAnalysis: Sendable {
    /// By attestation index, in envelope order.
    public let reports: [[SignatureReport]]

    public init(attestations: [ImageEvidence.Attestation], policy: TrustPolicy, now: Int64) {
        var byID: [String: TrustPolicy.TrustedKey] = [:]
        for key in policy.keys { byID[key.keyID] = key }
        let revoked = Set(policy.revokedKeys)
        reports = attestations.enumerated().map { index, attestation in
            let message = attestation.envelope.pae
            var counted: Set<String> = []
            return attestation.envelope.signatures.map { signature in
                let key: TrustPolicy.TrustedKey
                if signature.keyid.isEmpty {
                    // DSSE: the keyid is only a hint; without one, try every key.
                    guard let match = policy.keys.first(where: { $0.publicKey.isValidSignature(signature.sig, for: message) }) else {
                        return SignatureReport(attestation: index, keyid: "", status: .unknownKey)
                    }
                    key = match
                } else {
                    guard let named = byID[signature.keyid] else {
                        return SignatureReport(attestation: index, keyid: signature.keyid,
                                               status: revoked.contains(signature.keyid) ? .revoked : .unknownKey)
                    }
                    guard named.publicKey.isValidSignature(signature.sig, for: message) else {
                        return SignatureReport(attestation: index, keyid: signature.keyid, status: .badSignature)
                    }
                    key = named
                }
                let status: SignatureReport.Status
                if revoked.contains(key.keyID) {
                    status = .revoked
                } else if key.hasExpired(at: now), let expires = key.expires {
                    status = .expired(at: expires)
                } else if !counted.insert(key.keyID).inserted {
                    status = .duplicate
                } else {
                    status = .trusted(roles: key.roles.sorted())
                }
                return SignatureReport(attestation: index, keyid: key.keyID, status: status)
            }
        }
    }
}
