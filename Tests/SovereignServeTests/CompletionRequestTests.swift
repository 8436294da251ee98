import Testing
@testable import SovereignServe

/// Request bodies as OpenAI's clients and strangers send them: what is
/// honoured, and what is refused with a 400 that names the parameter.
@Suite struct CompletionRequestTests {
    static func chat(_ json: String) throws(APIError) -> CompletionRequest {
        try CompletionRequest.parse(Array(json.utf8), endpoint: .chat)
    }

    static func refusal(_ json: String, endpoint: CompletionRequest.Endpoint = .chat) -> APIError? {
        do {
            _ = try CompletionRequest.parse(Array(json.utf8), endpoint: endpoint)
            return nil
        } catch { return error }
    }

    @Test func readsAConversationAndTheSettingsWeHonour() throws {
        let request = try Self.chat("""
            {"model": "gpt-4o", "messages": [
               {"role": "developer", "content": "Be brief."},
               {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
               {"role": "assistant", "content": null, "refusal": null},
               {"role": "user", "content": "When is the desk open?", "name": "ann"}],
             "temperature": 0.7, "top_p": 0.9, "max_completion_tokens": 12, "seed": -3, "stop": ["\\n\\n", "END"],
             "stream": true, "stream_options": {"include_usage": true}, "n": 1, "logprobs": false,
             "frequency_penalty": 0, "presence_penalty": 0, "logit_bias": {}, "tools": [], "tool_choice": "none",
             "response_format": {"type": "text"}, "user": "u-1", "metadata": {"a": "b"}}
            """)
        #expect(request.model == "gpt-4o" && request.prompt == "When is the desk open?")
        #expect(request.history.map(\.role) == ["system", "user", "assistant"])
        #expect(request.history[1].content == "Hello there")
        #expect(request.stream && request.includeUsage)
        #expect(request.overrides.temperature == 0.7 && request.overrides.topP == 0.9)
        #expect(request.overrides.maxTokens == 12 && request.overrides.seed == -3)
        #expect(request.stop == ["\n\n", "END"] && request.user == "u-1")
    }

    @Test func nullReadsAsAbsentAndAStopStringMayStandAlone() throws {
        let request = try Self.chat(#"{"messages": [{"role": "user", "content": "hi"}], "stop": "END", "temperature": null, "max_tokens": 5}"#)
        #expect(request.stop == ["END"] && request.overrides.temperature == nil && request.overrides.maxTokens == 5)
    }

    @Test(arguments: [
        (#"{"messages": [{"role": "user", "content": "hi"}], "n": 2}"#, "n"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "logprobs": true}"#, "logprobs"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}"#, "top_logprobs"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "presence_penalty": 0.5}"#, "presence_penalty"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "logit_bias": {"42": 5}}"#, "logit_bias"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}]}"#, "tools"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "tool_choice": "auto"}"#, "tool_choice"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}"#, "response_format"),
        (#"{"messages": [{"role": "tool", "content": "42", "tool_call_id": "c"}, {"role": "user", "content": "hi"}]}"#, "messages"),
        (#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#, "messages"),
    ])
    func unsupportedSettingsAreRefusedByName(json: String, param: String) {
        let error = Self.refusal(json)
        #expect(error?.status == 400 && error?.code == "unsupported_parameter" && error?.param == param, "\(String(describing: error))")
    }

    @Test(arguments: [
        (#"{"messages": []}"#, "at least one message"),
        (#"{"model": "x"}"#, "missing field 'messages'"),
        (#"{"messages": [{"role": "assistant", "content": "hi"}]}"#, "must end with a user message"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "temprature": 1}"#, "unknown field 'temprature'"),
        (#"{"messages": [{"role": "user", "content": 42}]}"#, "messages[0].content"),
        (#"{"messages": [{"role": "robot", "content": "hi"}]}"#, "must be system, developer, user or assistant"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "temperature": 3}"#, "temperature"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}"#, "max_tokens"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "max_completion_tokens": 4}"#, "not both"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]}"#, "at most 4"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "stop": [""]}"#, "stop"),
        (#"{"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": true}}"#, "only allowed when stream is true"),
        (#"[1, 2]"#, "must be"),
        (#"{"messages": [{"role": "user", "content": "hi"}]"#, "invalid JSON"),
    ])
    func malformedRequestsAreRefusedSayingWhy(json: String, reason: String) {
        let error = Self.refusal(json)
        #expect(error?.status == 400 && error?.type == "invalid_request_error", "\(String(describing: error))")
        #expect(error?.message.contains(reason) == true, "\(String(describing: error?.message)) lacks \(reason)")
    }

    @Test func theLegacyEndpointTakesOnePrompt() throws {
        let request = try CompletionRequest.parse(Array(#"{"model": "x", "prompt": ["Say hi"], "max_tokens": 3, "echo": false}"#.utf8),
                                                  endpoint: .completions)
        #expect(request.prompt == "Say hi" && request.history.isEmpty && request.overrides.maxTokens == 3)
        #expect(Self.refusal(#"{"prompt": ["a", "b"]}"#, endpoint: .completions)?.param == "prompt")
        #expect(Self.refusal(#"{"prompt": "a", "echo": true}"#, endpoint: .completions)?.param == "echo")
        #expect(Self.refusal(#"{"prompt": "a", "messages": []}"#, endpoint: .completions)?.message.contains("unknown field 'messages'") == true)
    }
}
