import Testing
import SovereignPolicy
@testable import SovereignSteering

/// What a detector finds in a whole text: the original substrings.
func found(_ detector: Detector, in text: String) -> [String] {
    let normalized = TextNormalizer.normalize(text)
    let bytes = Array(text.utf8)
    return detector.scan(normalized.folded.scalars, from: 0, isFinal: true).matches.map {
        String(decoding: bytes[normalized.folded.sourceRange(of: $0.range)], as: UTF8.self)
    }
}

func values(_ detector: Detector, in text: String) -> [String] {
    detector.scan(TextNormalizer.normalize(text).folded.scalars, from: 0, isFinal: true).matches.map(\.value)
}

@Suite struct PaymentCardDetectorTests {
    // Published test numbers of the card networks (Visa, Mastercard, Amex,
    // Discover, Diners, JCB; 13 to 16 digits).
    @Test(arguments: ["4111111111111111", "4012888888881881", "5555555555554444", "5105105105105100", "378282246310005",
                      "371449635398431", "6011111111111117", "30569309025904", "3530111333300000", "4222222222222"])
    func findsPublishedTestNumbers(number: String) {
        #expect(found(.paymentCard, in: "card \(number) ok") == [number])
        #expect(values(.paymentCard, in: number) == [number])
    }

    @Test(arguments: [
        "4111 1111 1111 1111", "4111-1111-1111-1111", "4111 1111-1111 1111", "４１１１ １１１１ １１１１ １１１１",
        "4111\u{2013}1111\u{2013}1111\u{2013}1111", "4111\u{A0}1111\u{A0}1111\u{A0}1111", "3782 822463 10005",
    ])
    func findsGroupedAndFullWidthForms(written: String) {
        #expect(found(.paymentCard, in: "pay with \(written).") == [written])
    }

    @Test(arguments: [
        "4111 1111 1111 1112",      // Luhn fails
        "1234 5678 9012 3456",      // Luhn fails
        "411111111111",             // 12 digits
        "41111111111111111111",     // 20 digits
        "4111 1111 1111 1111 5",    // a further group: one 17-digit number, Luhn fails
        "0000 0000 0000 0000",      // Luhn-valid but no card
        "+4111111111111111",        // a phone number's shape
        "3.4111111111111111",       // a decimal
        "ref4111111111111111",      // glued to a word
    ])
    func ignoresNearMisses(written: String) {
        #expect(found(.paymentCard, in: "number \(written) here").isEmpty)
    }

    @Test func luhnMatchesTheTextbookExample() {
        #expect(luhnIsValid([7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]))
        #expect(!luhnIsValid([7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]))
    }
}

@Suite struct IBANDetectorTests {
    // Examples published by the national banks and the SWIFT registry,
    // each checked with python-stdnum's iban.is_valid.
    @Test(arguments: ["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00",
                      "FR14 2004 1010 0505 0001 3M02 606", "NL91 ABNA 0417 1643 00", "CH93 0076 2011 6238 5295 7",
                      "NO93 8601 1117 947", "ES91 2100 0418 4502 0005 1332", "IT60 X054 2811 1010 0000 0123 456",
                      "MT84 MALT 0110 0001 2345 MTLC AST0 01S", "GB29 NWBK 6016 1331 9268 19", "SA03 8000 0000 6080 1016 7519"])
    func findsValidIBANs(iban: String) {
        #expect(found(.iban, in: "Send it to \(iban), thanks.") == [iban])
        #expect(values(.iban, in: iban) == [iban.replacingOccurrences(of: " ", with: "")])
    }

    @Test func foldsCaseSpacingAndHyphens() {
        #expect(found(.iban, in: "iban: gb82-west-1234-5698-7654-32") == ["gb82-west-1234-5698-7654-32"])
        #expect(values(.iban, in: "Ｇｂ82 ｗｅｓｔ 1234 5698 7654 32") == ["GB82WEST12345698765432"])
    }

    @Test(arguments: [
        "GB82 WEST 1234 5698 7654 33",      // check digits wrong
        "GB82 WEST 1234 5698 7654 3",       // one short of GB's 22
        "GB82 WEST 1234 5698 7654 321",     // one too many
        "XX82 WEST 1234 5698 7654 32",      // no such country
        "GB82 WEST 1234  5698 7654 32",     // two spaces: not one number
        "DE89 3704 0044 0532 0130 01",
    ])
    func ignoresNearMisses(written: String) {
        #expect(found(.iban, in: "account \(written) end").isEmpty)
    }

    @Test func mod97IsISO7064() {
        #expect(IBANDetector.mod97(Array("gb82west12345698765432".unicodeScalars)) == 1)
        #expect(IBANDetector.lengths.count == 89)
        #expect(IBANDetector.lengths["gb"] == 22 && IBANDetector.lengths["no"] == 15 && IBANDetector.lengths["ru"] == 33)
    }
}

@Suite struct EmailDetectorTests {
    @Test func findsAddresses() {
        #expect(found(.email, in: "Write to desk@service.example.") == ["desk@service.example"])
        #expect(found(.email, in: "(jean-luc.picard+tng@starfleet.co.uk)") == ["jean-luc.picard+tng@starfleet.co.uk"])
        #expect(values(.email, in: "Mail ADMIN@Example.ORG") == ["admin@example.org"])
        #expect(found(.email, in: "a@b.cd, x_y@xn--bcher-kva.example") == ["a@b.cd", "x_y@xn--bcher-kva.example"])
    }

    @Test(arguments: ["user@localhost", "user@example", "user@example.c", "user@-example.com", ".user@example.com",
                      "us..er@example.com", "user@example.123", "@example.com", "user@"])
    func ignoresNearMisses(written: String) {
        #expect(found(.email, in: "to \(written) now").isEmpty)
    }
}

@Suite struct PhoneDetectorTests {
    @Test(arguments: ["+44 20 7946 0321", "020 7946 0321", "0044 20 7946 0321", "(020) 7946 0321", "(212) 555-0123",
                      "212.555.0123", "+1 212 555 0123", "1-212-555-0123", "+33 1 23 45 67 89", "0808 157 0192"])
    func findsNumbers(number: String) {
        #expect(found(.phone, in: "Call \(number) today.") == [number])
    }

    @Test func valuesCompareNationalAndInternationalForms() {
        let national = values(.phone, in: "020 7946 0321"), international = values(.phone, in: "+44 20 7946 0321")
        #expect(national == ["02079460321"] && international == ["+442079460321"])
        #expect(Detector.phone.sameValue(national[0], international[0]))
        #expect(!Detector.phone.sameValue("02079460321", "+442079460322"))
    }

    @Test(arguments: ["999", "112", "08:30", "2026-12-01", "12/05/2026", "1.5", "12345", "123 456 7890", "+0 123 456 789",
                      "4111 1111 1111 1111", "555-1234"])
    func ignoresNonNumbers(written: String) {
        #expect(found(.phone, in: "see \(written) here").isEmpty)
    }
}

@Suite struct NationalIDDetectorTests {
    @Test(arguments: ["123-45-6789", "123 45 6789", "123456789", "001-01-0001", "899-99-9999"])
    func findsSSNs(ssn: String) {
        #expect(found(.usSSN, in: "SSN \(ssn).") == [ssn])
    }

    @Test(arguments: [
        "000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456",  // never-issued areas
        "123-00-4567", "123-45-0000",                                // group 00, serial 0000
        "078-05-1120", "219-09-9999",                                // voided after advertising
        "123-45 6789", "12-345-6789", "1234-5-6789", "1234567890", "123-45-67890",
    ])
    func ignoresInvalidSSNs(written: String) {
        #expect(found(.usSSN, in: "number \(written) here").isEmpty)
    }

    @Test(arguments: ["JZ 12 34 56 C", "AB123456C", "ab 12 34 56 d", "JG-10-37-55-A", "ＡＢ１２３４５６Ａ"])
    func findsNINOs(nino: String) {
        #expect(found(.ukNINO, in: "NI number \(nino).") == [nino])
    }

    @Test(arguments: [
        "QQ 12 34 56 C",                                                               // HMRC's own example: never allocated
        "DA123456C", "FA123456C", "IA123456C", "QA123456C", "UA123456C", "VA123456C",  // invalid first letters
        "AD123456C", "AO123456C",                                                      // invalid second letters
        "BG123456C", "GB123456C", "KN123456C", "NK123456C", "NT123456C", "TN123456C", "ZZ123456C",
        "AB123456E", "AB12345C", "AB1234567C", "AB123456", "XAB123456C",
    ])
    func ignoresInvalidNINOs(written: String) {
        #expect(found(.ukNINO, in: "number \(written) here").isEmpty)
    }
}

@Suite struct DosageDetectorTests {
    @Test func findsDoses() {
        #expect(found(.dosage, in: "Take 500 mg or 1 g, up to 4g a day.") == ["500 mg", "1 g", "4g"])
        #expect(values(.dosage, in: "2.5ml, 0,5 MG, 250 µg, 5 mcg, 400 IU, 10 units, 2 tablets, 1-2 capsules, 1 to 2 puffs, 15 mg/kg")
                == ["2.5 ml", "0.5 mg", "250 mcg", "5 mcg", "400 iu", "10 unit", "2 tablet", "1-2 capsule", "1-2 puff", "15 mg/kg"])
        #expect(values(.dosage, in: "500 milligrams") == ["500 mg"])
    }

    @Test(arguments: ["4 hours", "16 years", "4 great ideas", "500 mgs", "covid19 mg", "20 kg", "5 grammar"])
    func ignoresOtherQuantities(written: String) {
        #expect(found(.dosage, in: "it says \(written) here").isEmpty)
    }
}

@Suite struct URLDetectorTests {
    @Test func findsURLs() {
        #expect(found(.url, in: "See https://service.example/help?q=1.") == ["https://service.example/help?q=1"])
        #expect(found(.url, in: "(www.example.org/path)") == ["www.example.org/path"])
        #expect(found(.url, in: "http://192.168.0.1:8080/x and ftp://files.example.com") == ["http://192.168.0.1:8080/x", "ftp://files.example.com"])
        #expect(values(.url, in: "HTTPS://Example.COM/") == ["https://example.com"])
        #expect(found(.url, in: "https://en.wikipedia.org/wiki/Foo_(bar)") == ["https://en.wikipedia.org/wiki/Foo_(bar)"])
    }

    @Test(arguments: ["http://", "https://x", "http://256.1.1.1/", "https://example.123", "wwwexample.com", "example.com",
                      "http://exa mple.com", "http://example.com:99999"])
    func ignoresNonURLs(written: String) {
        #expect(found(.url, in: "go \(written) now").isEmpty)
    }
}

@Suite struct IncrementalDetectorTests {
    /// Every detector, fed one scalar at a time, finds exactly what it finds
    /// in the whole text, and never reports before the match is complete.
    @Test(arguments: Detector.allCases)
    func incrementalScanAgreesWithWholeScan(detector: Detector) {
        let text = "Pay 4111 1111 1111 1111 or GB82 WEST 1234 5698 7654 32; mail desk@service.example, call +44 20 7946 0321 "
            + "or 020 7946 0321; SSN 123-45-6789, NI JZ 12 34 56 C; take 500 mg or 2 tablets; https://service.example/a."
        let scalars = TextNormalizer.normalize(text).folded.scalars
        let whole = detector.scan(scalars, from: 0, isFinal: true).matches
        #expect(!whole.isEmpty)
        var incremental: [DetectorMatch] = []
        var resume = 0
        for end in 1...scalars.count {
            let (matches, next) = detector.scan(Array(scalars[..<end]), from: resume, isFinal: false)
            for match in matches {
                #expect(match.range.upperBound < end, "\(detector) reported \(match.value) with no scalar after it")
            }
            incremental += matches
            resume = next
        }
        incremental += detector.scan(scalars, from: resume, isFinal: true).matches
        #expect(incremental == whole)
    }
}
