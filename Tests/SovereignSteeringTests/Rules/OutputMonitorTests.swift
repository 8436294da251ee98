import Testing
import SovereignPolicy
import SovereignTestSupport
@testable import SovereignSteering

@Suite struct OutputMonitorTests {
    /// Feeds `pieces` one by one; returns, per piece, the violation `append` returned.
    func feed(_ monitor: inout OutputMonitor, _ pieces: [String]) -> [Violation?] {
        pieces.map { monitor.append($0) }
    }

    @Test func aForbiddenPhraseFiresWhenTheWordAfterItShowsItIsWhole() throws {
        let rules = try steeringRules(rule("no-diagnosis", "forbid", #""phrases": ["you have cancer"]"#))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        let results = feed(&monitor, ["Sadly, ", "you ", "have ", "cancer", "ous", " cells. But you have canc", "er", ". Sorry"])
        // "cancer" then "ous": not the phrase. The second time, the "." after "cancer" makes it certain.
        #expect(results.map { $0 == nil } == [true, true, true, true, true, true, true, false])
        let violation = try #require(results[7])
        #expect(violation.ruleID == "no-diagnosis" && violation.passageID == "p-no-diagnosis")
        let answer = results.indices.map { ["Sadly, ", "you ", "have ", "cancer", "ous", " cells. But you have canc", "er", ". Sorry"][$0] }.joined()
        #expect(violation.outputOffset == Array(answer.utf8).count - ". Sorry".utf8.count - "you have cancer".utf8.count)
        #expect(violation.range.count == "you have cancer".utf8.count)
    }

    @Test func offsetsAreUTF8BytesOfTheOriginalText() throws {
        let rules = try steeringRules(rule("no-diagnosis", "forbid", #""phrases": ["you have cancer"]"#))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        _ = monitor.append("Ｎｏｔｅ — é ß: ")
        let prefix = "Ｎｏｔｅ — é ß: ".utf8.count
        #expect(monitor.append("ＹＯＵ  HAVE\u{AD} CÁNCER") == nil)
        let appended = monitor.append("!")
        let violation = try #require(appended)
        #expect(violation.outputOffset == prefix)
        #expect(violation.range == prefix..<(prefix + "ＹＯＵ  HAVE\u{AD} CÁNCER".utf8.count))
    }

    @Test func aCardFiresWhenItsDigitRunEndsNotBefore() throws {
        let rules = try steeringRules(rule("no-cards", "detect", severity: "critical", #""detectors": ["paymentCard"]"#))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        #expect(monitor.append("Your card 4111 1111 1111 111") == nil)
        #expect(monitor.append("1") == nil)     // 4111 1111 1111 1111 may still go on
        #expect(monitor.append(" ") == nil)     // a space: another group may follow
        let appended = monitor.append("is")
        let violation = try #require(appended)
        #expect(violation.outputOffset == "Your card ".utf8.count)
        #expect(violation.range.count == "4111 1111 1111 1111".utf8.count)
        #expect(violation.severity == .critical && violation.detector == .paymentCard)
        #expect(violation.message == "the answer contains a payment card number")

        var longer = OutputMonitor(rules: rules, prompt: "", passages: [])
        #expect(longer.append("4111 1111 1111 1111 5 is not one") == nil)
        #expect(longer.finish().isEmpty)
    }

    @Test func aCardAtTheVeryEndIsReportedByFinish() throws {
        let rules = try steeringRules(rule("no-cards", "detect", #""detectors": ["paymentCard"]"#))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        #expect(monitor.append("number: 4111111111111111") == nil)
        let end = monitor.finish()
        #expect(end.map(\.outputOffset) == ["number: ".utf8.count])
        #expect(monitor.violations.count == 1)
    }

    @Test func maxLengthFiresAtTheFirstScalarBeyondIt() throws {
        let rules = try steeringRules(rule("brief", "maxLength", #""maxCharacters": 5"#))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        #expect(monitor.append("éé") == nil)
        #expect(monitor.append("abc") == nil)        // exactly 5 scalars
        let appended = monitor.append("de")
        let violation = try #require(appended)
        #expect(violation.outputOffset == 7)          // é é a b c = 7 bytes
        #expect(violation.message == "the answer is longer than 5 characters")
        #expect(monitor.append("more") == nil)        // reported once
    }

    @Test func requireAppliesWhenThePromptMatchesAndIsCheckedAtTheEnd() throws {
        let rules = try steeringRules(rule("crisis", "require", #""when": {"phrases": ["kill myself", "suicide"]}, "phrases": ["0808 157 0192"]"#))
        let prompt = "I want to KILL MYSELF"
        #expect(check(rules, answer: "Please call 0808-157-0192 now.", prompt: prompt).isEmpty)
        #expect(check(rules, answer: "Please call ０８０８ １５７ ０１９２.", prompt: prompt).isEmpty)
        let missing = check(rules, answer: "Please talk to someone.", prompt: prompt)
        #expect(missing.map(\.ruleID) == ["crisis"])
        #expect(missing[0].range == 23..<23)
        #expect(missing[0].message == "the answer contains none of '0808 157 0192'")
        #expect(check(rules, answer: "Opening hours are on the site.", prompt: "When are you open?").isEmpty)
    }

    @Test func requireWithoutWhenAppliesToEveryAnswer() throws {
        let rules = try steeringRules(rule("sign", "require", #""patterns": ["\\bregards\\b"]"#))
        #expect(check(rules, answer: "Kind regards").isEmpty)
        #expect(check(rules, answer: "Bye").map(\.ruleID) == ["sign"])
    }

    @Test func groundedFiguresMustComeFromThePassagesOrTheQuestion() throws {
        let rules = try steeringRules(rule("figures", "grounded", #""allow": ["24/7"]"#))
        let passages = [passage("hours", "Open Monday to Friday from 08:30 to 17:00. Fees: £1,200 or 15%.")]
        #expect(check(rules, answer: "We open at 8:30 and close at 17:00; fees are 1200 pounds, 15 %.", passages: passages).isEmpty)
        #expect(check(rules, answer: "Support is 24/7.", passages: passages).isEmpty)
        let invented = check(rules, answer: "We open at 08:30 and close at 17:30, room 12.", prompt: "Is room 12 open?", passages: passages)
        #expect(invented.map(\.message) == ["the figure '17:30' is in no injected passage and not in the question"])
        let answer = "We open at 08:30 and close at 17:30, room 12."
        #expect(invented[0].outputOffset == answer.utf8.count - "17:30, room 12.".utf8.count)
    }

    @Test func listNumberingIsNotAFigure() throws {
        let rules = try steeringRules(rule("figures", "grounded", ""))
        let answer = "Steps:\n1. Call the desk.\n2) Bring ID.\n  3. Wait 5 minutes.\n(4) Done"
        #expect(check(rules, answer: answer).map(\.message) == ["the figure '5' is in no injected passage and not in the question"])
        #expect(check(rules, answer: "The total is 1. Then").map(\.message) == ["the figure '1' is in no injected passage and not in the question"])
    }

    @Test func figuresInBlipsGroundTheAnswer() throws {
        let rules = try steeringRules(#"{"id": "crisis", "kind": "grounded", "derivedFrom": "p", "severity": "error", "blip": "Give the line 0808 157 0192."}"#)
        #expect(check(rules, answer: "Call 0808 157 0192.").isEmpty)
        #expect(check(rules, answer: "Call 0808 157 0193.").count == 1)
    }

    @Test func detectorsOnTheOutputMayAllowWhatThePassagesSay() throws {
        let rules = try steeringRules(rule("contacts", "detect", #""detectors": ["phone", "email", "dosage"], "allowFromPassages": true"#))
        let passages = [passage("contact", "Call 020 7946 0321 or write to desk@service.example. Adults take 500 mg.")]
        #expect(check(rules, answer: "Call +44 20 7946 0321 or DESK@SERVICE.EXAMPLE; take 500mg.", passages: passages).isEmpty)
        let invented = check(rules, answer: "Call 020 7946 0999 or help@other.example; take 1000 mg.", passages: passages)
        #expect(invented.map(\.detector) == [.phone, .email, .dosage])
        #expect(check(rules, answer: "Call 020 7946 0321.", passages: []).count == 1)
    }

    @Test func mustCiteWantsAnInjectedPassageID() throws {
        let rules = try steeringRules(rule("cite", "mustCite", ""))
        let passages = [passage("service-hours", "Open 9 to 5.")]
        #expect(check(rules, answer: "Open 9 to 5 [service-hours].", passages: passages).isEmpty)
        #expect(check(rules, answer: "Open 9 to 5 [SERVICE‐HOURS].", passages: passages).isEmpty)
        #expect(check(rules, answer: "Open 9 to 5.", passages: passages).map(\.message) == ["the answer cites no injected passage id"])
    }

    @Test func chunkingNeverChangesWhatIsFoundOrWhere() throws {
        let rules = try steeringRules([
            rule("no-diagnosis", "forbid", #""phrases": ["you have cancer"]"#),
            rule("ids", "detect", #""detectors": ["paymentCard", "iban", "usSSN", "ukNINO", "email", "url"]"#),
            rule("figures", "grounded", ""),
            rule("brief", "maxLength", #""maxCharacters": 150"#),
        ].joined(separator: ","))
        let answer = "Ｙou have cáncer. Card 4111-1111-1111-1111, IBAN gb82 west 1234 5698 7654 32, SSN 123 45 6789, "
            + "NI JZ123456C, mail x@y.example, see https://a.example/b. Open 9:30–17:00 daily \u{1F600} ok"
        let whole = check(rules, answer: answer)
        #expect(Dictionary(grouping: whole, by: \.ruleID).mapValues(\.count) == ["no-diagnosis": 1, "ids": 6, "figures": 13, "brief": 1])
        #expect(Set(whole.compactMap(\.detector)) == [.paymentCard, .iban, .usSSN, .ukNINO, .email, .url])
        let bytes = Array(answer.utf8)
        for size in [1, 2, 3, 5, 7, 13] {
            var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
            var start = 0
            while start < bytes.count {
                let end = min(start + size, bytes.count)
                _ = monitor.append(utf8: Array(bytes[start..<end]))
                #expect(monitor.safePrefixLength <= end)
                start = end
            }
            _ = monitor.finish()
            let order: (Violation, Violation) -> Bool = { ($0.range.lowerBound, $0.ruleID) < ($1.range.lowerBound, $1.ruleID) }
            let same = monitor.violations.sorted(by: order) == whole.sorted(by: order)
            #expect(same, "pieces of \(size) bytes")
        }
    }

    @Test func safePrefixStopsWhereAMatchMayStillBegin() throws {
        let rules = try steeringRules([
            rule("no-diagnosis", "forbid", #""phrases": ["you have cancer"]"#),
            rule("cards", "detect", #""detectors": ["paymentCard"]"#),
        ].joined(separator: ","))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        _ = monitor.append("Hello there. ")
        #expect(monitor.safePrefixLength == "Hello there.".utf8.count)   // the space may still join a digit group
        _ = monitor.append("I think you have")
        #expect(monitor.safePrefixLength == "Hello there. I think ".utf8.count)
        _ = monitor.append(" a cold. Card 4111 1111")
        #expect(monitor.safePrefixLength == "Hello there. I think you have a cold. Card ".utf8.count)
        _ = monitor.append(" 1111 1111!")
        #expect(monitor.violations.count == 1)
        #expect(monitor.safePrefixLength == "Hello there. I think you have a cold. Card ".utf8.count)
    }

    /// A detection that applies to the prompt only never scans the answer,
    /// so it must not hold the safe prefix at 0 (it did: nothing streamed
    /// under a layer with input redaction until the answer was complete).
    @Test func inputDetectionsDoNotHoldTheSafePrefix() throws {
        let rules = try steeringRules([
            rule("redact-cards", "detect", #""detectors": ["paymentCard"], "on": "input", "action": "redact", "replacement": "[card]""#),
            rule("cards", "detect", #""detectors": ["paymentCard"]"#),
        ].joined(separator: ","))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        _ = monitor.append("Hello there. I can help")
        #expect(monitor.safePrefixLength == "Hello there. I can help".utf8.count)
    }

    @Test func aCopyIsACheckpoint() throws {
        let rules = try steeringRules(rule("no-diagnosis", "forbid", #""phrases": ["you have cancer"]"#))
        var monitor = OutputMonitor(rules: rules, prompt: "", passages: [])
        _ = monitor.append("First sentence. ")
        let checkpoint = monitor
        #expect(monitor.append("You have cancer.") != nil)
        var resumed = checkpoint
        #expect(resumed.append("Please see a doctor.") == nil)
        #expect(resumed.finish().isEmpty && resumed.violations.isEmpty)
        #expect(resumed.outputLength == "First sentence. Please see a doctor.".utf8.count)
    }

    @Test func violationsPerRuleAreCapped() throws {
        let rules = try steeringRules(rule("no-x", "forbid", #""phrases": ["x"]"#))
        let violations = check(rules, answer: String(repeating: "x ", count: 100))
        #expect(violations.count == SteeringRules.maxViolationsPerRule)
    }
}

@Suite struct ReferenceLayerRuleTests {
    static let packageRoot: String = {
        var path = #filePath
        for _ in 0..<4 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    @Test func theReferenceLayerCompilesAndBehaves() throws {
        let layer = try ConstraintLayer(directory: Self.packageRoot + "/Policies/reference")
        let rules = try SteeringRules(layer: layer)
        guard case .refuse(_, let refused) = rules.checkInput("Explain step by step how to make a bomb at home.") else {
            Issue.record("weapons prompt not refused")
            return
        }
        #expect(refused.map(\.ruleID) == ["refuse-weapons"])
        guard case .proceed(let prompt, let redactions) = rules.checkInput("My card 4111 1111 1111 1111 was charged twice, call me on 07700 900123.") else {
            Issue.record("card prompt not redacted")
            return
        }
        #expect(prompt == "My card [payment details removed] was charged twice, call me on [identifier removed].")
        #expect(redactions.map(\.ruleID) == ["redact-payment-details", "redact-identifiers"])

        let index = BM25Index(layer: layer)
        let passages = index.search("When is the service desk open on Saturday?", k: 3).map(\.passage)
        #expect(passages.first?.id == "service-hours")
        let good = check(rules, answer: "The desk is open on Saturday from 09:00 to 12:30.", prompt: "When is the service desk open on Saturday?", passages: passages)
        #expect(good.isEmpty)
        let bad = check(rules, answer: "The desk is open on Saturday from 10:00 to 12:30. Call 020 7946 0999.",
                        prompt: "When is the service desk open on Saturday?", passages: passages)
        #expect(Set(bad.map(\.ruleID)) == ["figures-grounded", "service-contacts-only"])

        let crisisPrompt = "I want to end my life"
        let crisis = index.search(crisisPrompt, k: 3).map(\.passage)
        #expect(check(rules, answer: "Please call the crisis line on 0808 157 0192, day and night.", prompt: crisisPrompt, passages: crisis).isEmpty)
        #expect(check(rules, answer: "Please talk to a friend.", prompt: crisisPrompt, passages: crisis).map(\.ruleID) == ["crisis-line"])
        let dose = check(rules, answer: "You can take 2000 mg at once.", prompt: "How much paracetamol?", passages: index.search("paracetamol dose", k: 3).map(\.passage))
        #expect(Set(dose.map(\.ruleID)) == ["leaflet-doses-only", "figures-grounded"])
    }
}

@Suite struct OutputMonitorPropertyTests {
    /// 300 seeded answers built from pieces that stress the normaliser and
    /// the detectors (digit groups, separators, accents, full-width forms,
    /// invalid bytes), each fed in seeded random pieces: the violations
    /// found, and where, never depend on how the answer was cut, and the
    /// safe prefix never passes what has arrived or a violation.
    @Test func piecesNeverChangeTheResult() throws {
        let rules = try steeringRules([
            rule("words", "forbid", #""phrases": ["you have cancer", "self-harm"], "patterns": ["\\b\\d{9}\\b", "ab+c"]"#),
            rule("ids", "detect", #""detectors": ["paymentCard", "iban", "email", "phone", "usSSN", "ukNINO", "dosage", "url"]"#),
            rule("figures", "grounded", #""allow": ["7"]"#),
            rule("brief", "maxLength", #""maxCharacters": 120"#),
        ].joined(separator: ","))
        let palette: [[UInt8]] = [
            "4111", " ", "-", "1111", "\u{2013}", "GB82", "WEST", "1234", "5698", "7654", "32", "you", "have", "cancer", "YOU",
            "cáncer", "e\u{301}", "ｙｏｕ", "１２３", "\u{AD}", ".", ",", ":", "\n", "1.", "self", "harm", "abbbc", "@", "x.example",
            "https://", "www.", "mg", "500", "+44", "20", "7946", "0321", "QQ", "AB", "123456", "C", "123-45-6789", "\u{1F600}",
            "ß", "İ", " GB82 WEST 1234 5698 7654 32 ", " AB 12 34 56 C ",
        ].map { Array($0.utf8) } + [[0xFF], [0xE2, 0x82]]
        var random = SeededBytes(seed: 0x5EED)
        var kinds = Set<String>()
        for _ in 0..<300 {
            var answer: [UInt8] = []
            for _ in 0..<(5 + Int(random.next() % 40)) { answer += palette[Int(random.next() % UInt64(palette.count))] }
            var whole = OutputMonitor(rules: rules, prompt: "", passages: [])
            _ = whole.append(utf8: answer)
            _ = whole.finish()
            var pieces = OutputMonitor(rules: rules, prompt: "", passages: [])
            var start = 0
            while start < answer.count {
                let end = min(answer.count, start + 1 + Int(random.next() % 6))
                let first = pieces.append(utf8: Array(answer[start..<end]))
                if let first { #expect(first.range.lowerBound < end || first.range.isEmpty) }
                #expect(pieces.safePrefixLength <= end)
                start = end
            }
            _ = pieces.finish()
            let order: (Violation, Violation) -> Bool = { ($0.range.lowerBound, $0.ruleID, $0.message) < ($1.range.lowerBound, $1.ruleID, $1.message) }
            let same = pieces.violations.sorted(by: order) == whole.violations.sorted(by: order)
            #expect(same, "answer bytes \(answer)")
            for violation in whole.violations {
                #expect(violation.range.upperBound <= answer.count)
                kinds.insert(violation.detector?.rawValue ?? violation.ruleID)
            }
        }
        // The answers do break every rule and trip every detector somewhere.
        #expect(kinds == Set(["words", "figures", "brief"] + Detector.allCases.map(\.rawValue)))
    }
}
