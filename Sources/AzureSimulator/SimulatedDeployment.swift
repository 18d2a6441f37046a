// What model a simulated deployment serves, and so which calls and parameters it takes.

/// A deployment's model: its name, version and family. The family decides what the data plane
/// refuses, as the real service does: reasoning models refuse `max_tokens` and API versions
/// before 2024-12-01-preview, embedding models refuse chat and responses, chat models refuse
/// embeddings.
public struct SimulatedDeployment: Sendable, Equatable {
    /// The model families whose request rules differ.
    public enum Family: String, Sendable, CaseIterable {
        /// gpt-4o, gpt-4o-mini, gpt-4.1 ...: chat completions and responses, `max_tokens` or `max_completion_tokens`.
        case chat
        /// o1, o3, o4-mini, the gpt-5 family: chat completions and responses, `max_completion_tokens` only.
        case reasoning
        /// text-embedding-*: embeddings only.
        case embeddings
    }

    public var model: String
    public var version: String
    public var family: Family

    public init(model: String, version: String, family: Family) {
        self.model = model
        self.version = version
        self.family = family
    }

    /// The model a deployment named `name` most likely serves, as people name deployments after
    /// models: `o4-mini` a reasoning model, `text-embedding-3-small` an embedding model, and
    /// anything else a chat model (`gpt-4o-mini` unless the name is a known chat model).
    public static func inferred(fromName name: String) -> SimulatedDeployment {
        let lower = name.lowercased()
        if let known = known.first(where: { $0.model == lower }) { return known }
        if lower.contains("embedding") { return SimulatedDeployment(model: "text-embedding-3-small", version: "1", family: .embeddings) }
        if ["o1", "o3", "o4", "gpt-5"].contains(where: { lower.hasPrefix($0) }) {
            return SimulatedDeployment(model: "o4-mini", version: "2025-04-16", family: .reasoning)
        }
        return SimulatedDeployment(model: "gpt-4o-mini", version: "2024-07-18", family: .chat)
    }

    /// Models with their current versions, as Azure's model catalogue lists them.
    public static let known: [SimulatedDeployment] = [
        SimulatedDeployment(model: "gpt-4o", version: "2024-11-20", family: .chat),
        SimulatedDeployment(model: "gpt-4o-mini", version: "2024-07-18", family: .chat),
        SimulatedDeployment(model: "gpt-4.1", version: "2025-04-14", family: .chat),
        SimulatedDeployment(model: "gpt-4.1-mini", version: "2025-04-14", family: .chat),
        SimulatedDeployment(model: "o1", version: "2024-12-17", family: .reasoning),
        SimulatedDeployment(model: "o3-mini", version: "2025-01-31", family: .reasoning),
        SimulatedDeployment(model: "o3", version: "2025-04-16", family: .reasoning),
        SimulatedDeployment(model: "o4-mini", version: "2025-04-16", family: .reasoning),
        SimulatedDeployment(model: "gpt-5", version: "2025-08-07", family: .reasoning),
        SimulatedDeployment(model: "gpt-5-mini", version: "2025-08-07", family: .reasoning),
        SimulatedDeployment(model: "text-embedding-3-small", version: "1", family: .embeddings),
        SimulatedDeployment(model: "text-embedding-3-large", version: "1", family: .embeddings),
        SimulatedDeployment(model: "text-embedding-ada-002", version: "2", family: .embeddings),
    ]

    /// The `model` field of answers: the model and its version for dated model versions
    /// (`gpt-4o-mini-2024-07-18`), the bare name for embedding models.
    public var answeredName: String {
        version.count == 10 && version.hasPrefix("20") ? "\(model)-\(version)" : model
    }
}
