// Why the service refused a token: the claims of the token sent, read against the endpoint and the service's clock.
import Auth
import Config

/// Splits the service's generic 401 by what the token sent says, and gives tenant and permission
/// failures the token's evidence.
public enum TokenDiagnosis {
    /// The sharper verdict for a failure, given the token sent and the service's time.
    public static func refine(_ verdict: ProbeVerdict, claims: TokenClaims?, endpoint: String, serviceTime: Double) -> ProbeVerdict {
        guard case .failure(var failure) = verdict else { return verdict }
        let token = TokenEvidence(claims: claims, expectedAudience: EndpointAudience.expected(for: endpoint), serviceTime: serviceTime)
        switch failure.reason {
        case .tokenRejected:
            guard claims != nil else { return verdict }
            if let audience = token.audience, !EndpointAudience.same(audience, token.expectedAudience) {
                failure.reason = .tokenAudienceMismatch
            } else if let expiry = token.expiresAt, expiry <= serviceTime {
                failure.reason = .tokenExpired
            } else if let notBefore = token.notBefore, notBefore > serviceTime {
                failure.reason = .tokenNotYetValid
            } else {
                return verdict
            }
        case .wrongTenant, .permissionDenied:
            break
        default:
            return verdict
        }
        failure.evidence.token = token
        return .failure(failure)
    }
}
