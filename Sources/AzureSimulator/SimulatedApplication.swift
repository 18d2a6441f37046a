// An app registration (service principal) in the simulated Entra ID, with the faults its token endpoint can play.
import FoundationEssentials

/// An application the simulated Entra ID knows: its credentials, the tokens it gets and the
/// failures its token requests meet. Change it at run time with `AzureSimulator.updateApplication`.
public struct SimulatedApplication: Sendable, Equatable {
    /// The directory the application lives in.
    public var tenantID: String
    /// The application (client) id, sent as `client_id`.
    public var clientID: String
    /// The secret value that `client_secret` must carry.
    public var clientSecret: String
    /// The service principal's object id: the token's `oid` and `sub`, and what roles are granted to.
    public var objectID: String
    /// "1.0" issues `iss` https://sts.windows.net/{tid}/ with `appid`; "2.0" issues
    /// https://login.microsoftonline.com/{tid}/v2.0 with `azp`.
    public var tokenVersion: String = "2.0"
    /// `expires_in`, and the distance from `iat` to `exp`.
    public var tokenLifetimeSeconds: Int = 3599
    /// When set, the token response carries `refresh_in`.
    public var refreshInSeconds: Int? = nil
    /// An AADSTS code to answer every token request with once the application is found:
    /// 7000215, 7000222, 700016, 90002, 900023, 700024, 70021, 700211, 700212, 700213, 500011,
    /// 7000112, 53003; any other code gives a generic `invalid_request`.
    public var tokenError: Int? = nil
    /// How long the token endpoint waits before it answers.
    public var tokenEndpointDelaySeconds: Double = 0
    /// Hold token requests without answering until the simulator stops.
    public var tokenEndpointHang: Bool = false
    /// Answer token requests with this status (500, 503, ...) and an Entra-shaped JSON error.
    public var tokenEndpointStatus: Int? = nil
    /// A misbehaving token endpoint that quotes the posted form (client secret included) in the
    /// `error_description` of its errors.
    public var echoForm: Bool = false

    // What Microsoft Graph says of the application (`/v1.0/applications(appId='…')`) and its
    // service principal (`/v1.0/servicePrincipals(appId='…')`).

    /// The application object's id, which differs from its service principal's (`objectID`).
    public var applicationObjectID: String
    public var displayName: String = "aoai-canary"
    /// The `keyId` of the password credential holding `clientSecret`.
    public var secretKeyID: String
    /// When the secret expires (Unix time): its password credential's `endDateTime`.
    public var secretExpiresAt: Double = 1_893_456_000
    /// Password credentials the application holds beside `clientSecret`, by their hint (the
    /// first three characters), with their expiry.
    public var otherSecrets: [SimulatedPasswordCredential] = []
    /// The service principal's `accountEnabled`; a disabled one gets AADSTS7000112 from the
    /// token endpoint.
    public var servicePrincipalEnabled: Bool = true
    /// Microsoft Graph's application permissions (app roles) granted to the application, which
    /// its Graph tokens carry in `roles`: `Application.Read.All` lets it read applications.
    public var graphRoles: [String] = []

    /// An application that gets tokens normally; set the other fields to inject faults.
    public init(tenantID: String, clientID: String, clientSecret: String, objectID: String) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.objectID = objectID
        applicationObjectID = UUID().uuidString.lowercased()
        secretKeyID = UUID().uuidString.lowercased()
    }
}

/// A password credential as Microsoft Graph lists it: never its value, only a hint.
public struct SimulatedPasswordCredential: Sendable, Equatable {
    public var hint: String
    public var keyID: String
    public var displayName: String
    /// Unix time.
    public var expiresAt: Double

    public init(hint: String, keyID: String = UUID().uuidString.lowercased(), displayName: String = "", expiresAt: Double) {
        self.hint = hint
        self.keyID = keyID
        self.displayName = displayName
        self.expiresAt = expiresAt
    }
}
