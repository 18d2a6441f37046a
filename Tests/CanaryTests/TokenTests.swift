// Token claims, token responses and the refresh policy state machine.
import Testing

@testable import Auth
@testable import Config
@testable import Log

/// Builds an unsigned JWT with the given payload JSON.
func makeJWT(_ payload: String) -> String {
    func encode(_ text: String) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let bytes = Array(text.utf8)
        var output = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = (UInt32(chunk[0]) << 16) | (chunk.count > 1 ? UInt32(chunk[1]) << 8 : 0) | (chunk.count > 2 ? UInt32(chunk[2]) : 0)
            for position in 0..<(chunk.count + 1) {
                output.append(table[Int((value >> UInt32(18 - 6 * position)) & 63)])
            }
            index += 3
        }
        return output
    }
    return encode(#"{"typ":"JWT","alg":"RS256"}"#) + "." + encode(payload) + ".c2ln"
}

@Suite struct TokenTests {
    @Test func v1ClaimsDecode() throws {
        let jwt = makeJWT(
            #"{"aud":"https://cognitiveservices.azure.com","iss":"https://sts.windows.net/t1/","tid":"t1","oid":"o1","appid":"a1","ver":"1.0","#
                + #""iat":100,"nbf":100,"exp":3700,"roles":["r"],"xms_mirid":"/subscriptions/x"}"#
        )
        let claims = try TokenClaims.decode(jwt: jwt)
        #expect(claims.audience == "https://cognitiveservices.azure.com")
        #expect(claims.tenantID == "t1")
        #expect(claims.objectID == "o1")
        #expect(claims.appID == "a1")
        #expect(claims.version == "1.0")
        #expect(claims.expiresAt == 3700)
        #expect(claims.notBefore == 100)
        #expect(claims.roles == ["r"])
        #expect(claims.managedIdentityResourceID == "/subscriptions/x")
    }

    @Test func v2ClaimsUseAzpAndMayHaveAnAudienceList() throws {
        let claims = try TokenClaims.decode(jwt: makeJWT(#"{"aud":["https://ai.azure.com","x"],"azp":"a2","ver":"2.0","exp":"5"}"#))
        #expect(claims.audience == "https://ai.azure.com")
        #expect(claims.appID == "a2")
        #expect(claims.expiresAt == 5)
    }

    @Test(arguments: ["", "abc", "a.b", "a.!!!.c", "a.bm90IGpzb24.c", "a.WzFd.c"])
    func malformedTokensGiveErrorsNotCrashes(jwt: String) {
        #expect(throws: TokenDecodeError.self) { try TokenClaims.decode(jwt: jwt) }
    }

    @Test func tokenResponsesParseNumbersAndStrings() throws {
        let jwt = makeJWT(#"{"oid":"o"}"#)
        let token = try TokenResponse.parse(
            status: 200, body: Array(#"{"token_type":"Bearer","expires_in":"3599","refresh_in":1800,"access_token":"\#(jwt)"}"#.utf8), now: 1000)
        #expect(token.expiresOn == 4599)
        #expect(token.refreshOn == 2800)
        #expect(token.refreshAt == 2800)
        #expect(token.claims?.objectID == "o")
    }

    @Test func entraErrorsCarryTheirAADSTSCode() {
        let body =
            #"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent. Trace ID: "#
            + #"x","error_codes":[7000215]}"#
        #expect(
            throws: TokenAcquisitionError.rejected(
                status: 401, error: "invalid_client", aadsts: 7_000_215, summary: "Invalid client secret provided. Ensure the secret being sent.")
        ) {
            try TokenResponse.parse(status: 401, body: Array(body.utf8), now: 0)
        }
        let noCodes = #"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found. Check."}"#
        #expect(throws: TokenAcquisitionError.rejected(status: 400, error: "invalid_request", aadsts: 90002, summary: "Tenant 'x' not found. Check.")) {
            try TokenResponse.parse(status: 400, body: Array(noCodes.utf8), now: 0)
        }
    }

    @Test(arguments: [
        // The value the user needs holds dots: a summary never stops at the first one.
        (
            "AADSTS90002: Tenant 'contoso.onmicrosoft.com' not found. Check to make sure you have the correct tenant ID.\r\nTrace ID: a\r\nCorrelation ID: "
                + "b\r\nTimestamp: 2023-06-07 08:06:56Z",
            "Tenant 'contoso.onmicrosoft.com' not found. Check to make sure you have the correct tenant ID."
        ),
        (
            "AADSTS1002012: The provided value for scope https://cognitiveservices.azure.com is not valid. Client credential flows must have a scope value "
                + "with /.default suffixed. Trace ID: a Correlation ID: b Timestamp: 2024-02-01 00:00:00Z",
            "The provided value for scope https://cognitiveservices.azure.com is not valid. Client credential flows must have a scope value with /.default "
                + "suffixed."
        ),
        ("", "no description"),
        ("AADSTS: no code", "AADSTS: no code"),
    ])
    func summariesKeepTheWholeMessageWithoutTheTrace(description: String, summary: String) {
        #expect(TokenResponse.summary(of: description) == summary)
    }

    @Test func summariesAreBoundedAtACharacter() {
        let long = "AADSTS50058: " + String(repeating: "é.", count: 1000)
        let summary = TokenResponse.summary(of: long)
        #expect(summary.count == TokenResponse.summaryLimit + 1 && summary.hasSuffix("…"))
    }

    @Test(arguments: [
        (200, "<html>", "body is not JSON"),
        (200, "{}", "no access_token"),
        (200, #"{"access_token":"x"}"#, "no expires_in"),
        (200, #"{"access_token":"x","expires_in":0}"#, "expires immediately"),
        (200, #"{"access_token":"x","expires_in":-5}"#, "expires immediately"),
        (502, "", "empty body"),
    ])
    func badTokenResponsesAreBadResponses(status: Int, body: String, fragment: String) {
        #expect {
            try TokenResponse.parse(status: status, body: Array(body.utf8), now: 100)
        } throws: { error in
            guard case .badResponse(_, let detail) = error as? TokenAcquisitionError else { return false }
            return detail.contains(fragment)
        }
    }

    // MARK: refresh policy

    func token(expiresOn: Double, refreshOn: Double? = nil) -> CachedToken {
        CachedToken(accessToken: Secret("t"), expiresOn: expiresOn, refreshOn: refreshOn, acquiredAt: 0, claims: nil)
    }

    @Test func aFreshTokenIsUsedUntilFiveMinutesRemain() {
        var state = TokenCacheState()
        #expect(state.decide(now: 0) == .acquire)
        state.attemptStarted(now: 0)
        state.succeeded(token(expiresOn: 3600))
        #expect(state.decide(now: 3299) == .use(token(expiresOn: 3600)))
        #expect(state.decide(now: 3300) == .acquire)
    }

    @Test func refreshInComesFirstWhenEarlier() {
        var state = TokenCacheState()
        state.attemptStarted(now: 0)
        state.succeeded(token(expiresOn: 3600, refreshOn: 1800))
        #expect(state.decide(now: 1799) != .acquire)
        #expect(state.decide(now: 1800) == .acquire)
    }

    @Test func aFailedRefreshKeepsTheStillValidTokenAndWaitsBeforeTrying() {
        var state = TokenCacheState(retryInterval: 30)
        state.attemptStarted(now: 0)
        state.succeeded(token(expiresOn: 3600))
        state.attemptStarted(now: 3400)
        let failure = TokenAcquisitionError.rejected(status: 401, error: "invalid_client", aadsts: 7_000_222, summary: "expired")
        #expect(state.failed(failure, now: 3400) == .use(token(expiresOn: 3600)))
        #expect(state.decide(now: 3420) == .use(token(expiresOn: 3600)))  // within 30 s: no new attempt
        #expect(state.decide(now: 3430) == .acquire)
    }

    @Test func aTokenIsNeverUsedAtOrAfterItsExpiry() {
        var state = TokenCacheState(retryInterval: 30)
        state.attemptStarted(now: 0)
        state.succeeded(token(expiresOn: 100))  // shorter than the 300 s margin
        state.attemptStarted(now: 90)
        let failure = TokenAcquisitionError.transport(.timeout(seconds: 1))
        #expect(state.failed(failure, now: 90) == .use(token(expiresOn: 100)))
        for now in stride(from: 100.0, through: 119, by: 1) {
            guard case .fail(.expired) = state.decide(now: now) else {
                Issue.record("an expired token was offered at \(now)")
                return
            }
        }
        #expect(state.decide(now: 120) == .acquire)
    }

    @Test func withoutATokenAFailureIsRepeatedNotRetriedForThirtySeconds() {
        var state = TokenCacheState(retryInterval: 30)
        let failure = TokenAcquisitionError.rejected(status: 400, error: "invalid_request", aadsts: 90002, summary: "x")
        state.attemptStarted(now: 0)
        #expect(state.failed(failure, now: 0) == .fail(failure))
        #expect(state.decide(now: 29) == .fail(failure))
        #expect(state.decide(now: 30) == .acquire)
    }
}
