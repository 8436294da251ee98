import SovereignInference

/// Tokens banned after a given continuation: "after these tokens (counted
/// from where the continuation started), never this token". It is how a
/// correction bans the violating tokens *at the position where they
/// began*, and nowhere else: if the model takes another path, nothing is
/// banned; if it walks back onto the same path, the token that started the
/// violation is masked and the next best is taken.
struct TokenBans: Sendable, Equatable {
    private var banned: [[TokenID]: Set<TokenID>] = [:]

    var isEmpty: Bool { banned.isEmpty }
    var count: Int { banned.values.reduce(0) { $0 + $1.count } }

    mutating func ban(_ token: TokenID, after prefix: [TokenID]) {
        banned[prefix, default: []].insert(token)
    }

    /// The tokens banned after `prefix`.
    func tokens(after prefix: [TokenID]) -> Set<TokenID> {
        banned[prefix] ?? []
    }
}
