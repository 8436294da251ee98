import SovereignPolicy

extension SteeringRules {
    /// The `require` rules a prompt triggers (their `when` matches the
    /// normalised prompt, or they have no `when`): what the answer will be
    /// held to, known before a token is generated. The runtime states their
    /// blips in the system prompt up front, so a required mention is asked
    /// for rather than corrected after a whole answer was spent without it.
    public func requirements(triggeredBy prompt: String) -> [Rule] {
        let text = TextNormalizer.normalize(prompt).matching.scalars
        return requirements.filter { requirement in
            requirement.when.map { Self.firstMatch($0, in: text) != nil } ?? true
        }.map { rules[$0.rule] }
    }
}
