// Azure's built-in role definitions the simulated Resource Manager knows, with their real ids and
// permissions (Microsoft's "Azure built-in roles" pages; see /work/research notes in the README's
// azure-answers), and the role assignments it holds.

/// One built-in role: its id (the same in every cloud), name and one permission block.
public struct SimulatedRole: Sendable, Equatable {
    public var id: String
    public var name: String
    public var actions: [String]
    public var notActions: [String] = []
    public var dataActions: [String] = []
    public var notDataActions: [String] = []

    /// Owner, Contributor, Reader, Cognitive Services User, Cognitive Services OpenAI User and
    /// Contributor, Azure AI User and Azure AI Developer, as Microsoft publishes them.
    public static let builtIn: [SimulatedRole] = [
        SimulatedRole(id: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", name: "Owner", actions: ["*"]),
        SimulatedRole(
            id: "b24988ac-6180-42a0-ab88-20f7382dd24c", name: "Contributor", actions: ["*"],
            notActions: [
                "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
                "Microsoft.Blueprint/blueprintAssignments/write", "Microsoft.Blueprint/blueprintAssignments/delete",
                "Microsoft.Compute/galleries/share/action", "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete",
            ]),
        SimulatedRole(id: "acdd72a7-3385-48ef-bd42-f606fba81ae7", name: "Reader", actions: ["*/read"]),
        SimulatedRole(
            id: "a97b65f3-24c7-4388-baec-2e87135dc908", name: "Cognitive Services User",
            actions: [
                "Microsoft.CognitiveServices/*/read", "Microsoft.CognitiveServices/accounts/listkeys/action", "Microsoft.Insights/alertRules/read",
                "Microsoft.Insights/diagnosticSettings/read", "Microsoft.Insights/logDefinitions/read", "Microsoft.Insights/metricdefinitions/read",
                "Microsoft.Insights/metrics/read", "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/operations/read",
                "Microsoft.Resources/subscriptions/operationresults/read", "Microsoft.Resources/subscriptions/read",
                "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
            ],
            dataActions: ["Microsoft.CognitiveServices/*"]),
        SimulatedRole(
            id: "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", name: "Cognitive Services OpenAI User",
            actions: ["Microsoft.CognitiveServices/*/read", "Microsoft.Authorization/roleAssignments/read", "Microsoft.Authorization/roleDefinitions/read"],
            dataActions: [
                "Microsoft.CognitiveServices/accounts/OpenAI/*/read", "Microsoft.CognitiveServices/accounts/OpenAI/engines/completions/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/engines/search/action", "Microsoft.CognitiveServices/accounts/OpenAI/engines/generate/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/audio/action", "Microsoft.CognitiveServices/accounts/OpenAI/deployments/search/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/completions/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/realtime/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/extensions/chat/completions/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
                "Microsoft.CognitiveServices/accounts/OpenAI/images/generations/action", "Microsoft.CognitiveServices/accounts/OpenAI/assistants/*",
                "Microsoft.CognitiveServices/accounts/OpenAI/responses/*",
            ],
            notDataActions: ["Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"]),
        SimulatedRole(
            id: "a001fd3d-188f-4b5d-821b-7da978bf7442", name: "Cognitive Services OpenAI Contributor",
            actions: [
                "Microsoft.CognitiveServices/*/read", "Microsoft.CognitiveServices/accounts/deployments/write",
                "Microsoft.CognitiveServices/accounts/deployments/delete", "Microsoft.CognitiveServices/accounts/raiPolicies/read",
                "Microsoft.CognitiveServices/accounts/raiPolicies/write", "Microsoft.CognitiveServices/accounts/raiPolicies/delete",
                "Microsoft.CognitiveServices/accounts/commitmentplans/read", "Microsoft.CognitiveServices/accounts/commitmentplans/write",
                "Microsoft.CognitiveServices/accounts/commitmentplans/delete", "Microsoft.Authorization/roleAssignments/read",
                "Microsoft.Authorization/roleDefinitions/read",
            ],
            dataActions: ["Microsoft.CognitiveServices/accounts/OpenAI/*"]),
        SimulatedRole(
            id: "53ca6127-db72-4b80-b1b0-d745d6d5456d", name: "Azure AI User",
            actions: [
                "Microsoft.CognitiveServices/*/read", "Microsoft.CognitiveServices/accounts/listkeys/action", "Microsoft.Insights/alertRules/read",
                "Microsoft.Insights/diagnosticSettings/read", "Microsoft.Insights/logDefinitions/read", "Microsoft.Insights/metricdefinitions/read",
                "Microsoft.Insights/metrics/read", "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/operationresults/read", "Microsoft.Resources/subscriptions/read",
                "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
            ],
            dataActions: ["Microsoft.CognitiveServices/*"]),
        SimulatedRole(
            id: "64702f94-c441-49e6-a78b-ef80e0188fee", name: "Azure AI Developer",
            actions: [
                "Microsoft.MachineLearningServices/workspaces/*/read", "Microsoft.MachineLearningServices/workspaces/*/action",
                "Microsoft.MachineLearningServices/workspaces/*/delete", "Microsoft.MachineLearningServices/workspaces/*/write",
                "Microsoft.MachineLearningServices/locations/*/read", "Microsoft.Authorization/*/read", "Microsoft.Resources/deployments/*",
            ],
            notActions: [
                "Microsoft.MachineLearningServices/workspaces/delete", "Microsoft.MachineLearningServices/workspaces/write",
                "Microsoft.MachineLearningServices/workspaces/listKeys/action", "Microsoft.MachineLearningServices/workspaces/hubs/write",
                "Microsoft.MachineLearningServices/workspaces/hubs/delete", "Microsoft.MachineLearningServices/workspaces/featurestores/write",
                "Microsoft.MachineLearningServices/workspaces/featurestores/delete",
            ],
            dataActions: [
                "Microsoft.CognitiveServices/accounts/OpenAI/*", "Microsoft.CognitiveServices/accounts/SpeechServices/*",
                "Microsoft.CognitiveServices/accounts/ContentSafety/*",
            ]),
    ]

    public static let openAIUser = builtIn[4]

    /// A built-in role by id or by name (case-insensitively).
    public static func named(_ text: String) -> SimulatedRole? {
        builtIn.first { $0.id == text.lowercased() || $0.name.lowercased() == text.lowercased() }
    }

    /// Whether `pattern` (with `*` standing for any run of characters) matches `action`, without
    /// regard to case, as Azure RBAC compares them.
    static func matches(_ pattern: String, _ action: String) -> Bool {
        let pattern = Array(pattern.lowercased().utf8)
        let action = Array(action.lowercased().utf8)
        var (p, a, star, mark) = (0, 0, -1, 0)
        while a < action.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                mark = a
                p += 1
            } else if p < pattern.count, pattern[p] == action[a] {
                p += 1
                a += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                a = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// Whether the role allows a control-plane action.
    func allows(action: String) -> Bool {
        actions.contains { Self.matches($0, action) } && !notActions.contains { Self.matches($0, action) }
    }

    /// Whether the role allows a data action.
    func allows(dataAction: String) -> Bool {
        dataActions.contains { Self.matches($0, dataAction) } && !notDataActions.contains { Self.matches($0, dataAction) }
    }
}

/// Where a role is assigned, relative to an account: the account itself, its resource group or
/// its subscription. Roles above the account are Resource Manager's only (Reader, Owner): the
/// simulated data plane honours data roles assigned at the account.
public enum SimulatedRoleScope: String, Sendable {
    case account
    case resourceGroup
    case subscription
}

/// A role assignment in the simulated Resource Manager.
struct SimulatedRoleAssignment: Sendable, Equatable {
    var id: String
    var principalID: String
    var roleID: String
    /// `/subscriptions/...` down to the account, or a prefix of it.
    var scope: String
    var createdOn: Double
}
