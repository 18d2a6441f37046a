// The v2.0 token endpoint that client secrets, certificates and federated tokens all post to.
import HTTPClient
import Support

/// `POST {authority}/{tenant}/oauth2/v2.0/token` with a form, as AZURE_AUTH_FACTS.md §1 describes.
struct EntraTokenEndpoint: Sendable {
    var authority: String
    var tenantID: String

    var url: String { "\(authority)/\(formEncode(tenantID))/oauth2/v2.0/token" }

    /// Posts the client credentials grant with `credential` (secret or assertion fields) and parses the answer.
    func requestToken(clientID: String, scope: String, credential: [(String, String)], source: String, context: AcquisitionContext)
        async throws(TokenAcquisitionError) -> CachedToken
    {
        let fields = [("grant_type", "client_credentials"), ("client_id", clientID)] + credential + [("scope", scope)]
        let form = fields.map { "\($0.0)=\(formEncode($0.1))" }.joined(separator: "&")
        let request = HTTPClientRequest(
            method: "POST", url: url,
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
            body: Array(form.utf8), timeoutSeconds: context.timeoutSeconds)
        let now = context.clock.wallSeconds
        let response: HTTPClientResponse
        do {
            response = try await context.client.execute(request)
        } catch {
            throw .transport(error)
        }
        var token = try TokenResponse.parse(status: response.status, body: response.body, now: now)
        token.source = source
        return token
    }

    /// The assertion fields that replace `client_secret`.
    static func assertion(_ jwt: String) -> [(String, String)] {
        [("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", jwt)]
    }
}
