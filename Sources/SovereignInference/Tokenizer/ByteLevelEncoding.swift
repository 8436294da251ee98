/// GPT-2's byte-level alphabet: every byte 0–255 stands for one printable
/// Unicode scalar, so that a vocabulary of strings can hold arbitrary bytes.
/// Printable Latin-1 bytes (`!`–`~`, `¡`–`¬`, `®`–`ÿ`) stand for themselves;
/// the other 68 bytes, in order, take U+0100, U+0101, … (so a space is `Ġ`,
/// U+0120, and a newline `Ċ`, U+010A).
enum ByteLevelEncoding {
    /// The scalar that stands for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0 ..< 256 {
            if standsForItself(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte each scalar below 324 stands for, or -1.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    private static func standsForItself(_ byte: Int) -> Bool {
        (0x21 ... 0x7E).contains(byte) || (0xA1 ... 0xAC).contains(byte) || (0xAE ... 0xFF).contains(byte)
    }

    /// The raw bytes a byte-level string stands for, or nil when it holds a
    /// scalar outside the alphabet (such a string can never come out of the
    /// byte-level pre-tokenizer).
    static func bytes(of encoded: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encoded.utf8.count)
        for scalar in encoded.unicodeScalars {
            guard let byte = byte(for: scalar.value) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    static func byte(for scalar: UInt32) -> UInt8? {
        guard scalar < UInt32(byteForScalar.count) else { return nil }
        let byte = byteForScalar[Int(scalar)]
        return byte < 0 ? nil : UInt8(byte)
    }

    /// The byte-level string for raw bytes.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var result = String.UnicodeScalarView()
        for byte in bytes {
            if let scalar = Unicode.Scalar(scalarForByte[Int(byte)]) { result.append(scalar) }
        }
        return String(result)
    }
}
