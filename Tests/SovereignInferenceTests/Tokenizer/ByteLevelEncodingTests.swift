import Testing
@testable import SovereignInference

@Suite struct ByteLevelEncodingTests {
    @Test func mapsEveryByteToOneScalarAndBack() {
        let scalars = ByteLevelEncoding.scalarForByte
        #expect(Set(scalars).count == 256)
        #expect(scalars[0x20] == 0x120)   // space is Ġ
        #expect(scalars[0x0A] == 0x10A)   // newline is Ċ
        #expect(scalars[0x41] == 0x41)    // printable ASCII stands for itself
        #expect(scalars[0xAD] == 0x143)   // soft hyphen is the last remapped byte
        for byte in 0 ... 255 {
            #expect(ByteLevelEncoding.byte(for: scalars[byte]) == UInt8(byte))
        }
        let all = (0 ... 255).map(UInt8.init)
        #expect(ByteLevelEncoding.bytes(of: ByteLevelEncoding.encode(all)) == all)
        #expect(ByteLevelEncoding.bytes(of: "a\u{4E00}") == nil)
    }
}
