/// The timestamp form in-toto (field_types.md: "RFC 3339 in the UTC time
/// zone") and CycloneDX (`date-time`) use: `YYYY-MM-DDTHH:MM:SS[.frac]Z`.
///
/// Stricter than RFC 3339 on purpose: upper-case `T` and `Z` only (no
/// offsets, so the same instant has one spelling), no leap second (protobuf's
/// `Timestamp`, which in-toto's reference libraries parse into, refuses
/// `:60`), and at most nine fraction digits (nanoseconds, the protobuf limit).
enum RFC3339 {
    static func isValidUTC(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count >= 20, b.last == UInt8(ascii: "Z") else { return false }
        func digits(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        guard let year = digits(0..<4), b[4] == UInt8(ascii: "-"),
              let month = digits(5..<7), b[7] == UInt8(ascii: "-"),
              let day = digits(8..<10), b[10] == UInt8(ascii: "T"),
              let hour = digits(11..<13), b[13] == UInt8(ascii: ":"),
              let minute = digits(14..<16), b[16] == UInt8(ascii: ":"),
              let second = digits(17..<19) else { return false }
        guard year >= 1, (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...daysInMonth).contains(day) else { return false }
        // What lies between the seconds and the final Z: nothing, or a fraction.
        let rest = b.count - 1 - 19
        if rest == 0 { return true }
        guard b[19] == UInt8(ascii: "."), (1...9).contains(rest - 1), digits(20..<(b.count - 1)) != nil else { return false }
        return true
    }
}
