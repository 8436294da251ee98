/// The records of one pax extended header (`x`), parsed under the layer
/// profile: `"<length> <key>=<value>\n"` where the decimal length counts
/// the whole record, without leading zeros; the records fill the header's
/// data exactly; each key once, only `TarProfile.allowedPaxKeys`; values
/// valid UTF-8 without NUL.
struct PaxRecords: Equatable {
    var path: [UInt8]?
    var size: Int64?
    var mtime: Int64?

    /// Why a header's records are outside the profile: a phrase that
    /// follows the entry's name ("… has a pax record 'hdrcharset' …").
    struct Refusal: Error, Equatable {
        let reason: String
    }

    static func parse(_ data: [UInt8]) -> Result<PaxRecords, Refusal> {
        func refuse(_ reason: String) -> Result<PaxRecords, Refusal> { .failure(Refusal(reason: reason)) }
        guard !data.isEmpty else { return refuse("has an empty pax extended header (the writer never makes one)") }
        var records = PaxRecords()
        var seen = Set<[UInt8]>()
        var start = 0
        while start < data.count {
            let at = "its pax record at byte \(start) of the pax header"
            // The length: decimal digits, no leading zero, then one space.
            var cursor = start
            var length = 0
            while cursor < data.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[cursor]) {
                length = length * 10 + Int(data[cursor] - UInt8(ascii: "0"))
                cursor += 1
                guard length <= TarProfile.maximumPaxHeaderSize else {
                    return refuse("\(at) claims a length beyond the pax header")
                }
            }
            guard cursor > start else { return refuse("\(at) does not start with its decimal length") }
            guard data[start] != UInt8(ascii: "0") else { return refuse("\(at) has a length with a leading zero") }
            guard cursor < data.count, data[cursor] == 0x20 else { return refuse("\(at) has no space after its length") }
            let end = start + length
            guard end <= data.count else {
                return refuse("\(at) claims \(length) bytes but only \(data.count - start) remain (the lengths must be exact)")
            }
            guard end > cursor + 1, data[end - 1] == 0x0A else {
                return refuse("\(at) does not end with a newline where its length says (the lengths must be exact)")
            }
            let body = data[(cursor + 1)..<(end - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")) else {
                return refuse("\(at) has no '=' between key and value")
            }
            let key = Array(body[..<equals])
            let value = Array(body[(equals + 1)...])
            let shownKey = SafeTarPath.display(key)
            guard !key.isEmpty else { return refuse("\(at) has an empty key") }
            guard seen.insert(key).inserted else {
                return refuse("has the pax record '\(shownKey)' more than once (readers differ on which one wins)")
            }
            guard TarProfile.allowedPaxKeys.contains(key) else {
                return refuse("has a pax record '\(shownKey)' (\(describe(key))); a layer's pax records may only be path, size and mtime, as its writer makes them")
            }
            if let nul = value.firstIndex(of: 0) {
                return refuse("has a pax '\(shownKey)' record with a NUL byte at offset \(nul) of its value (libarchive stops at the NUL, Python's tarfile keeps the rest): '\(SafeTarPath.display(value))'")
            }
            guard String(validating: value, as: UTF8.self) != nil else {
                return refuse("has a pax '\(shownKey)' record that is not valid UTF-8: '\(SafeTarPath.display(value))'")
            }
            switch String(decoding: key, as: UTF8.self) {
            case "path":
                guard !value.isEmpty else { return refuse("has an empty pax 'path' record") }
                records.path = value
            case "size":
                guard let number = decimal(value) else {
                    return refuse("has a pax 'size' record '\(SafeTarPath.display(value))' that is not a plain decimal number")
                }
                records.size = number
            default:  // mtime
                guard let number = decimal(value) else {
                    return refuse("has a pax 'mtime' record '\(SafeTarPath.display(value))' that is not whole seconds in plain decimal")
                }
                records.mtime = number
            }
            start = end
        }
        return .success(records)
    }

    /// Digits only, no sign, no leading zero (but "0"), no overflow.
    static func decimal(_ value: [UInt8]) -> Int64? {
        guard !value.isEmpty, value.count <= 18, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              value == [UInt8(ascii: "0")] || value.first != UInt8(ascii: "0") else { return nil }
        return value.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
    }

    /// What a refused key would make another reader do.
    static func describe(_ key: [UInt8]) -> String {
        let text = String(decoding: key, as: UTF8.self)
        func starts(_ prefix: String) -> Bool { text.hasPrefix(prefix) }
        if starts("SCHILY.xattr.") || starts("LIBARCHIVE.xattr.") || starts("RHT.security.") {
            return "an extended attribute, such as file capabilities or a security label, that other tar readers set on the file"
        }
        if starts("SCHILY.acl.") { return "an access control list that other tar readers apply" }
        if starts("GNU.sparse.") { return "makes the entry a sparse file, with holes the archive does not store" }
        switch text {
        case "hdrcharset": return "a header character set; BINARY lets names be any bytes"
        case "charset": return "a character set for the file's data"
        case "linkpath": return "a link target"
        case "uid", "gid", "uname", "gname": return "an owner that other tar readers apply"
        case "atime", "ctime": return "a time the writer never records"
        case "comment": return "a comment"
        case "SCHILY.fflags": return "file flags (immutable, append-only) that other tar readers set"
        default:
            if starts("SCHILY.") || starts("LIBARCHIVE.") || starts("GNU.") || starts("realtime.") || starts("security.") {
                return "an implementation's extension that other tar readers may act on"
            }
            return "a key the writer never emits"
        }
    }
}
