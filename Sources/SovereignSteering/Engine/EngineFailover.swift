import Synchronization

/// Remote engines in order of preference. Each request tries the first one
/// that is up; one that fails (unreachable, overloaded, broken) is set
/// aside for `coolDown` and the next is tried, so an engine going down
/// costs one failed connection, not one per request. When every engine is
/// set aside they are all tried again, in order: an engine that came back
/// is found without waiting.
public final class EngineFailover: Sendable {
    public let engines: [OpenAIEngine]
    public let coolDown: Duration
    private let downUntil: Mutex<[ContinuousClock.Instant?]>

    public init(_ engines: [OpenAIEngine], coolDown: Duration = .seconds(10)) {
        self.engines = engines
        self.coolDown = coolDown
        downUntil = Mutex(Array(repeating: nil, count: engines.count))
    }

    /// The engines to try for one request, in order: those up first.
    func order() -> [OpenAIEngine] {
        let now = ContinuousClock.now
        let down = downUntil.withLock { $0.map { until in until.map { now < $0 } ?? false } }
        let up = engines.indices.filter { !down[$0] }
        return (up + engines.indices.filter { down[$0] }).map { engines[$0] }
    }

    func failed(_ engine: OpenAIEngine) {
        guard let index = engines.firstIndex(where: { $0 === engine }) else { return }
        let until = ContinuousClock.now + coolDown
        downUntil.withLock { $0[index] = until }
    }

    func answered(_ engine: OpenAIEngine) {
        guard let index = engines.firstIndex(where: { $0 === engine }) else { return }
        downUntil.withLock { $0[index] = nil }
    }

    /// Asks every engine which model it serves; the failures, by URL.
    /// A server starts when at least one answers.
    public func probeAll() -> [(url: String, error: EngineError?)] {
        engines.map { engine -> (url: String, error: EngineError?) in
            do throws(EngineError) {
                try engine.probe()
                return (engine.url, nil)
            } catch {
                failed(engine)
                return (engine.url, error)
            }
        }
    }
}
