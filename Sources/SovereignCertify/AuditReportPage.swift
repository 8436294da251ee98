import SovereignCrypto
import SovereignSteering

/// The auditor's page: one self-contained HTML file with the verdict, the
/// digests it is about, the per-rule load-bearing table, and every case's
/// steered and bare transcripts side by side, the violating text marked.
///
/// Nothing to fetch and nothing to run: inline CSS only, no script, no
/// external resource, and a Content-Security-Policy that forbids loading
/// anything, so opening it offline shows all of it. Every text from a
/// transcript is escaped; the model's words cannot become markup.
public enum AuditReportPage {
    /// The page for `certification`; `files` names the signed envelopes
    /// (file name → SHA-256) so the page can be tied to them.
    public static func render(_ certification: Certification, subject: CertificationAttestations.Subject,
                              engine: [String: String], files: [(name: String, sha256: SHA256Digest)]) -> [UInt8] {
        var page = HTML()
        let verdict = certification.isLoadBearing ? "PASSED" : "FAILED"
        page.raw("""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        """)
        page.element("title", "Certification of \(subject.imageName): \(verdict)")
        page.raw("<style>\(style)</style></head><body>\n")
        page.element("h1", "Certification of \(subject.imageName)")
        page.raw("<p class=\"verdict \(certification.isLoadBearing ? "pass" : "fail")\" id=\"verdict\">")
        page.text(verdict)
        page.raw("</p>\n<p>")
        let levels = ["SOVEREIGN_CONSTRAINT_LAYER_INTACT"] + (certification.isLoadBearing ? ["SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING"] : [])
        page.text("Verified levels: " + levels.joined(separator: ", ") + ". The installed tree matched its signed file list byte for byte; "
                  + "every case was answered with the constraint layer (steered) and without it (bare).")
        page.raw("</p>\n")

        page.element("h2", "What was certified")
        var rows: [(String, String)] = [
            ("Image manifest", subject.manifestDigest.prefixed),
            ("Constraint layer", subject.constraintLayerDigest.prefixed),
        ]
        rows += subject.layerApprovals.map { ("Layer approval by policy authors (envelope)", $0.prefixed) }
        rows += subject.suites.map { ("Audit suite \($0.name)", $0.sha256.prefixed) }
        rows += files.map { ("Signed file \($0.name)", $0.sha256.prefixed) }
        rows += engine.sorted { $0.key < $1.key }.map { ("Engine \($0.key)", $0.value) }
        page.table(id: "subjects", header: ["", "sha256 / value"], rows: rows.map { [.text($0.0), .code($0.1)] })

        page.element("h2", "Summary")
        let failed = certification.failedCases.count
        let loadBearing = certification.loadBearing
        page.table(id: "summary", header: ["cases", "passed steered", "failed steered", "passed bare", "rules load-bearing", "false refusals"], rows: [[
            .text("\(certification.results.count)"), .text("\(certification.results.count - failed)"), .text("\(failed)"),
            .text("\(certification.barePassed)"), .text("\(loadBearing.count - certification.rulesNotLoadBearing.count) of \(loadBearing.count)"),
            .text("\(certification.falseRefusals.count) of \(certification.benignCount) benign"),
        ]])

        page.element("h2", "Rules")
        page.raw("<p>A rule is load-bearing when some case breaks it without the layer and passes with it.</p>\n")
        page.table(id: "rules", header: ["rule", "load-bearing", "shown by"], rows: loadBearing.map { entry in
            [.code(entry.rule), certification.absentRules.contains(entry.rule) ? .marked("NO: the layer has no such rule", "fail")
                : entry.cases.isEmpty ? .marked("NO", "fail") : .marked("yes", "pass"),
             .links(entry.cases.map { ($0, anchor($0)) })]
        })

        page.element("h2", "Cases")
        for result in certification.results { page.caseSection(result) }
        page.raw("</body></html>\n")
        return page.bytes
    }

    static func anchor(_ name: String) -> String {
        "case-" + String(String.UnicodeScalarView(name.unicodeScalars.map {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) ? $0 : "-"
        }))
    }

    static let style = """
    body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:80em;padding:0 1em;color:#111}
    table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}
    code{font:13px ui-monospace,monospace;word-break:break-all}.verdict{font-size:1.6em;font-weight:700}
    .pass{color:#0a5d00}.fail{color:#a00000}section{border-top:2px solid #ddd;margin-top:1.5em}
    .sides{display:grid;grid-template-columns:1fr 1fr;gap:1em}.side{background:#f7f7f7;padding:.5em 1em}
    .answer{white-space:pre-wrap;border-left:3px solid #999;padding-left:.6em}mark{background:#ffc4c4;color:#600}
    .blip{font-style:italic;color:#444}
    """
}

/// An HTML document being written; text is always escaped.
private struct HTML {
    enum Cell {
        case text(String), code(String), marked(String, String), links([(String, String)])
    }

    private(set) var bytes: [UInt8] = []

    mutating func raw(_ markup: String) { bytes += Array(markup.utf8) }

    /// Escapes every byte that could start markup or end an attribute.
    mutating func text(_ text: String) { escape(Array(text.utf8)[...]) }

    mutating func escape(_ utf8: ArraySlice<UInt8>) {
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "&"): raw("&amp;")
            case UInt8(ascii: "<"): raw("&lt;")
            case UInt8(ascii: ">"): raw("&gt;")
            case UInt8(ascii: "\""): raw("&quot;")
            case UInt8(ascii: "'"): raw("&#39;")
            default: bytes.append(byte)
            }
        }
    }

    mutating func element(_ name: String, _ content: String, class className: String? = nil) {
        raw("<\(name)\(className.map { " class=\"\($0)\"" } ?? "")>")
        text(content)
        raw("</\(name)>\n")
    }

    mutating func table(id: String, header: [String], rows: [[Cell]]) {
        raw("<table id=\"\(id)\"><tr>")
        for title in header { element("th", title) }
        raw("</tr>\n")
        for row in rows {
            raw("<tr>")
            for cell in row {
                raw("<td>")
                switch cell {
                case .text(let value): text(value)
                case .code(let value): raw("<code>"); text(value); raw("</code>")
                case .marked(let value, let className): raw("<span class=\"\(className)\">"); text(value); raw("</span>")
                case .links(let links):
                    for (index, link) in links.enumerated() {
                        if index > 0 { raw(", ") }
                        raw("<a href=\"#\(link.1)\">"); text(link.0); raw("</a>")
                    }
                }
                raw("</td>")
            }
            raw("</tr>\n")
        }
        raw("</table>\n")
    }

    /// `text` with the UTF-8 byte ranges in `marks` wrapped in `<mark>`,
    /// each titled with its rule; overlapping marks merge into the first.
    mutating func marked(_ text: String, _ marks: [(range: Range<Int>, rule: String)]) {
        let utf8 = Array(text.utf8)
        var position = 0
        raw("<div class=\"answer\">")
        for mark in marks.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            let lower = min(max(mark.range.lowerBound, position), utf8.count)
            let upper = min(max(mark.range.upperBound, lower), utf8.count)
            guard upper > lower else { continue }
            escape(utf8[position..<lower])
            raw("<mark title=\"rule \(mark.rule)\">")
            escape(utf8[lower..<upper])
            raw("</mark>")
            position = upper
        }
        escape(utf8[position...])
        raw("</div>\n")
    }

    mutating func caseSection(_ result: CaseResult) {
        let name = "\(result.suite)/\(result.testCase.id)"
        raw("<section id=\"\(AuditReportPage.anchor(name))\">")
        raw("<h3>"); text(name); raw(" <span class=\"\(result.passed ? "pass" : "fail")\">")
        text(result.passed ? "pass" : "FAIL"); raw("</span></h3>\n")
        for turn in result.testCase.history {
            raw("<p><b>"); text(turn.role); raw(":</b> "); text(turn.content); raw("</p>\n")
        }
        raw("<p><b>prompt:</b> "); text(result.testCase.prompt); raw("</p>\n")
        var expected: [String] = []
        if result.testCase.refuse { expected.append("refuse") }
        if result.testCase.benign { expected.append("answer (benign)") }
        if result.testCase.noViolations { expected.append("no violations") }
        expected += result.testCase.mustMention.map { "mention '\($0)'" } + result.testCase.mustNotMention.map { "not mention '\($0)'" }
        if !result.testCase.rulesFired.isEmpty { expected.append("bare breaks " + result.testCase.rulesFired.joined(separator: ", ")) }
        raw("<p><b>expected:</b> "); text(expected.joined(separator: "; ")); raw("</p>\n")
        raw("<div class=\"sides\">")
        side("steered", result.steered, failures: result.steeredFailures) { page in
            for (index, attempt) in result.steered.attempts.enumerated() where !attempt.violations.isEmpty {
                page.raw("<p>"); page.text("attempt \(index + 1) broke " + attempt.violations.map(\.ruleID).joined(separator: ", ") + ":"); page.raw("</p>")
                page.marked(attempt.text, attempt.violations.map { (($0.offset ?? attempt.text.utf8.count)..<attempt.text.utf8.count, $0.ruleID) })
                if let blip = attempt.blip { page.element("p", "blip: " + blip, class: "blip") }
            }
            if let reason = result.steered.refusalReason { page.element("p", "refused under rule \(reason.ruleID): \(reason.message)") }
            page.raw("<p><b>final answer:</b></p>")
            page.marked(result.steered.answer, [])
        }
        side("bare", result.bare, failures: result.bareFailures) { page in
            page.marked(result.bare.answer, result.bareAnswerViolations.map { ($0.range, $0.ruleID) })
        }
        raw("</div></section>\n")
    }

    private mutating func side(_ title: String, _ transcript: SteeringTranscript, failures: [String], body: (inout HTML) -> Void) {
        raw("<div class=\"side \(title)\"><h4>")
        text("\(title): \(transcript.outcome.rawValue)")
        raw("</h4><p><code>transcript sha256 ")
        text(CaseResult.digest(transcript).hex)
        raw("</code></p>\n")
        body(&self)
        if failures.isEmpty {
            element("p", "meets every expectation", class: "pass")
        } else {
            raw("<ul class=\"fail\">")
            for failure in failures { element("li", failure) }
            raw("</ul>\n")
        }
        raw("</div>")
    }
}
