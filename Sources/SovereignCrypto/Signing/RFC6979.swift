/// Deterministic ECDSA nonces (RFC 6979 §3.2: HMAC-DRBG with HMAC-SHA-256)
/// for a group order of exactly 256 bits, so qlen = hlen = 256 and
/// bits2int, int2octets and bits2octets reduce to byte copies and one
/// conditional subtraction. P-256 with SHA-256 is that case.
///
/// A class, so the DRBG state exists once and is wiped on the way out.
final class RFC6979Nonces {
    static let byteCount = 32

    private var k: [UInt8]
    private var v: [UInt8]
    private let order: [UInt8]
    /// Whether a candidate was already handed out (then §3.2 h.3 runs first).
    private var started = false

    /// `privateKey` is int2octets(x), `digest` is H(m) = h1, `order` is q;
    /// all 32 bytes big-endian, q with its top bit set.
    init(privateKey x: [UInt8], digest h1: [UInt8], order q: [UInt8]) {
        precondition(x.count == Self.byteCount && h1.count == Self.byteCount && q.count == Self.byteCount,
                     "RFC 6979 inputs are 32 bytes here")
        precondition(q[0] & 0x80 != 0, "this generator is for 256-bit group orders")
        order = q
        // bits2octets(h1): h1 < 2^256 < 2q, so h1 mod q is at most one subtraction.
        let h = Self.isBelow(h1, q) ? h1 : Self.subtract(h1, q)
        // Steps b–g.
        v = [UInt8](repeating: 0x01, count: Self.byteCount)
        k = [UInt8](repeating: 0x00, count: Self.byteCount)
        for separator: UInt8 in [0x00, 0x01] {
            Self.replace(&k, with: Self.hmac(key: k, parts: [v, [separator], x, h]))
            Self.replace(&v, with: Self.hmac(key: k, parts: [v]))
        }
    }

    deinit {
        wipe(&k)
        wipe(&v)
    }

    /// The next candidate k with 1 ≤ k ≤ q-1 (step h). Call again when the
    /// signature with this k had r = 0 or s = 0. The caller wipes the result.
    func next() -> [UInt8] {
        while true {
            if started {
                // h.3: K = HMAC_K(V ‖ 0x00), V = HMAC_K(V).
                Self.replace(&k, with: Self.hmac(key: k, parts: [v, [0x00]]))
                Self.replace(&v, with: Self.hmac(key: k, parts: [v]))
            }
            started = true
            // h.1–h.2: tlen reaches qlen after one block.
            Self.replace(&v, with: Self.hmac(key: k, parts: [v]))
            if Self.isNonZero(v) && Self.isBelow(v, order) { return v }
        }
    }

    /// HMAC-SHA-256 of the parts joined, wiping the joined message (which
    /// holds the private key while seeding).
    private static func hmac(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        var message: [UInt8] = []
        message.reserveCapacity(parts.reduce(0) { $0 + $1.count })  // no reallocation: one buffer to wipe
        for part in parts { message.append(contentsOf: part) }
        defer { wipe(&message) }
        return P256OpenSSL.hmacSHA256(key: key, message: message)
    }

    /// Overwrites DRBG state, wiping the old value first.
    private static func replace(_ target: inout [UInt8], with next: [UInt8]) {
        wipe(&target)
        target = next
    }

    /// a < b for equal-length big-endian numbers, without data-dependent branches.
    static func isBelow(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        precondition(a.count == b.count)
        var borrow = 0
        for index in stride(from: a.count - 1, through: 0, by: -1) {
            let difference = Int(a[index]) - Int(b[index]) - borrow
            borrow = (difference >> (Int.bitWidth - 1)) & 1
        }
        return borrow == 1
    }

    static func isNonZero(_ a: [UInt8]) -> Bool {
        a.reduce(0, |) != 0
    }

    /// a - b for equal-length big-endian numbers with a ≥ b.
    static func subtract(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        precondition(a.count == b.count)
        var out = [UInt8](repeating: 0, count: a.count)
        var borrow = 0
        for index in stride(from: a.count - 1, through: 0, by: -1) {
            let difference = Int(a[index]) - Int(b[index]) - borrow
            borrow = (difference >> (Int.bitWidth - 1)) & 1
            out[index] = UInt8(truncatingIfNeeded: difference)
        }
        return out
    }
}
