// What Entra ID's directory (Microsoft Graph) holds of one configured credential, and what it
// says of it: which of the application's secrets or certificates is the configured one and when
// it expires, whether the service principal is enabled, which federated credential trusts the
// workload's token and, when none does, exactly what differs.
import Auth
import Config
import JSON
import Log
import Support

/// A password credential of an application: never its value, only its first three characters.
public struct DirectorySecret: Sendable, Equatable {
    public var hint: String
    public var keyID: String
    public var displayName: String?
    /// Unix time; nil when Graph gave none.
    public var expiresAt: Double?
}

/// A certificate credential of an application, by its SHA-1 thumbprint (uppercase hex).
public struct DirectoryCertificate: Sendable, Equatable {
    public var thumbprint: String
    public var displayName: String?
    public var expiresAt: Double?
}

/// A federated identity credential: tokens from `issuer` about `subject` for one of `audiences`
/// stand in for a secret.
public struct DirectoryFederatedCredential: Sendable, Equatable {
    public var name: String
    public var issuer: String
    public var subject: String
    public var audiences: [String]
}

/// A user-assigned managed identity, found by its client id through Resource Manager.
public struct DirectoryIdentity: Sendable, Equatable {
    public var armID: String
    public var name: String
    public var resourceGroup: String

    public init(armID: String, name: String, resourceGroup: String) {
        self.armID = armID
        self.name = name
        self.resourceGroup = resourceGroup
    }
}

/// What the configured credential presents, to be found among the directory's entries.
public enum PresentedCredential: Sendable, Equatable {
    /// A client secret, by its hint.
    case secret(hint: String)
    /// A certificate, by its SHA-1 thumbprint (uppercase hex).
    case certificate(thumbprint: String)
    /// A federated token, by its claims.
    case federatedToken(issuer: String, subject: String, audiences: [String])
    /// A managed identity: what the configuration asked the host for, and what its token says
    /// the host gave (`appid`, `oid`, `xms_mirid`).
    case managedIdentity(requested: ManagedIdentitySelector, clientID: String?, objectID: String?, resourceID: String?)
    /// Nothing the directory can be compared with (the token file cannot be read).
    case unknown(String)
}

/// One credential's facts from one pass.
public struct DirectoryFacts: Sendable, Equatable {
    /// The configured credential's name.
    public var credential: String
    /// The application (client) id the facts are about.
    public var appID: String
    public var readAt: Double
    public var presented: PresentedCredential
    public var displayName: String?
    /// Nil when the application could not be read.
    public var secrets: [DirectorySecret]?
    public var certificates: [DirectoryCertificate]?
    /// The service principal's `accountEnabled`; nil when it could not be read.
    public var servicePrincipalEnabled: Bool?
    /// Nil when not read (not a workload identity) or not readable.
    public var federatedCredentials: [DirectoryFederatedCredential]?
    /// The user-assigned managed identity the workload's token is exchanged for, when the client
    /// id is one (no application): its federated credentials come from Resource Manager.
    public var identity: DirectoryIdentity?
    /// What could not be read and why ("application: HTTP 403 Authorization_RequestDenied: ...").
    public var problems: [String] = []
    /// The problem Graph's `Request_ResourceNotFound` for the application made, when no
    /// application has the client id: a user-assigned managed identity's, whose federated
    /// credentials Resource Manager holds.
    public var applicationNotFound: String?
    /// Seconds Graph asked to wait (a 429's Retry-After).
    public var retryAfter: Double?

    public init(credential: String, appID: String, readAt: Double, presented: PresentedCredential) {
        self.credential = credential
        self.appID = appID
        self.readAt = readAt
        self.presented = presented
    }

    // MARK: The configured credential

    /// The application a credential is, when the directory can say something of it.
    public static func appID(_ settings: CredentialSettings) -> String? {
        switch settings {
        case .clientSecret(let settings): return settings.clientID
        case .clientCertificate(let settings): return settings.clientID
        case .workloadIdentity(let settings): return settings.clientID
        case .managedIdentity, .azureCLI, .chain: return nil
        }
    }

    /// What the credential presents, to be looked for among the application's entries: a
    /// secret's hint (never more of it), a certificate's thumbprint, a federated token's claims
    /// (read from its file now).
    public static func presented(_ settings: CredentialSettings) -> PresentedCredential {
        switch settings {
        case .clientSecret(let settings):
            return .secret(hint: String(settings.secret.exposedValue.prefix(3)))
        case .clientCertificate(let settings):
            return .certificate(thumbprint: hex(settings.certificate.sha1Thumbprint))
        case .workloadIdentity(let settings):
            do {
                let claims = try TokenClaims.decode(jwt: FileIO.readText(settings.tokenFile).trimmingTrailingWhitespace())
                guard let issuer = claims.issuer, let subject = claims.subject else { return .unknown("the token in \(settings.tokenFile) has no iss or sub") }
                return .federatedToken(issuer: issuer, subject: subject, audiences: claims.audiences)
            } catch {
                return .unknown("cannot read the token in \(settings.tokenFile): \(error)")
            }
        case .managedIdentity, .azureCLI, .chain:
            return .unknown("not an application credential")
        }
    }

    /// Bytes as uppercase hex, as thumbprints are written.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }

    // MARK: What the facts say

    /// The facts, one line each, for `diagnose` and the status page (at most 20 entries a list).
    public var lines: [String] {
        var lines: [String] = []
        let application = displayName.map { "\(appID) (\($0))" } ?? appID
        func date(_ time: Double?) -> String { time.map { Timestamp.iso8601(wallSeconds: $0) } ?? "no end date" }
        if let secrets {
            lines.append(
                "application \(application): secrets "
                    + (secrets.isEmpty ? "none" : secrets.prefix(20).map { "hinted \($0.hint) (until \(date($0.expiresAt)))" }.joined(separator: ", ")))
        }
        if let certificates, !certificates.isEmpty || { if case .certificate = presented { return true } else { return false } }() {
            lines.append(
                "application \(application): certificates "
                    + (certificates.isEmpty ? "none" : certificates.prefix(20).map { "\($0.thumbprint) (until \(date($0.expiresAt)))" }.joined(separator: ", "))
            )
        }
        switch (presented, registration) {
        case (.secret(let hint), .found(let expiresAt, _)): lines.append("the configured secret, hinted \(hint), is held until \(date(expiresAt))")
        case (.certificate(let thumbprint), .found(let expiresAt, _)):
            lines.append("the configured certificate, \(thumbprint), is held until \(date(expiresAt))")
        default: break
        }
        if let enabled = servicePrincipalEnabled { lines.append("service principal: " + (enabled ? "enabled" : "disabled (accountEnabled: false)")) }
        if case .managedIdentity(_, let clientID, let objectID, let resourceID) = presented {
            lines.append("the host gave " + Self.describeManagedIdentity(clientID: clientID, objectID: objectID, resourceID: resourceID))
        }
        if let identity {
            lines.append(
                "user-assigned identity \(identity.name) in resource group \(identity.resourceGroup) (client id \(appID)), found through Resource Manager")
        }
        if case .federatedToken(let issuer, let subject, let audiences) = presented {
            lines.append("the workload's token: issuer \(issuer), subject \(subject), audience \(Self.list(audiences))")
            for credential in (federatedCredentials ?? []).prefix(20) {
                let accepts = Self.accepts(credential, issuer: issuer, subject: subject, audiences: audiences)
                lines.append(
                    "federated credential \(credential.name): issuer \(credential.issuer), subject \(credential.subject), audience "
                        + "\(Self.list(credential.audiences))" + (accepts ? ": matches" : ""))
            }
        }
        return lines
    }

    /// The command line that fixes the worst finding, when there is one.
    public var fixCommand: String? {
        if servicePrincipalEnabled == false { return "az ad sp update --id \(appID) --set accountEnabled=true" }
        switch (presented, registration) {
        case (.secret, .missing): return "az ad app credential reset --id \(appID) --append --display-name aoai-canary"
        case (.certificate, .missing): return "az ad app credential reset --id \(appID) --append --cert @CERTIFICATE.pem"
        default: break
        }
        if case .federatedToken(let issuer, let subject, _) = presented, federatedMatch == false {
            if let identity {
                return "az identity federated-credential create --name aoai-canary --identity-name \(identity.name) --resource-group "
                    + "\(identity.resourceGroup) --issuer \(issuer) --subject \(subject) --audience api://AzureADTokenExchange"
            }
            return Self.fixCommand(appID: appID, issuer: issuer, subject: subject)
        }
        return nil
    }

    /// The application's entry for the configured secret or certificate: found (with its
    /// expiry), not among the application's, or unknown (nothing read, or not a secret or
    /// certificate). For a secret, several entries may share the hint: the one expiring first.
    public enum Registration: Sendable, Equatable {
        case found(expiresAt: Double?, kind: String)
        case missing
        case unknown
    }

    public var registration: Registration {
        switch presented {
        case .secret(let hint):
            guard let secrets else { return .unknown }
            let matching = secrets.filter { $0.hint == hint }
            guard !matching.isEmpty else { return .missing }
            return .found(expiresAt: matching.compactMap(\.expiresAt).min(), kind: "client_secret")
        case .certificate(let thumbprint):
            guard let certificates else { return .unknown }
            guard let match = certificates.first(where: { $0.thumbprint == thumbprint }) else { return .missing }
            return .found(expiresAt: match.expiresAt, kind: "certificate")
        case .federatedToken, .managedIdentity, .unknown:
            return .unknown
        }
    }

    /// When the host gave another managed identity than the one configured: what it gave.
    public var managedIdentityMismatch: String? {
        guard case .managedIdentity(let requested, let clientID, let objectID, let resourceID) = presented else { return nil }
        let given = Self.describeManagedIdentity(clientID: clientID, objectID: objectID, resourceID: resourceID)
        switch requested {
        case .systemAssigned:
            guard Self.isUserAssigned(resourceID) else { return nil }
            return "the host gave \(given), not its system-assigned identity: the configuration asks for the system-assigned one"
        case .clientID(let wanted):
            guard let clientID, clientID.lowercased() != wanted.lowercased() else { return nil }
            return "the host gave \(given), not the configured client id \(wanted)"
        case .objectID(let wanted):
            guard let objectID, objectID.lowercased() != wanted.lowercased() else { return nil }
            return "the host gave \(given), not the configured object id \(wanted)"
        case .resourceID(let wanted):
            guard let resourceID, resourceID.lowercased() != wanted.lowercased() else { return nil }
            return "the host gave \(given), not the configured resource id \(wanted)"
        }
    }

    static func isUserAssigned(_ resourceID: String?) -> Bool {
        resourceID?.lowercased().contains("/providers/microsoft.managedidentity/userassignedidentities/") == true
    }

    /// "the user-assigned identity NAME (client id …, object id …)" or "its system-assigned
    /// identity of RESOURCE (…)", from a managed identity token's claims.
    static func describeManagedIdentity(clientID: String?, objectID: String?, resourceID: String?) -> String {
        let ids = "client id \(clientID ?? "?"), object id \(objectID ?? "?")"
        if isUserAssigned(resourceID), let resourceID {
            return "the user-assigned identity \(resourceID.split(separator: "/").last.map(String.init) ?? resourceID) (\(ids))"
        }
        return "its system-assigned identity" + (resourceID.map { " of \($0)" } ?? "") + " (\(ids))"
    }

    /// 1 when a federated credential accepts the presented token, 0 when none does, nil when
    /// unknown (not a workload identity, or nothing read).
    public var federatedMatch: Bool? {
        guard case .federatedToken(let issuer, let subject, let audiences) = presented, let federatedCredentials else { return nil }
        return federatedCredentials.contains { Self.accepts($0, issuer: issuer, subject: subject, audiences: audiences) }
    }

    static func accepts(_ credential: DirectoryFederatedCredential, issuer: String, subject: String, audiences: [String]) -> Bool {
        credential.issuer == issuer && credential.subject == subject && !Set(credential.audiences).isDisjoint(with: audiences)
    }

    /// What the directory says against the configured credential, worst first, each with the
    /// command line that fixes it when there is one: for the log, the status page and the
    /// explanation of a token failure.
    public var findings: [String] {
        let sentences = findingSentences
        guard let first = sentences.first, let command = fixCommand else { return sentences }
        return [first + ". Fix: " + command] + sentences.dropFirst()
    }

    /// The same, without the command lines (`diagnose` shows the command apart).
    public var findingSentences: [String] {
        var found: [String] = []
        let application = displayName.map { "\(appID) (\($0))" } ?? appID
        if servicePrincipalEnabled == false {
            found.append("the service principal of application \(application) is disabled (accountEnabled: false): Entra ID issues it no token")
        }
        switch (presented, registration) {
        case (.secret(let hint), .missing):
            let held = (secrets ?? []).map(\.hint)
            found.append(
                (held.isEmpty ? "the application \(application) holds no secrets" : "the application \(application) holds secrets hinted \(Self.list(held))")
                    + "; the configured one, hinted \(hint), is not among them: it was deleted or belongs to another application")
        case (.certificate(let thumbprint), .missing):
            let held = (certificates ?? []).map(\.thumbprint)
            found.append(
                (held.isEmpty
                    ? "the application \(application) holds no certificates"
                    : "the application \(application) holds certificates with thumbprints \(Self.list(held))")
                    + "; the configured one, \(thumbprint), is not among them: it was removed or belongs to another application")
        default: break
        }
        if let mismatch = federatedMismatch { found.append(mismatch) }
        if let mismatch = managedIdentityMismatch { found.append(mismatch) }
        return found
    }

    /// When no federated credential accepts the token: the closest one and exactly what differs.
    public var federatedMismatch: String? {
        guard case .federatedToken(let issuer, let subject, let audiences) = presented, let federatedCredentials, federatedMatch == false else { return nil }
        let owner = identity.map { "user-assigned identity \($0.name)" } ?? "application \(appID)"
        guard !federatedCredentials.isEmpty else {
            return "the \(owner) has no federated credentials: none trusts tokens from \(issuer) about \(subject)"
        }
        // The closest: the most of issuer, subject and audience equal.
        func score(_ credential: DirectoryFederatedCredential) -> Int {
            (credential.issuer == issuer ? 2 : 0) + (credential.subject == subject ? 2 : 0) + (Set(credential.audiences).isDisjoint(with: audiences) ? 0 : 1)
        }
        let closest = federatedCredentials.max { score($0) < score($1) }!
        var differences: [String] = []
        if closest.issuer != issuer { differences.append("issuer is \(issuer); the federated credential \(closest.name) expects \(closest.issuer)") }
        if closest.subject != subject { differences.append("subject is \(subject); the federated credential \(closest.name) expects \(closest.subject)") }
        if Set(closest.audiences).isDisjoint(with: audiences) {
            differences.append(
                "audience is \(Self.list(audiences)); the federated credential \(closest.name) expects \(Self.list(closest.audiences))")
        }
        return "the workload's token matches no federated credential of \(owner): " + differences.joined(separator: "; ")
    }

    /// The `az` line that adds a federated credential trusting the presented token.
    static func fixCommand(appID: String, issuer: String, subject: String) -> String {
        let parameters = JSONValue.object([
            ("name", .string("aoai-canary")), ("issuer", .string(issuer)), ("subject", .string(subject)),
            ("audiences", .array([.string("api://AzureADTokenExchange")])),
        ]).rendered
        return "az ad app federated-credential create --id \(appID) --parameters '\(parameters)'"
    }

    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: return "none"
        case 1: return items[0]
        default: return items.dropLast().joined(separator: ", ") + " and " + items.last!
        }
    }
}
