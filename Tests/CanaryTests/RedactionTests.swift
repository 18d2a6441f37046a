// Secrets taken back out of outside text: whole, echoed from their start, and JWT-shaped runs.
import CanaryTestSupport
import Testing

@testable import Config
@testable import Log
@testable import Support

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

    /// A private key the agent holds is remembered like any secret; its header is also the start
    /// of every PEM block. Secrets were taken out first, so the header went and the block's body
    /// was left for the PEM rule not to find.
    @Test func aPEMBlockGoesWholeWhenItsHeaderStartsARememberedSecret() {
        Redaction.remember("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
        #expect(Redaction.clean("key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBAD-other-body\n-----END PRIVATE KEY----- end") == "key: <redacted> end")
    }

    @Test func textWithNothingToRedactIsUnchanged() {
        let text = "AADSTS7000215: Invalid client secret provided. Tenant 'contoso.onmicrosoft.com'."
        #expect(Redaction.clean(text) == text)
    }

    /// Issue 17, item 14: names from outside (an account's) with NUL, TAB, DEL or bidirectional
    /// controls are escaped in logfmt and JSON lines, never written raw.
    @Test func logLinesEscapeControlAndBidirectionalCharacters() {
        let lines = Locked<[String]>([])
        let name = "acct\u{0}x\tA\u{202E}evil\u{2066}\u{7f}"
        for format in [LogFormat.logfmt, .json] {
            EventLogger(format: format, level: .debug) { line in lines.withLock { $0.append(line) } }.log(.info, "found \(name)", [("RESOURCE", name)])
        }
        for line in lines.value {
            #expect(
                !line.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7f || $0.value == 0x202e || $0.value == 0x2066 },
                "\(line.debugDescription)")
            #expect(
                line.contains("\\u0000") && line.contains("\\t") && line.contains("\\u202e") && line.contains("\\u2066") && line.contains("\\u007f"), "\(line)")
        }
    }
}
