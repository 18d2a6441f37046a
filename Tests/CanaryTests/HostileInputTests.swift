// Inputs from the outside world that once could trap: huge or non-finite numbers in headers,
// token responses and claims, overflowing durations, secrets pasted where names belong.
import HTTPServer
import JSON
import Testing

@testable import Auth
@testable import Config
@testable import Log
@testable import Probe
@testable import Support

@Suite struct HostileInputTests {
    @Test(arguments: [
        "Mon, 01 Jan 99999999999999999 00:00:00 GMT", "Mon, 99999999999 Jan 2026 00:00:00 GMT", "Mon, 00 Jan 2026 00:00:00 GMT",
        "Mon, 01 Jan 1969 00:00:00 GMT",
    ])
    func absurdDatesAreNotDates(text: String) {
        #expect(HTTPDate.parse(text) == nil)
    }

    @Test(arguments: ["nan", "inf", "-inf", "1e400"])
    func nonFiniteNumbersAreNotNumbers(text: String) {
        #expect(JSONValue.string(text).numberValue == nil)
    }

    @Test(arguments: [
        #"{"access_token":"x","expires_in":"nan"}"#, #"{"access_token":"x","expires_in":"1e400"}"#,
        #"{"access_token":"x","expires_in":"1e300"}"#, #"{"access_token":"x","expires_on":"1e300"}"#,
    ])
    func absurdLifetimesAreBadResponses(body: String) {
        #expect {
            try TokenResponse.parse(status: 200, body: Array(body.utf8), now: 1_800_000_000)
        } throws: { error in
            if case .badResponse = error as? TokenAcquisitionError { return true }
            return false
        }
    }

    @Test func hugeErrorCodesDoNotTrap() {
        let body = #"{"error":"invalid_client","error_description":"x","error_codes":[1e20]}"#
        #expect(throws: TokenAcquisitionError.self) { try TokenResponse.parse(status: 401, body: Array(body.utf8), now: 0) }
    }

    @Test func absurdClaimsStillGiveAVerdict() {
        let claims = TokenClaims(audience: "https://cognitiveservices.azure.com", notBefore: 1e300, expiresAt: 1e300, roles: [])
        let verdict = TokenDiagnosis.refine(
            .failure(.tokenRejected, Evidence(httpStatus: 401)), claims: claims, endpoint: "https://a.openai.azure.com/", serviceTime: 1_800_000_000)
        #expect(verdict.reason == .tokenNotYetValid)
        #expect(Timestamp.iso8601(wallSeconds: 1e300) == "(out of range)")
        #expect(Timestamp.iso8601(wallSeconds: .nan) == "(out of range)")
    }

    @Test(arguments: ["100000000000d1000000000000h", "9223372036854775807ms1ms", "106751991167301d"])
    func overflowingDurationsAreRejected(text: String) {
        #expect(PromDuration.parse(text) == nil)
    }

    @Test func secretsPastedWhereNamesBelongAreNotRepeated() {
        let key = "0123456789abcdef0123456789abcdef"
        let secret = "Abc8Q~xyz.DEFghi_jklMNOpqr-stu"
        let text = """
            credentials:
              app:
                type: client_secret
                tenant_id: t.example
                client_id: c
                client_secret_file: \(secret)
            resources:
              - name: r
                endpoint: https://r.openai.azure.com/
                probe: models
                api_key_env: \(key)
                credential: app
            """
        #expect {
            _ = try ConfigLoader.decode(text, file: "pasted.yaml", environment: ConfigEnvironment(variables: [:], configDirectory: "/nonexistent"))
        } throws: { error in
            let message = "\(error)"
            return !message.contains(key) && !message.contains(secret) && message.contains("api_key_env: must name an environment variable")
        }
    }

    @Test func aKeyCallsRefusalIsAboutTheKeyWhateverTheBody() {
        let body = Array(
            (#"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or "#
                + #"have expired."}"#).utf8)
        #expect(ResponseClassifier.classify(status: 401, body: body, headers: [], auth: .apiKey).reason == .invalidAPIKey)
        let tenant = Array(#"{"error":{"code":"Tenant provided in token does not match resource token","message":"x"}}"#.utf8)
        // A key call's 400 is about the request, never about a token it did not send.
        #expect(ResponseClassifier.classify(status: 400, body: tenant, headers: [], auth: .apiKey).reason == .requestRejected)
        for auth in AuthMode.allCases {
            for status in [400, 401, 403] {
                for sample in [
                    body, tenant, Array(#"{"error":{"code":"PermissionDenied","message":"x"}}"#.utf8),
                    Array(#"{"error":{"code":"AuthenticationTypeDisabled","message":"x"}}"#.utf8),
                ] {
                    let reason = ResponseClassifier.classify(status: status, body: sample, headers: [], auth: auth).reason
                    #expect(
                        reason.map { FailureReason.possible(for: auth).contains($0) } ?? true,
                        "\(auth) \(status) gave \(String(describing: reason)), a series that does not exist")
                }
            }
        }
    }
}
