// The managed-identity endpoints: IMDS (selection, errors, 410, injected failures, hangs), App Service and the Arc challenge.
import AzureSimulator
import Foundation
import HTTPClient
import Testing

/// The host's identities and calls to the three managed-identity endpoints.
enum Identities {
    static let system = SimulatedManagedIdentity(
        tenantID: World.tenant, clientID: "5a4d3c2b-1e0f-4a9b-8c7d-6e5f4a3b2c1d", objectID: "e1d2c3b4-a5f6-4789-9abc-def012345678",
        resourceID: "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/canary/providers/Microsoft.Compute/virtualMachines/canary-vm",
        userAssigned: false)
    static let user = SimulatedManagedIdentity(
        tenantID: World.tenant, clientID: "7c6b5a49-3827-4165-b4a3-92817f6e5d4c", objectID: "0a1b2c3d-4e5f-4607-8819-2a3b4c5d6e7f",
        resourceID:
            "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/canary/providers/Microsoft.ManagedIdentity/userAssignedIdentities/canary-mi",
        userAssigned: true)
    static let resource = "https://cognitiveservices.azure.com"
}

extension World {
    /// A world with both identities on the host.
    static func withIdentities(system: Bool = true) throws -> World {
        let world = try World()
        if system { world.simulator.addManagedIdentity(Identities.system) }
        world.simulator.addManagedIdentity(Identities.user)
        return world
    }

    /// `GET` on a managed-identity path with `resource` and extra query fields, all form-encoded.
    func managedIdentity(
        _ path: String, apiVersion: String, _ query: [(String, String)] = [], resource: String = Identities.resource,
        headers: [(name: String, value: String)], timeout: Double = 5
    ) async throws -> HTTPClientResponse {
        let fields = [("api-version", apiVersion), ("resource", resource)] + query
        return try await client.execute(
            HTTPClientRequest(url: "\(simulator.authority)\(path)?\(formEncode(fields))", headers: headers, timeoutSeconds: timeout))
    }

    /// An IMDS token request, with `Metadata: true` unless told otherwise.
    func imds(_ query: [(String, String)] = [], resource: String = Identities.resource, metadata: Bool = true, timeout: Double = 5) async throws
        -> HTTPClientResponse
    {
        try await managedIdentity(
            "/metadata/identity/oauth2/token", apiVersion: "2018-02-01", query, resource: resource,
            headers: metadata ? [("Metadata", "true")] : [], timeout: timeout)
    }

    /// An App Service token request with the given `X-IDENTITY-HEADER` (the simulator's by default).
    func appService(_ query: [(String, String)] = [], identityHeader: String? = nil) async throws -> HTTPClientResponse {
        try await managedIdentity(
            "/msi/token", apiVersion: "2019-08-01", query,
            headers: [("X-IDENTITY-HEADER", identityHeader ?? simulator.appServiceIdentityHeader)])
    }

    /// An Azure Arc token request, with `Authorization: Basic <secret>` when a secret is given.
    func arc(secret: String? = nil) async throws -> HTTPClientResponse {
        try await managedIdentity(
            "/arc/metadata/identity/oauth2/token", apiVersion: "2020-06-01",
            headers: [("Metadata", "true")] + (secret.map { [("Authorization", "Basic \($0)")] } ?? []))
    }
}

/// A body whose every member must be a string (decoding fails on a number).
func stringMembers(_ response: HTTPClientResponse) throws -> [String: String] {
    try JSONDecoder().decode([String: String].self, from: Data(response.body))
}

@Suite struct ManagedIdentityTests {
    @Test func imdsIssuesTheSystemAssignedTokenWithEveryFieldAString() async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        let response = try await world.imds()
        #expect(response.status == 200, "\(response.text)")
        #expect(response.text.hasPrefix(#"{"access_token":"eyJ"#))
        let body = try stringMembers(response)
        let now = Int(world.clock.now)
        #expect(Set(body.keys) == ["access_token", "refresh_token", "expires_in", "expires_on", "ext_expires_in", "not_before", "resource", "token_type"])
        #expect(body["refresh_token"] == "" && body["token_type"] == "Bearer" && body["resource"] == Identities.resource)
        #expect(body["expires_in"] == "86399" && body["ext_expires_in"] == "86399")
        #expect(body["expires_on"] == String(now + 86399) && body["not_before"] == String(now))

        let token = try claims(of: body["access_token"] ?? "")
        #expect(token.aud == Identities.resource)
        #expect(token.iss == "https://sts.windows.net/\(World.tenant)/" && token.tid == World.tenant)
        #expect(token.oid == Identities.system.objectID && token.appid == Identities.system.clientID)
        #expect(token.ver == "1.0" && token.xms_mirid == Identities.system.resourceID)
        #expect(token.iat == now && token.nbf == now && token.exp == now + 86399)

        // A scope instead of a resource still gets the resource as audience.
        let scoped = try stringMembers(try await world.imds(resource: Identities.resource + "/.default"))
        #expect(try claims(of: scoped["access_token"] ?? "").aud == Identities.resource)
        #expect(world.simulator.managedIdentityRequestCount == 2)
    }

    @Test(arguments: [
        ("client_id", Identities.user.clientID),
        ("object_id", Identities.user.objectID.uppercased()),
        ("msi_res_id", Identities.user.resourceID),
    ])
    func imdsPicksAUserAssignedIdentity(selector: String, value: String) async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        let body = try stringMembers(try await world.imds([(selector, value)]))
        let claims = try claims(of: body["access_token"] ?? "")
        #expect(claims.oid == Identities.user.objectID && claims.xms_mirid == Identities.user.resourceID)
    }

    @Test func imdsRefusesUnknownIdentitiesAndRequestsWithoutTheMetadataHeader() async throws {
        let world = try World.withIdentities(system: false)
        defer { world.simulator.stop() }
        let notFound = #"{"error":"invalid_request","error_description":"Identity not found"}"#
        let unknown = try await world.imds([("client_id", "ffffffff-0000-0000-0000-000000000000")])
        #expect(unknown.status == 400 && unknown.text == notFound)
        let noSystemIdentity = try await world.imds()
        #expect(noSystemIdentity.status == 400 && noSystemIdentity.text == notFound)
        let noHeader = try await world.imds([("client_id", Identities.user.clientID)], metadata: false)
        #expect(noHeader.status == 400)
        #expect(noHeader.text == #"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#)
    }

    @Test func imdsAnswers410WhileItIsUpdating() async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        world.simulator.updateManagedIdentityScenario { $0.goneUntil = world.clock.now + 70 }
        let gone = try await world.imds()
        #expect(gone.status == 410)
        #expect(JSONValueProbe.isJSONObject(gone.body))
        world.clock.advance(69)
        #expect(try await world.imds().status == 410)
        world.clock.advance(1)
        #expect(try await world.imds().status == 200)
    }

    @Test(arguments: [404, 429, 500, 503])
    func injectedFailuresLastForFailureCountRequests(status: Int) async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        world.simulator.updateManagedIdentityScenario {
            $0.failureStatus = status
            $0.failureCount = 2
        }
        for _ in 0..<2 {
            let failed = try await world.imds()
            #expect(failed.status == status)
            #expect(failed.text.hasPrefix(#"{"error":""#) && JSONValueProbe.isJSONObject(failed.body))
        }
        #expect(try await world.imds().status == 200)
        #expect(world.simulator.managedIdentityRequestCount == 3)
    }

    @Test func aHangingEndpointTimesOutAndStopReturnsPromptly() async throws {
        let world = try World.withIdentities()
        world.simulator.updateManagedIdentityScenario { $0.hang = true }
        do {
            _ = try await world.imds(timeout: 0.3)
            Issue.record("a hanging IMDS answered")
        } catch {
            #expect(error as? HTTPClientError == .timeout(seconds: 0.3))
        }
        let stopping = ContinuousClock.now
        world.simulator.stop()
        #expect(ContinuousClock.now - stopping < .seconds(2))
    }

    @Test func appServiceAnswersWithoutExpiresIn() async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        let response = try await world.appService([("mi_res_id", Identities.user.resourceID)])
        #expect(response.status == 200, "\(response.text)")
        let body = try stringMembers(response)
        #expect(Set(body.keys) == ["access_token", "expires_on", "resource", "token_type", "client_id"])
        #expect(body["client_id"] == Identities.user.clientID)
        #expect(body["expires_on"] == String(Int(world.clock.now) + 86399))
        #expect(try claims(of: body["access_token"] ?? "").oid == Identities.user.objectID)
        #expect(try stringMembers(try await world.appService())["client_id"] == Identities.system.clientID)
    }

    @Test func appServiceRefusesAWrongOrMissingIdentityHeader() async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        #expect(world.simulator.appServiceIdentityHeader.count >= 32)
        for header in ["wrong", ""] {
            let refused = try await world.appService(identityHeader: header)
            #expect(refused.status == 401)
            #expect(refused.text.hasPrefix(#"{"statusCode":401,"message":"#) && JSONValueProbe.isJSONObject(refused.body))
        }
    }

    @Test func arcChallengesWithAKeyFileAndAcceptsItsContent() async throws {
        let world = try World.withIdentities()
        let directory = world.simulator.arcKeyDirectory
        #expect(directory.hasPrefix("/") && FileManager.default.fileExists(atPath: directory))

        let challenge = try await world.arc()
        #expect(challenge.status == 401 && JSONValueProbe.isJSONObject(challenge.body))
        let realm = try #require(challenge.header("WWW-Authenticate"))
        #expect(realm.hasPrefix("Basic realm=\(directory)/") && realm.hasSuffix(".key"))
        let path = String(realm.dropFirst("Basic realm=".count))
        let secret = try String(contentsOfFile: path, encoding: .utf8)
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)

        let token = try await world.arc(secret: secret)
        #expect(token.status == 200, "\(token.text)")
        #expect(try claims(of: try stringMembers(token)["access_token"] ?? "").oid == Identities.system.objectID)

        let wrong = try await world.arc(secret: "not-the-secret")
        #expect(wrong.status == 401)
        let retry = try #require(wrong.header("WWW-Authenticate"))
        #expect(retry.hasSuffix(".key") && retry != realm)

        world.simulator.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func arcKeysGoToAGivenDirectoryAndExpireAfterFiveMinutes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("arc-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = TestClock()
        let simulator = try AzureSimulator(arcKeyDirectory: directory, now: { clock.now })
        simulator.addManagedIdentity(Identities.system)
        let world = World(simulator: simulator, clock: clock)

        let realm = try #require(try await world.arc().header("WWW-Authenticate"))
        #expect(realm.hasPrefix("Basic realm=\(directory)/"))
        let secret = try String(contentsOfFile: String(realm.dropFirst("Basic realm=".count)), encoding: .utf8)
        clock.advance(301)
        #expect(try await world.arc(secret: secret).status == 401)

        simulator.stop()
        #expect(FileManager.default.fileExists(atPath: directory))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func theDataPlaneChecksAManagedIdentitysRoleByItsObjectID() async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        let token = try stringMembers(try await world.imds([("client_id", Identities.user.clientID)]))["access_token"] ?? ""
        let denied = try await world.chat(.bearer(token))
        #expect(denied.status == 401 && denied.text == Expected.permissionDenied(Identities.user.objectID))
        world.simulator.grantRole(resource: World.resource, objectID: Identities.user.objectID)
        #expect(try await world.chat(.bearer(token)).status == 200)
    }

    @Test func theAdminAPIChangesTheScenario() async throws {
        let world = try World.withIdentities()
        defer { world.simulator.stop() }
        let gone = try await world.admin("POST", "managed-identity", #"{"goneUntilSecondsFromNow":60}"#)
        #expect(gone.status == 200 && gone.text.contains(#""goneUntil":\#(Int(world.clock.now) + 60)"#))
        #expect(try await world.imds().status == 410)

        _ = try await world.admin("POST", "managed-identity", #"{"goneUntilSecondsFromNow":null,"failureStatus":500,"failureCount":1}"#)
        #expect(try await world.imds().status == 500)
        #expect(try await world.imds().status == 200)

        let unknown = try await world.admin("POST", "managed-identity", #"{"failureStatus":429,"bogus":true}"#)
        #expect(unknown.status == 400 && unknown.text.contains("bogus"))
        #expect(try await world.imds().status == 200)
        let state = try await world.admin("GET", "state")
        #expect(state.text.contains(#""clientID":"\#(Identities.user.clientID)""#))
        #expect(state.text.contains(#""requests":4"#))
        #expect(!state.text.contains(world.simulator.appServiceIdentityHeader))
    }
}
