/// One turn of a conversation, as OpenAI's chat API and chat templates see it.
public struct ChatMessage: Sendable, Equatable, Codable {
    /// `system`, `user`, `assistant` (templates accept any role string).
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}
