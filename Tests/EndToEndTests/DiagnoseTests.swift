// `aoai-canary diagnose` through the binary: the question's case pinned, JSON for scripts, exit codes.
import Foundation
import Testing

/// The output with what changes from run to run (ports, times, durations) replaced by placeholders.
func normalised(_ text: String) -> String {
    var result = text
    for (pattern, replacement) in [
        (#"localhost:[0-9]+"#, "localhost:PORT"),
        (#"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"#, "TIME"),
        (#"in [0-9hms]+\)"#, "in DURATION)"),
        (#"clock skew -?[0-9] s"#, "clock skew N s"),
    ] {
        result = result.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
    }
    return result
}

@Suite(.serialized) struct DiagnoseTests {
    /// The question's case: the key works, the principal has no data-plane role.
    static let questionsCase = """
        no-role  http://no-role.openai.localhost:PORT/  (credential app)
          [PASS] 1. Scope and audience
                 asked for https://cognitiveservices.azure.com/.default
                 the token's aud is https://cognitiveservices.azure.com, as this endpoint wants
          [PASS] 2. Endpoint form
                 http://no-role.openai.localhost:PORT/: the resource's own host, no extra path
          [FAIL] 3. Principal and data action
                 object id dddddddd-0000-4000-8000-000000000004, app id cccccccc-0000-4000-8000-000000000003, tenant aaaaaaaa-0000-4000-8000-000000000001 \
        (from client_secret)
                 the Entra ID call fails: permission_denied: principal dddddddd-0000-4000-8000-000000000004 lacks the data action \
        Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action (HTTP 401 PermissionDenied)
                 fix: assign the role "Cognitive Services OpenAI User" to object id dddddddd-0000-4000-8000-000000000004 at the resource's scope; a new \
        assignment takes up to 10 minutes, and a fresh token is needed to see it
                   az role assignment create --role "Cognitive Services OpenAI User" --assignee-object-id dddddddd-0000-4000-8000-000000000004 \
        --assignee-principal-type ServicePrincipal --scope \
        /subscriptions/<subscription-id>/resourceGroups/<resource-group>/providers/Microsoft.CognitiveServices/accounts/<account-name>
          [PASS] 4. Token version and times
                 version 2.0
                 issued TIME
                 expires TIME (in DURATION)
                 clock skew N s (this host minus the service's Date header)
          [PASS] 5. Key and Azure CLI cross-check
                 the key call succeeds (HTTP 200)
                 Azure CLI: skipped (az not found on PATH)
                 conclusion: the resource answers other callers, so the problem is the configured credential (its identity, scope or role), not the resource

        Entra ID fails for 1 of 1 resources: no-role.

        """

    @Test func theQuestionsCaseGivesTheRoleToAssignAndExitsOne() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("no-role", world.addResource("no-role", grantRole: false)), ("healthy", world.addResource("healthy"))])
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await runBinary(["diagnose", "--config", path, "--resource", "no-role"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 1)
        #expect(normalised(result.stdout) == Self.questionsCase, "got:\n\(result.stdout)")
        #expect(!result.stdout.contains(Names.secret) && !result.stdout.contains(Names.key))
    }

    /// A throttled resource whose principal holds the role: a 429 proves nothing about
    /// permissions, so step 3 is not a failure and the resource is not among those whose Entra ID
    /// fails; the summary says it was not judged, and why.
    @Test func aThrottledResourceIsNotJudged() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        let throttled = world.addResource("throttled") { $0.throttleRetryAfterSeconds = 2 }
        try world.configText(resources: [("throttled", throttled), ("healthy", world.addResource("healthy"))])
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await runBinary(["diagnose", "--config", path], environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 0, "nothing is known to fail: \(result.stdout)")
        #expect(result.stdout.contains("  [SKIP] 3. Principal and data action\n"), "\(result.stdout)")
        #expect(result.stdout.contains("a throttled call proves nothing about permissions"), "\(result.stdout)")
        #expect(!result.stdout.contains("[FAIL] 3."), "\(result.stdout)")
        #expect(
            result.stdout.hasSuffix(
                "Entra ID works for 1 of 2 resources with an Entra ID canary. Not judged, their calls prove nothing about auth: throttled (throttled).\n"),
            "\(result.stdout)")
        let json = try await runBinary(["diagnose", "--config", path, "--resource", "throttled", "--format", "json"], environment: ["PATH": "/usr/bin:/bin"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let resource = try #require((document["resources"] as? [[String: Any]])?.first)
        #expect(document["ok"] as? Bool == true && resource["entra_id_unjudged"] as? String == "throttled", "\(json.stdout)")
        #expect(resource["entra_id_works"] is NSNull, "\(json.stdout)")
    }

    /// Each checklist is printed as soon as it is done, not all at once at the end: the first
    /// resource's is out while the second's endpoint still hangs. On a terminal a progress line
    /// on stderr names the resource being walked.
    @Test func eachChecklistIsPrintedWhenItIsDone() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        let hung = world.addResource("hung") { $0.hang = true }
        try world.configText(resources: [("healthy", world.addResource("healthy")), ("hung", hung)], timeout: "3s")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["diagnose", "--config", path], environment: ["PATH": "/usr/bin:/bin"])
        let first = await child.await(20, in: { child.stdout }) { $0.contains("[PASS] 5. Key and Azure CLI cross-check") ? $0 : nil }
        let stillRunning = child.process.isRunning
        #expect(first != nil, "\(child.stdout)")
        #expect(stillRunning, "the first checklist came out only at the end:\n\(child.stdout)")
        #expect(first?.contains("hung  http") == false)
        #expect(await child.wait(seconds: 30) != nil)
        #expect(child.stdout.contains("hung  http"), "\(child.stdout)\n\(child.stderr)")

        // Under a terminal (script(1) gives it one), the progress line comes and is cleared.
        let terminal = try Child(
            executable: "/usr/bin/script", ["-qec", "\(binaryPath) diagnose --config \(path) --resource healthy", "/dev/null"],
            environment: ["PATH": "/usr/bin:/bin"])
        #expect(await terminal.wait(seconds: 30) != nil)
        #expect(terminal.stdout.contains("checking healthy (1 of 1)...\r\u{1B}[K"), "\(terminal.stdout.debugDescription)")
    }

    @Test func healthyResourcesExitZeroAndJSONCarriesEveryStep() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("healthy", world.addResource("healthy"))]).write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await runBinary(["diagnose", "--config", path, "--format", "json"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == true)
        let resources = try #require(json["resources"] as? [[String: Any]])
        let steps = try #require(resources.first?["steps"] as? [[String: Any]])
        #expect(steps.map { $0["outcome"] as? String } == ["pass", "pass", "pass", "pass", "pass"])
        #expect(steps.map { $0["number"] as? Int } == [1, 2, 3, 4, 5])
    }

    @Test func theAzureCLICrossCheckTellsACredentialProblemFromAResourceProblem() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        // The configured credential asks for the wrong scope; the CLI's token (same app) works.
        try world.configText(resources: [("r", world.addResource("r"))], scope: "https://management.azure.com/.default").write(
            toFile: path, atomically: true, encoding: .utf8)
        let result = try await runBinary(
            ["diagnose", "--config", path],
            environment: [
                "PATH": e2eFixtures + "on-path:/usr/bin:/bin",
                "FAKE_AZ_AUTHORITY": world.simulator.authority, "FAKE_AZ_TENANT": Names.tenant,
                "FAKE_AZ_CLIENT_ID": Names.client, "FAKE_AZ_CLIENT_SECRET": Names.secret,
            ])
        #expect(result.status == 1)
        #expect(result.stdout.contains("[FAIL] 1. Scope and audience"))
        #expect(result.stdout.contains("fix: set scope: https://cognitiveservices.azure.com/.default on the credential"))
        #expect(result.stdout.contains("an Azure CLI token as object id \(Names.object) succeeds (HTTP 200)"), "\(result.stdout)")
        #expect(result.stdout.contains("conclusion: the resource answers other callers"))
    }
}
