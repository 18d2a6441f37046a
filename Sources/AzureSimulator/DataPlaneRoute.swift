// The data-plane operations the simulator serves, on the dated API and the v1 API.

/// One data-plane call: the operation, the deployment named in the path (dated chat and
/// embeddings), and whether it came on the v1 surface (`/openai/v1/...`, no `api-version`, the
/// deployment in the body's `model`).
struct DataPlaneRoute: Equatable {
    enum Operation: Equatable {
        case chatCompletions
        case embeddings
        case responses
        case models
    }

    var operation: Operation
    /// The deployment from the path; nil where the body's `model` names it, or for models.
    var pathDeployment: String?
    var v1: Bool

    /// The route for a method and a path (already without any `/resources/<name>` prefix); nil
    /// for anything the service would answer 404.
    init?(method: String, path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0].isEmpty, parts[1] == "openai" else { return nil }
        let rest = Array(parts.dropFirst(2))
        switch (method, rest.count) {
        case ("POST", 4) where rest[0] == "deployments" && !rest[1].isEmpty && rest[2] == "chat" && rest[3] == "completions":
            self.init(.chatCompletions, deployment: FormEncoding.pathSegment(Substring(rest[1])))
        case ("POST", 3) where rest[0] == "deployments" && !rest[1].isEmpty && rest[2] == "embeddings":
            self.init(.embeddings, deployment: FormEncoding.pathSegment(Substring(rest[1])))
        case ("POST", 1) where rest[0] == "responses":
            self.init(.responses)
        case ("GET", 1) where rest[0] == "models":
            self.init(.models)
        case ("POST", 3) where rest[0] == "v1" && rest[1] == "chat" && rest[2] == "completions":
            self.init(.chatCompletions, v1: true)
        case ("POST", 2) where rest[0] == "v1" && rest[1] == "embeddings":
            self.init(.embeddings, v1: true)
        case ("POST", 2) where rest[0] == "v1" && rest[1] == "responses":
            self.init(.responses, v1: true)
        case ("GET", 2) where rest[0] == "v1" && rest[1] == "models":
            self.init(.models, v1: true)
        default:
            return nil
        }
    }

    private init(_ operation: Operation, deployment: String? = nil, v1: Bool = false) {
        self.operation = operation
        self.pathDeployment = deployment
        self.v1 = v1
    }

    /// The RBAC data action the operation needs.
    var dataAction: String {
        switch operation {
        case .chatCompletions: return "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
        case .embeddings: return "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action"
        case .responses: return "Microsoft.CognitiveServices/accounts/OpenAI/responses/write"
        case .models: return "Microsoft.CognitiveServices/accounts/OpenAI/models/read"
        }
    }

    /// The operation as the PermissionDenied message names it.
    var operationText: String {
        switch (operation, v1) {
        case (.chatCompletions, false): return "POST /openai/deployments/{deployment-id}/chat/completions"
        case (.embeddings, false): return "POST /openai/deployments/{deployment-id}/embeddings"
        case (.responses, false): return "POST /openai/responses"
        case (.models, false): return "GET /openai/models"
        case (.chatCompletions, true): return "POST /openai/v1/chat/completions"
        case (.embeddings, true): return "POST /openai/v1/embeddings"
        case (.responses, true): return "POST /openai/v1/responses"
        case (.models, true): return "GET /openai/v1/models"
        }
    }

    /// The operation's name in `OperationNotSupported` messages.
    var operationName: String {
        switch operation {
        case .chatCompletions: return "chatCompletion"
        case .embeddings: return "embeddings"
        case .responses: return "responses"
        case .models: return "models"
        }
    }
}
