import Synchronization

/// What `/metrics` reports, in the Prometheus text format (0.0.4): counters
/// of requests by endpoint and outcome, tokens, attempts, blips and
/// refusals; gauges of requests in flight and queued; histograms of request
/// latency and time to first token; the engine's steps and rows (rows per
/// step is the batching actually achieved).
final class ServeMetrics: Sendable {
    /// Latency buckets in seconds (a small model answers in 0.1–30 s).
    static let buckets: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    private struct Histogram {
        var counts = [Int](repeating: 0, count: ServeMetrics.buckets.count)
        var sum = 0.0
        var count = 0

        mutating func observe(_ seconds: Double) {
            for (index, bound) in ServeMetrics.buckets.enumerated() where seconds <= bound { counts[index] += 1 }
            sum += seconds
            count += 1
        }
    }

    private struct State {
        var requests: [String: Int] = [:]       // "endpoint\u{0}outcome"
        var promptTokens = 0
        var completionTokens = 0
        var attempts = 0
        var blips = 0
        var refusals = 0
        var inFlight = 0
        var latency = Histogram()
        var firstToken = Histogram()
    }

    private let state = Mutex(State())

    func started() { state.withLock { $0.inFlight += 1 } }

    /// A request ended: `outcome` is answered, corrected, refused,
    /// cancelled, invalid, busy or error.
    func finished(endpoint: String, outcome: String, seconds: Double?) {
        state.withLock {
            $0.requests[endpoint + "\u{0}" + outcome, default: 0] += 1
            if let seconds { $0.latency.observe(seconds) }
        }
    }

    func ended() { state.withLock { $0.inFlight -= 1 } }

    func record(promptTokens: Int, completionTokens: Int, attempts: Int, blips: Int, refused: Bool) {
        state.withLock {
            $0.promptTokens += promptTokens
            $0.completionTokens += completionTokens
            $0.attempts += attempts
            $0.blips += blips
            if refused { $0.refusals += 1 }
        }
    }

    func firstToken(after seconds: Double) { state.withLock { $0.firstToken.observe(seconds) } }

    /// The exposition text; the gauges read at the moment of the scrape.
    func render(queued: Int, busySlots: Int, slots: Int, engineSteps: Int, engineRows: Int, ready: Bool) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        func histogram(_ name: String, _ help: String, _ h: Histogram) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for (index, bound) in Self.buckets.enumerated() {
                out += "\(name)_bucket{le=\"\(Self.number(bound))\"} \(h.counts[index])\n"
            }
            out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(Self.number(h.sum))\n\(name)_count \(h.count)\n"
        }
        let requests = s.requests.sorted { $0.key < $1.key }.map { entry -> (labels: String, value: String) in
            let parts = entry.key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            return ("{endpoint=\"\(parts[0])\",outcome=\"\(parts.count > 1 ? parts[1] : "")\"}", String(entry.value))
        }
        metric("sovereign_requests_total", "counter", "Completion requests by endpoint and outcome.", requests)
        metric("sovereign_prompt_tokens_total", "counter", "Prompt tokens of answered requests.", [("", String(s.promptTokens))])
        metric("sovereign_completion_tokens_total", "counter", "Tokens generated, every attempt included.", [("", String(s.completionTokens))])
        metric("sovereign_attempts_total", "counter", "Generations, first tries and corrections.", [("", String(s.attempts))])
        metric("sovereign_blips_total", "counter", "Corrections injected after a rule was broken.", [("", String(s.blips))])
        metric("sovereign_refusals_total", "counter", "Requests refused under the constraint layer.", [("", String(s.refusals))])
        metric("sovereign_requests_in_flight", "gauge", "Completion requests being served or queued.", [("", String(s.inFlight))])
        metric("sovereign_queue_depth", "gauge", "Requests waiting for a free slot.", [("", String(queued))])
        metric("sovereign_slots_busy", "gauge", "Slots generating.", [("", String(busySlots))])
        metric("sovereign_slots", "gauge", "Slots (--parallel).", [("", String(slots))])
        metric("sovereign_ready", "gauge", "1 once the model is loaded.", [("", ready ? "1" : "0")])
        metric("sovereign_engine_steps_total", "counter", "Batched forward passes (steps).", [("", String(engineSteps))])
        metric("sovereign_engine_rows_total", "counter", "Tokens decoded in those steps.", [("", String(engineRows))])
        histogram("sovereign_request_duration_seconds", "Time from request to the end of the answer.", s.latency)
        histogram("sovereign_time_to_first_token_seconds", "Time from request to the first text sent.", s.firstToken)
        return out
    }

    /// A float as Prometheus reads it (no exponent for the usual range).
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
