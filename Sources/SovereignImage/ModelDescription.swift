/// What a model is, for the BOM's model card: its architecture and a few
/// hyper-parameters, read from the GGUF header by whoever builds.
public struct ModelDescription: Sendable, Equatable {
    public var architecture: String
    /// e.g. block_count, embedding_length, quantization.
    public var parameters: [String: String]

    public init(architecture: String, parameters: [String: String]) {
        self.architecture = architecture
        self.parameters = parameters
    }
}
