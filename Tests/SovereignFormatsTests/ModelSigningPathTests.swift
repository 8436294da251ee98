import Testing
@testable import SovereignFormats

/// model-signing paths are split on the byte 0x2F: a "/" glued to a
/// combining mark is one Swift Character but still a separator to a file system.
@Suite struct ModelSigningPathTests {
    @Test(arguments: ["../\u{301}x", "a/..\u{0}", "a/\u{0600}/../b", "\u{200D}/../..", "a//b", "/abs", "./a", "a/."])
    func refusesPathsThatAreNotPlainRelative(path: String) {
        // "\u{0600}/../b" and "\u{200D}/../.." hold ".." components as bytes.
        #expect(!ModelSigningBundle.isRelativePath(path), "\(path.unicodeScalars.map { String($0.value, radix: 16) })")
    }

    @Test func acceptsOrdinaryRelativePaths() {
        #expect(ModelSigningBundle.isRelativePath("model/x.gguf"))
        #expect(ModelSigningBundle.isRelativePath("a\u{301}/b"))  // a mark inside a component is just a name
    }

    @Test func ignorePathsNormaliseOnBytes() {
        #expect(ModelSigningBundle.normalisedIgnorePath("./a//b/") == "a/b")
        #expect(ModelSigningBundle.normalisedIgnorePath("/\u{301}a") == nil)
        #expect(ModelSigningBundle.normalisedIgnorePath("./") == nil)
    }
}
