import Foundation
import Glibc

/// A one-line progress meter on stderr for long reads: bytes done, total,
/// rate. Silent unless stderr is a terminal, so scripts and logs see only
/// results. Redraws at most ten times a second.
final class Progress {
    private let label: String
    private let total: Int64?
    private let enabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var drew = false

    init(label: String, total: Int64?, enabled: Bool = Output.stderrIsTerminal) {
        self.label = label
        self.total = total
        self.enabled = enabled
    }

    func update(_ done: Int64) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let seconds = max(now.timeIntervalSince(start), 0.001)
        let rate = Double(done) / seconds / 1_000_000
        var text = "\r\(label): \(Self.bytes(done))"
        if let total, total > 0 {
            text += " of \(Self.bytes(total)) (\(Int(Double(done) * 100 / Double(total)))%)"
        }
        text += String(format: ", %.0f MB/s", rate)
        Output.write(text + "\u{1B}[K", to: .standardError)
        drew = true
    }

    /// Clears the line.
    func finish() {
        if drew { Output.write("\r\u{1B}[K", to: .standardError) }
        drew = false
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}
