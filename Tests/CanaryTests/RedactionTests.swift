// Secrets taken back out of outside text: whole, echoed from their start, and JWT-shaped runs.
import Testing
@testable import Canary

@Suite struct RedactionTests {
    @Test func aSecretTheAgentHoldsIsRedactedWholeOrFromItsStart() {
        _ = Secret("redaction-test-key-0123456789abcdef")
        _ = Secret("short-8c")
        #expect(Redaction.clean("denied: api-key redaction-test-key-0123456789abcdef was wrong") == "denied: api-key <redacted> was wrong")
        #expect(Redaction.clean("got redaction-test-k… (cut)") == "got <redacted>… (cut)")
        #expect(Redaction.clean("secret short-8c!") == "secret <redacted>!")
        #expect(Redaction.clean("redaction-t is fine") == "redaction-t is fine")  // 11 characters of it: not an echo
    }

    @Test func jwtShapedRunsAreRedactedWholeOrCut() {
        #expect(Redaction.clean("Bearer eyJ0eXAiOiJKV1QiLCJhbGc") == "Bearer <redacted>")
        #expect(Redaction.clean("token eyJhbGciOi.eyJzdWIiOiIx.c2ln done") == "token <redacted> done")
        #expect(Redaction.clean("eyJ is just three letters") == "eyJ is just three letters")
    }

    @Test func textWithNothingToRedactIsUnchanged() {
        let text = "AADSTS7000215: Invalid client secret provided. Tenant 'contoso.onmicrosoft.com'."
        #expect(Redaction.clean(text) == text)
    }
}
