internal import CCrypto

// Every libcrypto call behind `ECDSAP256`. No C type leaves this file.
//
// Keys are decoded through EVP (provider decoders, which check that points
// lie on the curve), then checked to be EC keys on the named curve P-256.
// Signing needs the legacy EC_KEY: OpenSSL 3.0 has no deterministic-nonce
// option, so we compute the RFC 6979 nonce ourselves and hand k⁻¹ and r to
// ECDSA_do_sign_ex (deprecated in 3.0, still the only way to supply them).

/// An `EVP_PKEY` holding a P-256 public key, freed with its owner.
final class P256PublicKeyBacking: @unchecked Sendable {
    // @unchecked: the key is never mutated after init, and verifying with
    // one EVP_PKEY from several threads is supported by OpenSSL 3.
    let pkey: OpaquePointer

    fileprivate init(owning pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }
}

/// A legacy `EC_KEY` holding the private scalar; `EC_KEY_free` clears the
/// scalar (BN_clear_free) before freeing it.
final class P256PrivateKeyBacking: @unchecked Sendable {
    // @unchecked: never mutated after init; ECDSA_do_sign_ex only reads it.
    let ecKey: OpaquePointer

    fileprivate init(owning ecKey: OpaquePointer) { self.ecKey = ecKey }

    deinit { EC_KEY_free(ecKey) }
}

enum P256OpenSSL {
    static let coordinateByteCount = 32

    /// DER prefix of a P-256 SubjectPublicKeyInfo with a named curve and an
    /// uncompressed point: SEQUENCE { SEQUENCE { OID id-ecPublicKey,
    /// OID prime256v1 }, BIT STRING (0 unused bits) 04 ‖ X ‖ Y }.
    static let spkiPrefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
        0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ]

    // MARK: - Errors

    /// The reasons OpenSSL queued on this thread, oldest first; empties the queue.
    static func drainErrors() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let text = ERR_reason_error_string(code) {
                reasons.append(String(cString: text))
            } else {
                reasons.append("error \(code)")
            }
        }
        return reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
    }

    // MARK: - Keys

    /// Decodes a DER SubjectPublicKeyInfo, refusing anything but P-256.
    /// Returns the key and its normalised (named curve, uncompressed) DER.
    static func decodePublicKey(der: [UInt8], source: String) throws(CryptoError) -> (P256PublicKeyBacking, [UInt8]) {
        ERR_clear_error()
        let decoded: OpaquePointer? = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            guard let start = buffer.baseAddress else { return nil }
            var cursor: UnsafePointer<UInt8>? = start
            guard let key = d2i_PUBKEY(nil, &cursor, buffer.count) else { return nil }
            guard let end = cursor, end - start == buffer.count else {
                EVP_PKEY_free(key)
                return nil
            }
            return key
        }
        guard let pkey = decoded else {
            throw .malformedKey(source: source, reason: "not a valid DER SubjectPublicKeyInfo (OpenSSL: \(drainErrors()))")
        }
        let backing = P256PublicKeyBacking(owning: pkey)
        try requireP256(pkey, source: source)
        return (backing, try uncompressedSPKI(of: pkey, source: source))
    }

    /// Decodes an unencrypted PKCS#8 PrivateKeyInfo or a SEC1 ECPrivateKey,
    /// refusing anything but P-256. Returns the signing key and the DER
    /// SubjectPublicKeyInfo of its public key.
    static func decodePrivateKey(der: [UInt8], pkcs8: Bool, source: String) throws(CryptoError) -> (P256PrivateKeyBacking, [UInt8]) {
        ERR_clear_error()
        let decoded: OpaquePointer? = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            guard let start = buffer.baseAddress else { return nil }
            var cursor: UnsafePointer<UInt8>? = start
            if pkcs8 {
                guard let info = d2i_PKCS8_PRIV_KEY_INFO(nil, &cursor, buffer.count) else { return nil }
                // PKCS8_PRIV_KEY_INFO_free clears the key octets before freeing.
                defer { PKCS8_PRIV_KEY_INFO_free(info) }
                guard let end = cursor, end - start == buffer.count else { return nil }
                return EVP_PKCS82PKEY(info)
            }
            guard let key = d2i_PrivateKey(EVP_PKEY_EC, nil, &cursor, buffer.count) else { return nil }
            guard let end = cursor, end - start == buffer.count else {
                EVP_PKEY_free(key)
                return nil
            }
            return key
        }
        let form = pkcs8 ? "PKCS#8 PrivateKeyInfo" : "SEC1 ECPrivateKey"
        guard let pkey = decoded else {
            throw .malformedKey(source: source, reason: "not a valid DER \(form) (OpenSSL: \(drainErrors()))")
        }
        defer { EVP_PKEY_free(pkey) }
        try requireP256(pkey, source: source)
        // The scalar is in [1, n-1] and the stored public point is scalar·G.
        guard let checkContext = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else {
            throw .library(operation: "EVP_PKEY_CTX_new_from_pkey", reason: drainErrors())
        }
        defer { EVP_PKEY_CTX_free(checkContext) }
        guard EVP_PKEY_check(checkContext) == 1 else {
            throw .malformedKey(source: source, reason: "not a consistent P-256 key pair (OpenSSL: \(drainErrors()))")
        }
        let publicDER = try uncompressedSPKI(of: pkey, source: source)
        guard let ecKey = EVP_PKEY_get1_EC_KEY(pkey) else {
            throw .library(operation: "EVP_PKEY_get1_EC_KEY", reason: drainErrors())
        }
        return (P256PrivateKeyBacking(owning: ecKey), publicDER)
    }

    /// A fresh random P-256 key from OpenSSL's DRBG.
    static func generatePrivateKey() -> (P256PrivateKeyBacking, [UInt8]) {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            preconditionFailure("EVP_PKEY_CTX_new_from_name(EC) failed: \(drainErrors())")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        var generated: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_group_name(ctx, "prime256v1") == 1,
              EVP_PKEY_generate(ctx, &generated) == 1, let pkey = generated else {
            preconditionFailure("P-256 key generation failed: \(drainErrors())")
        }
        defer { EVP_PKEY_free(pkey) }
        do {
            let publicDER = try uncompressedSPKI(of: pkey, source: "generated key")
            guard let ecKey = EVP_PKEY_get1_EC_KEY(pkey) else {
                preconditionFailure("EVP_PKEY_get1_EC_KEY failed: \(drainErrors())")
            }
            return (P256PrivateKeyBacking(owning: ecKey), publicDER)
        } catch {
            preconditionFailure("a generated P-256 key has no public point: \(error)")
        }
    }

    /// Refuses keys that are not EC keys on the named curve P-256.
    private static func requireP256(_ pkey: OpaquePointer, source: String) throws(CryptoError) {
        guard EVP_PKEY_is_a(pkey, "EC") == 1 else {
            let type = EVP_PKEY_get0_type_name(pkey).map { String(cString: $0) } ?? "unknown"
            throw .malformedKey(source: source, reason: "key type is \(type); only ECDSA P-256 (prime256v1) keys are accepted")
        }
        var name = [CChar](repeating: 0, count: 80)
        var length = 0
        guard EVP_PKEY_get_group_name(pkey, &name, name.count, &length) == 1 else {
            _ = drainErrors()
            throw .malformedKey(source: source, reason: "EC key without a named curve (explicit parameters); only P-256 (prime256v1) is accepted")
        }
        let curve = string(fromNulTerminated: name)
        guard curve == "prime256v1" else {
            throw .malformedKey(source: source, reason: "EC key on curve \(curve); only P-256 (prime256v1) is accepted")
        }
        var encoding = [CChar](repeating: 0, count: 32)
        if EVP_PKEY_get_utf8_string_param(pkey, "encoding", &encoding, encoding.count, &length) == 1 {
            guard string(fromNulTerminated: encoding) == "named_curve" else {
                throw .malformedKey(source: source, reason: "EC key with explicit curve parameters; only the named curve P-256 (prime256v1) is accepted")
            }
        } else {
            _ = drainErrors()
        }
    }

    private static func string(fromNulTerminated chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The public point as a named-curve, uncompressed SubjectPublicKeyInfo
    /// (what `openssl ec -pubout` writes), whatever form the input used.
    private static func uncompressedSPKI(of pkey: OpaquePointer, source: String) throws(CryptoError) -> [UInt8] {
        var x: OpaquePointer?, y: OpaquePointer?
        defer {
            BN_free(x)
            BN_free(y)
        }
        guard EVP_PKEY_get_bn_param(pkey, "qx", &x) == 1, EVP_PKEY_get_bn_param(pkey, "qy", &y) == 1,
              let x, let y else {
            throw .malformedKey(source: source, reason: "EC key without a public point (OpenSSL: \(drainErrors()))")
        }
        var point = [UInt8](repeating: 0, count: 2 * coordinateByteCount)
        let written = point.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return BN_bn2binpad(x, base, Int32(coordinateByteCount)) == Int32(coordinateByteCount)
                && BN_bn2binpad(y, base + coordinateByteCount, Int32(coordinateByteCount)) == Int32(coordinateByteCount)
        }
        guard written else {
            throw .malformedKey(source: source, reason: "public point coordinates do not fit 32 bytes")
        }
        return spkiPrefix + point
    }

    // MARK: - HMAC

    /// HMAC-SHA-256 (RFC 2104) through libcrypto.
    static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let result = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, k.baseAddress, k.count,
                              m.baseAddress, m.count, o.baseAddress, o.count, &length)
                }
            }
        }
        precondition(result != nil && length == 32, "HMAC-SHA-256 failed: \(drainErrors())")
        return out
    }

    // MARK: - Signing

    /// The order n of the P-256 group, 32 bytes big-endian (SEC 2 §2.4.2).
    static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// The private scalar d, 32 bytes big-endian. The caller wipes it.
    static func scalar(of key: P256PrivateKeyBacking) -> [UInt8] {
        guard let scalar = EC_KEY_get0_private_key(key.ecKey) else {
            preconditionFailure("an EC_KEY without a private scalar")
        }
        var bytes = [UInt8](repeating: 0, count: coordinateByteCount)
        let written = BN_bn2binpad(scalar, &bytes, Int32(coordinateByteCount))
        precondition(written == Int32(coordinateByteCount), "P-256 scalar wider than 32 bytes")
        return bytes
    }

    /// Signs a 32-byte digest with the nonce `k` (1 ≤ k < n, RFC 6979):
    /// r = (k·G).x mod n, s = k⁻¹(e + d·r) mod n, DER-encoded. Nil when
    /// r or s is zero, so that the caller draws the next nonce (§3.2 h.3).
    static func sign(digest: [UInt8], nonce: [UInt8], key: P256PrivateKeyBacking) -> [UInt8]? {
        precondition(digest.count == 32 && nonce.count == coordinateByteCount, "digest and nonce are 32 bytes")
        guard let group = EC_KEY_get0_group(key.ecKey), let order = EC_GROUP_get0_order(group),
              EC_GROUP_get_curve_name(group) == NID_X9_62_prime256v1 else {
            preconditionFailure("an EC_KEY without the P-256 group")
        }
        guard let ctx = BN_CTX_secure_new() else { preconditionFailure("BN_CTX_secure_new failed: \(drainErrors())") }
        defer { BN_CTX_free(ctx) }
        let k = BN_secure_new(), kinv = BN_secure_new(), exponent = BN_new(), x = BN_new(), r = BN_new()
        let point = EC_POINT_new(group)
        defer {
            BN_clear_free(k)
            BN_clear_free(kinv)
            BN_free(exponent)
            BN_clear_free(x)
            BN_clear_free(r)
            EC_POINT_clear_free(point)
        }
        guard let k, let kinv, let exponent, let x, let r, let point else {
            preconditionFailure("out of memory allocating ECDSA temporaries: \(drainErrors())")
        }
        // Constant-time flags: k is the secret that leaks d if it leaks.
        BN_set_flags(k, BN_FLG_CONSTTIME)
        guard nonce.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), k) }) != nil else {
            preconditionFailure("BN_bin2bn failed: \(drainErrors())")
        }
        BN_set_flags(k, BN_FLG_CONSTTIME)
        // k⁻¹ = k^(n-2) mod n (Fermat; n is prime), with a constant-time exponentiation.
        guard BN_copy(exponent, order) != nil, BN_sub_word(exponent, 2) == 1,
              BN_mod_exp_mont_consttime(kinv, k, exponent, order, ctx, nil) == 1 else {
            preconditionFailure("computing k⁻¹ failed: \(drainErrors())")
        }
        guard EC_POINT_mul(group, point, k, nil, nil, ctx) == 1,
              EC_POINT_get_affine_coordinates(group, point, x, nil, ctx) == 1,
              BN_nnmod(r, x, order, ctx) == 1 else {
            preconditionFailure("computing k·G failed: \(drainErrors())")
        }
        if BN_is_zero(r) == 1 { return nil }

        ERR_clear_error()
        let signed = digest.withUnsafeBufferPointer { ECDSA_do_sign_ex($0.baseAddress, Int32($0.count), kinv, r, key.ecKey) }
        guard let signed else {
            // s = 0: OpenSSL refuses to pick another k itself when given one.
            if ERR_GET_REASON(ERR_peek_last_error()) == EC_R_NEED_NEW_SETUP_VALUES {
                ERR_clear_error()
                return nil
            }
            preconditionFailure("ECDSA_do_sign_ex failed: \(drainErrors())")
        }
        defer { ECDSA_SIG_free(signed) }
        let length = i2d_ECDSA_SIG(signed, nil)
        precondition(length > 0, "i2d_ECDSA_SIG failed: \(drainErrors())")
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(signed, &cursor)
        }
        precondition(written == length, "i2d_ECDSA_SIG wrote \(written) bytes, expected \(length)")
        return der
    }

    // MARK: - Verification

    /// ECDSA-with-SHA-256 verification of a DER signature. OpenSSL refuses
    /// signatures that are not strict DER (it re-encodes and compares).
    static func verify(signature: [UInt8], message: [UInt8], key: P256PublicKeyBacking) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit_ex(ctx, nil, "SHA256", nil, nil, key.pkey, nil) == 1 else {
            preconditionFailure("EVP_DigestVerifyInit_ex failed: \(drainErrors())")
        }
        let result = signature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { msg in
                EVP_DigestVerify(ctx, sig.baseAddress, sig.count, msg.baseAddress, msg.count)
            }
        }
        // 0 is "does not verify", negative is "could not even parse"; both are false.
        ERR_clear_error()
        return result == 1
    }
}
