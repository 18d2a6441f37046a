// Reading one credential's facts from Microsoft Graph v1.0: the application by its appId (its
// secrets by hint, its certificates by thumbprint), its service principal (enabled or not) and,
// for a workload identity, its federated identity credentials, page by page.
import Config
import FoundationEssentials
import HTTPClient
import JSON

public struct DirectoryReader: Sendable {
    /// The Graph version every path is read at.
    public static let version = "v1.0"

    let reader: ControlPlaneReader

    /// `endpoint` is Graph's root without a version (`https://graph.microsoft.com`).
    public init(client: HTTPClient, endpoint: String, timeoutSeconds: Double, observe: @escaping @Sendable (String) -> Void = { _ in }) {
        reader = ControlPlaneReader(client: client, endpoint: endpoint, timeoutSeconds: timeoutSeconds, service: "Microsoft Graph", observe: observe)
    }

    /// What the directory holds of `appID`, read with a Graph `token`; federated credentials only
    /// for a workload identity's federated token.
    public func read(credential: String, appID: String, presented: PresentedCredential, token: String, now: Double) async -> DirectoryFacts {
        var facts = DirectoryFacts(credential: credential, appID: appID, readAt: now, presented: presented)
        let application = "/\(Self.version)/applications(appId='\(Self.quoted(appID))')"
        /// Records what could not be read; true when Graph throttled the read.
        func failed(_ part: String, _ problem: ControlPlaneProblem) -> Bool {
            var text = "\(part): \(problem.text)"
            if problem.code == "Authorization_RequestDenied" {
                text += " (the directory credential needs Microsoft Graph's Application.Read.All application permission, with admin consent)"
            }
            facts.problems.append(text)
            if problem.code == "Request_ResourceNotFound", part.hasPrefix("application ") { facts.applicationNotFound = text }
            if let wait = problem.retryAfter { facts.retryAfter = max(facts.retryAfter ?? 0, wait) }
            return problem.retryAfter != nil
        }
        // A managed identity has a service principal and no application.
        var isManagedIdentity = false
        if case .managedIdentity = presented { isManagedIdentity = true }
        if !isManagedIdentity {
            switch await get(application + "?$select=id,appId,displayName,passwordCredentials,keyCredentials", token: token) {
            case .success(let json):
                facts.displayName = json["displayName"]?.stringValue
                facts.secrets = Self.secrets(json)
                facts.certificates = Self.certificates(json)
            case .failure(let problem):
                if failed("application \(appID)", problem) { return facts }
            }
        }
        switch await get("/\(Self.version)/servicePrincipals(appId='\(Self.quoted(appID))')?$select=id,appId,accountEnabled", token: token) {
        case .success(let json): facts.servicePrincipalEnabled = json["accountEnabled"]?.boolValue
        case .failure(let problem):
            if failed("service principal of \(appID)", problem) { return facts }
        }
        // An application that could not be read has no federated credentials to read either.
        if case .federatedToken = presented, facts.secrets != nil {
            var link: String? = reader.endpoint + application + "/federatedIdentityCredentials"
            var credentials: [DirectoryFederatedCredential] = []
            // At most 50 pages: an application holds at most 20 federated credentials.
            var pages = 0
            while let next = link, pages < 50 {
                pages += 1
                switch await get(next, token: token) {
                case .success(let json):
                    credentials += Self.federatedCredentials(json)
                    link = json["@odata.nextLink"]?.stringValue.flatMap { ControlPlaneReader.nextPage($0, endpoint: reader.endpoint) }
                case .failure(let problem):
                    _ = failed("federated credentials of \(appID)", problem)
                    return facts
                }
            }
            facts.federatedCredentials = credentials
        }
        return facts
    }

    /// A workload identity whose client id is no application is a user-assigned managed
    /// identity's: its federated credentials are Resource Manager's, read through `arm`
    /// (`control_plane:`'s, with the token `armToken` gives) in `subscriptions`. Without `arm`,
    /// the application's not-found says where they would be read.
    public static func addIdentity(
        to facts: inout DirectoryFacts, subscriptions: [String], arm: ControlPlaneReader?, armToken: () async throws -> String
    ) async {
        guard case .federatedToken = facts.presented, facts.federatedCredentials == nil, let notFound = facts.applicationNotFound,
            let index = facts.problems.firstIndex(of: notFound)
        else { return }
        guard let arm else {
            facts.problems[index] +=
                " (a user-assigned managed identity has no application: its federated credentials are read through Resource Manager, with control_plane:)"
            return
        }
        let token: String
        do {
            token = try await armToken()
        } catch {
            facts.problems.append("no Resource Manager token to look for a user-assigned identity with client id \(facts.appID): \(error)")
            return
        }
        switch await readIdentity(clientID: facts.appID, subscriptions: subscriptions, arm: arm, token: token) {
        case .success(let (identity, credentials)):
            // No application, as expected of a managed identity: that is no problem.
            facts.problems.remove(at: index)
            facts.identity = identity
            facts.federatedCredentials = credentials
        case .failure(let problem):
            facts.problems.append("user-assigned identity with client id \(facts.appID): \(problem.text)")
        }
    }

    /// The subscriptions to look for a user-assigned identity in: those of the resources'
    /// `arm_id` and of `discovery:`, each once, in the file's order.
    public static func subscriptions(of config: CanaryConfig) -> [String] {
        var subscriptions: [String] = []
        var seen: Set<String> = []
        for subscription in config.resources.compactMap({ $0.armID?.subscription }) + config.discovery.map(\.subscription)
        where seen.insert(subscription.lowercased()).inserted {
            subscriptions.append(subscription)
        }
        return subscriptions
    }

    /// Microsoft.ManagedIdentity's version for user-assigned identities.
    public static let identityAPIVersion = "2024-11-30"

    /// A user-assigned managed identity found by its client id in `subscriptions` through
    /// Resource Manager (`arm`, with its token), and its federated credentials. Readable with
    /// Reader; no Graph permission is needed.
    public static func readIdentity(clientID: String, subscriptions: [String], arm: ControlPlaneReader, token: String) async -> Result<
        (DirectoryIdentity, [DirectoryFederatedCredential]), ControlPlaneProblem
    > {
        for subscription in subscriptions {
            var link: String? = "/subscriptions/\(subscription)/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
            var pages = 0
            while let next = link, pages < 200 {
                pages += 1
                let page: JSONValue
                switch await arm.get(next, api: identityAPIVersion, token: token) {
                case .success(let json): page = json
                case .failure(let problem): return .failure(problem)
                }
                if let identity = identity(in: page, clientID: clientID) {
                    var credentials: [DirectoryFederatedCredential] = []
                    var credentialLink: String? = identity.armID + "/federatedIdentityCredentials"
                    var credentialPages = 0
                    while let next = credentialLink, credentialPages < 50 {
                        credentialPages += 1
                        switch await arm.get(next, api: identityAPIVersion, token: token) {
                        case .success(let json):
                            credentials += identityCredentials(json)
                            credentialLink = json["nextLink"]?.stringValue.flatMap { ControlPlaneReader.nextPage($0, endpoint: arm.endpoint) }
                        case .failure(let problem): return .failure(problem)
                        }
                    }
                    return .success((identity, credentials))
                }
                link = page["nextLink"]?.stringValue.flatMap { ControlPlaneReader.nextPage($0, endpoint: arm.endpoint) }
            }
        }
        return .failure(
            ControlPlaneProblem(
                text: "no user-assigned identity with client id \(clientID) in subscription\(subscriptions.count == 1 ? "" : "s") "
                    + (subscriptions.isEmpty ? "(none known: give resources an arm_id, or discovery a subscription)" : subscriptions.joined(separator: ", "))))
    }

    private func get(_ pathOrURL: String, token: String) async -> Result<JSONValue, ControlPlaneProblem> {
        // A whole URL on the endpoint: ControlPlaneReader adds no api-version to one.
        let url = pathOrURL.hasPrefix("/") ? reader.endpoint + pathOrURL : pathOrURL
        return await reader.get(url, api: "", token: token)
    }

    /// An appId inside `'…'`: a quote doubled, as OData escapes it.
    static func quoted(_ text: String) -> String {
        text.replacing("'", with: "''")
    }

    // MARK: Graph's shapes

    static func secrets(_ application: JSONValue) -> [DirectorySecret] {
        (application["passwordCredentials"]?.arrayValue ?? []).compactMap { entry in
            guard let hint = entry["hint"]?.stringValue else { return nil }
            return DirectorySecret(
                hint: hint, keyID: entry["keyId"]?.stringValue ?? "", displayName: entry["displayName"]?.stringValue,
                expiresAt: entry["endDateTime"]?.stringValue.flatMap(ControlPlaneReader.timestamp))
        }
    }

    static func certificates(_ application: JSONValue) -> [DirectoryCertificate] {
        (application["keyCredentials"]?.arrayValue ?? []).compactMap { entry in
            guard entry["type"]?.stringValue != "Symmetric", let identifier = entry["customKeyIdentifier"]?.stringValue,
                let thumbprint = thumbprint(customKeyIdentifier: identifier)
            else { return nil }
            return DirectoryCertificate(
                thumbprint: thumbprint, displayName: entry["displayName"]?.stringValue,
                expiresAt: entry["endDateTime"]?.stringValue.flatMap(ControlPlaneReader.timestamp))
        }
    }

    /// A keyCredential's `customKeyIdentifier` as an uppercase hex SHA-1 thumbprint. Graph fills
    /// it with the thumbprint's 20 bytes, base64; a client that set it may have sent the 40-character
    /// hex thumbprint itself, which Graph hands back as it was.
    static func thumbprint(customKeyIdentifier text: String) -> String? {
        let hexDigits = Set("0123456789abcdefABCDEF")
        if text.count == 40, text.allSatisfy({ hexDigits.contains($0) }) { return text.uppercased() }
        guard let bytes = Data(base64Encoded: text), bytes.count == 20 else { return nil }
        return DirectoryFacts.hex(bytes)
    }

    /// The user-assigned identity with `clientID` on a page of Resource Manager's listing.
    static func identity(in page: JSONValue, clientID: String) -> DirectoryIdentity? {
        for item in page["value"]?.arrayValue ?? [] where item["properties"]?["clientId"]?.stringValue?.lowercased() == clientID.lowercased() {
            guard let id = item["id"]?.stringValue, let name = item["name"]?.stringValue else { continue }
            let parts = id.split(separator: "/").map(String.init)
            let group = parts.firstIndex { $0.lowercased() == "resourcegroups" }.flatMap { $0 + 1 < parts.count ? parts[$0 + 1] : nil } ?? "?"
            return DirectoryIdentity(armID: id, name: name, resourceGroup: group)
        }
        return nil
    }

    /// A page of a user-assigned identity's federated credentials (Resource Manager's shape:
    /// each under `properties`).
    static func identityCredentials(_ page: JSONValue) -> [DirectoryFederatedCredential] {
        (page["value"]?.arrayValue ?? []).compactMap { entry in
            guard let properties = entry["properties"], let issuer = properties["issuer"]?.stringValue, let subject = properties["subject"]?.stringValue
            else { return nil }
            return DirectoryFederatedCredential(
                name: entry["name"]?.stringValue ?? "", issuer: issuer, subject: subject,
                audiences: (properties["audiences"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
    }

    static func federatedCredentials(_ page: JSONValue) -> [DirectoryFederatedCredential] {
        (page["value"]?.arrayValue ?? []).compactMap { entry in
            guard let issuer = entry["issuer"]?.stringValue, let subject = entry["subject"]?.stringValue else { return nil }
            return DirectoryFederatedCredential(
                name: entry["name"]?.stringValue ?? "", issuer: issuer, subject: subject,
                audiences: (entry["audiences"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
    }
}
