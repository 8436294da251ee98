/// A DSSE envelope (github.com/secure-systems-lab/dsse, protocol v1):
/// a payload, its type, and one or more signatures over PAE(type, payload).
public struct DSSEEnvelope: Sendable, Equatable {
    /// The payload type of in-toto statements.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public struct Signature: Sendable, Equatable {
        /// Hint naming the key; ours are lowercase hex SHA-256 key ids.
        public var keyid: String
        public var sig: [UInt8]
        public init(keyid: String, sig: [UInt8]) {
            self.keyid = keyid
            self.sig = sig
        }
    }

    public var payload: [UInt8]
    public var payloadType: String
    public var signatures: [Signature]

    public init(payload: [UInt8], payloadType: String, signatures: [Signature] = []) {
        self.payload = payload
        self.payloadType = payloadType
        self.signatures = signatures
    }

    /// Pre-Authentication Encoding: what is actually signed.
    /// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
    public static func pae(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        return Array("DSSEv1 \(type.count) ".utf8) + type + Array(" \(payload.count) ".utf8) + payload
    }

    public var pae: [UInt8] { Self.pae(payloadType: payloadType, payload: payload) }

    /// Adds a signature by `key`. Signing twice with one key is refused:
    /// a second copy would not count towards any threshold.
    public mutating func sign(with key: Ed25519.PrivateKey, source: String = "envelope") throws(CryptoError) {
        let keyid = key.publicKey.keyID
        guard !signatures.contains(where: { $0.keyid == keyid }) else {
            throw .malformedSignature(source: source, reason: "already signed by key \(keyid)")
        }
        signatures.append(Signature(keyid: keyid, sig: key.signature(for: pae)))
    }

    /// Checks the signatures against `trustedKeys` and counts distinct keys.
    /// A failed check is a value (`DSSEVerification`), not a throw.
    public func verify(trustedKeys: [Ed25519.PublicKey], threshold: Int) -> DSSEVerification {
        let message = pae
        var byID: [String: Ed25519.PublicKey] = [:]
        for key in trustedKeys { byID[key.keyID] = key }
        var accepted: [String] = []
        var problems: [DSSEVerification.Problem] = []
        for signature in signatures {
            // The keyid is only a hint (DSSE): an empty one means "try every key".
            let candidates = signature.keyid.isEmpty ? trustedKeys : byID[signature.keyid].map { [$0] } ?? []
            if candidates.isEmpty {
                problems.append(.init(keyid: signature.keyid, reason: "signed by a key that is not among the given public keys"))
                continue
            }
            if let key = candidates.first(where: { $0.isValidSignature(signature.sig, for: message) }) {
                if !accepted.contains(key.keyID) { accepted.append(key.keyID) }
            } else {
                problems.append(.init(keyid: signature.keyid, reason: "signature does not verify (payload or signature altered, or wrong key)"))
            }
        }
        return DSSEVerification(acceptedKeyIDs: accepted, problems: problems, threshold: threshold, signatureCount: signatures.count)
    }
}

/// The outcome of checking an envelope's signatures.
public struct DSSEVerification: Sendable, Equatable {
    public struct Problem: Sendable, Equatable {
        public let keyid: String
        public let reason: String
    }
    /// Distinct trusted keys whose signature verified, in envelope order.
    public let acceptedKeyIDs: [String]
    public let problems: [Problem]
    public let threshold: Int
    public let signatureCount: Int

    /// At least `threshold` distinct trusted keys signed, and no signature
    /// claiming a trusted key failed (a bad signature from a key we trust
    /// means the envelope was tampered with).
    public var isValid: Bool {
        threshold >= 1 && acceptedKeyIDs.count >= threshold
            && !problems.contains { $0.reason.hasPrefix("signature does not verify") }
    }

    /// One line saying why verification failed, or nil.
    public var failureReason: String? {
        if isValid { return nil }
        if signatureCount == 0 { return "envelope has no signatures" }
        if let bad = problems.first(where: { $0.reason.hasPrefix("signature does not verify") }) {
            return "signature by key \(bad.keyid.isEmpty ? "(no keyid)" : bad.keyid) does not verify (payload or signature altered, or wrong key)"
        }
        if acceptedKeyIDs.isEmpty, let first = problems.first {
            return "no signature by a given public key (envelope signed by \(first.keyid.isEmpty ? "an unnamed key" : first.keyid))"
        }
        return "\(acceptedKeyIDs.count) of the required \(threshold) distinct trusted keys signed"
    }
}

// MARK: - JSON

/// Written with `Encodable` (`CanonicalJSON.encode` gives the canonical
/// bytes). Read with `JSONObjectReader` in SovereignFormats
/// (`DSSEEnvelope+JSON.swift`, `StrictJSON.decode(DSSEEnvelope.self, …)`),
/// which refuses unknown fields.
extension DSSEEnvelope: Encodable {
    private enum CodingKeys: String, CodingKey { case payload, payloadType, signatures }
    private enum SignatureKeys: String, CodingKey { case keyid, sig }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Base64.encode(payload), forKey: .payload)
        try container.encode(payloadType, forKey: .payloadType)
        var list = container.nestedUnkeyedContainer(forKey: .signatures)
        for signature in signatures {
            var item = list.nestedContainer(keyedBy: SignatureKeys.self)
            try item.encode(signature.keyid, forKey: .keyid)
            try item.encode(Base64.encode(signature.sig), forKey: .sig)
        }
    }
}
