import SovereignCrypto

/// Reading a DSSE envelope's JSON (`{"payload", "payloadType",
/// "signatures": [{"keyid", "sig"}]}`). The type and its writing
/// (`Encodable`) live in SovereignCrypto, which sits below this module.
extension DSSEEnvelope: JSONObjectDecodable {
    /// Strict: unknown fields are refused, in the envelope and in each
    /// signature. They are not signed (only PAE(payloadType, payload) is),
    /// so accepting them would let two different files carry one signature,
    /// and a misspelt `keyid` would silently become "no key hint". An
    /// optional `keyid` of `null` reads as absent (no hint), as before.
    public static let jsonReadingMode = JSONObjectReader.Mode.strict.readingNullAsAbsent

    /// More signatures than any envelope needs; each one costs a check
    /// (one per policy key when it names none), so a stranger's envelope
    /// may not carry thousands.
    public static let maximumSignatures = 64
    /// A key id is a short hint: printable ASCII (no spaces, no controls),
    /// so it can be printed and logged as it is.
    public static let maximumKeyIDBytes = 256

    /// `payload` and `sig` may be standard or URL-safe base64, padded or
    /// not (the DSSE spec allows either).
    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        let payloadText = try reader.string("payload")
        guard let payload = Base64.decodeLenient(payloadText) else { throw reader.error("payload", "is not base64") }
        let payloadType = try reader.string("payloadType")
        let signatures = try reader.objects("signatures") { signature throws(FormatsError) in
            let keyid = try signature.optionalString("keyid") ?? ""
            guard keyid.utf8.count <= Self.maximumKeyIDBytes, keyid.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw signature.error("keyid", "must be at most \(Self.maximumKeyIDBytes) bytes of printable ASCII without spaces")
            }
            guard let sig = Base64.decodeLenient(try signature.string("sig")) else { throw signature.error("sig", "is not base64") }
            return Signature(keyid: keyid, sig: sig)
        }
        guard signatures.count <= Self.maximumSignatures else {
            throw reader.error("signatures", "has \(signatures.count) signatures, more than the \(Self.maximumSignatures) an envelope may carry")
        }
        self.init(payload: payload, payloadType: payloadType, signatures: signatures)
    }
}
