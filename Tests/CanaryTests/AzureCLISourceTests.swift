// The Azure CLI credential against stand-in `az` scripts: both expiry fields, not logged in, timeout.
import HTTPClient
import Testing

@testable import Auth
@testable import Config
@testable import Support

@Suite struct AzureCLISourceTests {
    let directory = fixturesDirectory + "/az/"
    let client = HTTPClient()

    func acquire(_ script: String, timeout: Double = 10) async throws(TokenAcquisitionError) -> CachedToken {
        let source = AzureCLISource(
            settings: AzureCLISettings(azPath: directory + script, tenantID: nil, scope: CredentialDefaults.scope, timeoutSeconds: timeout))
        return try await source.acquireToken(AcquisitionContext(client: client, clock: SystemClock(), timeoutSeconds: 5))
    }

    @Test func expiresOnEpochIsPreferred() async throws {
        let now = SystemClock().wallSeconds
        let token = try await acquire("az-ok")
        #expect(abs(token.expiresOn - (now + 3000)) < 5)
        #expect(token.source == "azure_cli")
        #expect(token.claims?.tenantID == "cli-tenant")
    }

    @Test func olderCLIsGiveLocalTime() async throws {
        let now = SystemClock().wallSeconds
        let token = try await acquire("az-old")
        #expect(abs(token.expiresOn - (now + 3600)) < 5)
        #expect(token.claims == nil)  // an opaque token is still used
    }

    @Test func notLoggedInIsItsOwnError() async {
        await #expect(throws: TokenAcquisitionError.cliNotLoggedIn("ERROR: Please run 'az login' to setup account.")) {
            _ = try await acquire("az-not-logged-in")
        }
    }

    @Test func aHungCLIIsKilledAtTheTimeout() async {
        let start = SystemClock().monotonicSeconds
        await #expect {
            _ = try await acquire("az-slow", timeout: 0.5)
        } throws: { error in
            guard case .cliFailed(let detail) = error as? TokenAcquisitionError else { return false }
            return detail.contains("did not finish within 500ms")
        }
        // az-slow sleeps 30 s: ending well before that means it was killed (a loose bound, as
        // the test shares two cores with every other suite).
        #expect(SystemClock().monotonicSeconds - start < 20)
    }

    @Test func aMissingCLIIsReported() async {
        await #expect {
            _ = try await acquire("no-such-az")
        } throws: { error in
            guard case .cliFailed(let detail) = error as? TokenAcquisitionError else { return false }
            return detail.contains("No such file")
        }
    }

    @Test func theTenantIsPassedWhenSet() {
        let source = AzureCLISource(settings: AzureCLISettings(azPath: "az", tenantID: "t1", scope: "https://ai.azure.com/.default", timeoutSeconds: 1))
        #expect(source.arguments == ["account", "get-access-token", "--output", "json", "--resource", "https://ai.azure.com", "--tenant", "t1"])
    }

    @Test(arguments: [
        "2026-11-25 13:00:1e300", "2026-11-25 13:00:nan", "-2147483648-11-25 13:00:00", "2026-13-25 13:00:00",
        "2026-11-25 24:00:00", "2026-11-25 13:60:00", "2026-11-00 13:00:00", "2026-11-25 13:00:61",
    ])
    func outOfRangeLocalTimesAreRefusedNotTrapped(text: String) {
        #expect(AzureCLISource.parseLocalTime(text) == nil)
    }

    @Test func anInRangeLocalTimeParses() {
        #expect(AzureCLISource.parseLocalTime("2026-11-25 13:00:00.000000") != nil)
    }
}
