// The simulated Microsoft Graph over HTTP through the real client: applications, service
// principals and federated identity credentials by appId, their shapes, paging and errors.
import AzureSimulator
import Crypto
import FoundationEssentials
import HTTPClient
import JSON
import Testing

@Suite struct GraphTests {
    static let graphScope = "https://graph.microsoft.com/.default"
    static let certificates = String(#filePath.dropLast("AzureSimulatorTests/GraphTests.swift".count)) + "CanaryTests/Fixtures/certs/"

    /// A world whose application may read applications, and a Graph token for it.
    static func reader() async throws -> (World, String) {
        let world = try World()
        world.simulator.updateApplication(clientID: World.clientID) { $0.graphRoles = ["Application.Read.All"] }
        return (world, try await world.token(scope: graphScope))
    }

    static func get(_ world: World, _ path: String, token: String) async throws -> (status: Int, body: JSONValue?, response: HTTPClientResponse) {
        let response = try await client.execute(
            HTTPClientRequest(
                method: "GET", url: world.simulator.authority + path, headers: [("Authorization", "Bearer \(token)")], body: [], timeoutSeconds: 5))
        return (response.status, JSONValue.parse(response.body), response)
    }

    @Test func anApplicationByAppIDListsItsSecretsByHintAndItsCertificatesByThumbprint() async throws {
        let (world, token) = try await Self.reader()
        let pem = try Array(Data(contentsOf: URL(fileURLWithPath: Self.certificates + "app.pem")))
        try world.simulator.addCertificate(clientID: World.clientID, certificatePEM: pem)
        world.simulator.updateApplication(clientID: World.clientID) {
            $0.secretExpiresAt = 1_900_000_000
            $0.otherSecrets = [SimulatedPasswordCredential(hint: "xyz", expiresAt: 1_800_000_000)]
        }
        let (status, body, response) = try await Self.get(world, "/v1.0/applications(appId='\(World.clientID)')", token: token)
        #expect(status == 200)
        #expect(response.headers.contains { $0.name.lowercased() == "request-id" } && response.headers.contains { $0.name == "OData-Version" })
        let app = try #require(body)
        #expect(app["@odata.context"]?.stringValue?.hasSuffix("/v1.0/$metadata#applications/$entity") == true)
        #expect(app["appId"]?.stringValue == World.clientID && app["id"]?.stringValue != World.objectID)
        let passwords = try #require(app["passwordCredentials"]?.arrayValue)
        #expect(passwords.map { $0["hint"]?.stringValue } == [String(World.secret.prefix(3)), "xyz"])
        #expect(passwords.first?["endDateTime"]?.stringValue == "2030-03-17T17:46:40Z")
        #expect(passwords.allSatisfy { $0["secretText"]?.rendered == "null" && $0["keyId"]?.stringValue?.count == 36 })
        #expect(!String(decoding: response.body, as: UTF8.self).contains(World.secret), "the secret's value never leaves the directory")
        let keys = try #require(app["keyCredentials"]?.arrayValue)
        let thumbprint = try Certificate(pem: pem).sha1Thumbprint
        #expect(keys.count == 1 && keys.first?["customKeyIdentifier"]?.stringValue == Data(thumbprint).base64EncodedString())
        #expect(keys.first?["type"]?.stringValue == "AsymmetricX509Cert" && keys.first?["endDateTime"]?.stringValue?.hasSuffix("Z") == true)
    }

    @Test func aServicePrincipalSaysWhetherItIsEnabledAndADisabledOneGetsNoToken() async throws {
        let (world, token) = try await Self.reader()
        var (status, body, _) = try await Self.get(world, "/v1.0/servicePrincipals(appId='\(World.clientID)')", token: token)
        #expect(status == 200 && body?["accountEnabled"]?.rendered == "true" && body?["id"]?.stringValue == World.objectID)
        world.simulator.updateApplication(clientID: World.clientID) { $0.servicePrincipalEnabled = false }
        (status, body, _) = try await Self.get(world, "/v1.0/servicePrincipals(appId='\(World.clientID)')", token: token)
        #expect(status == 200 && body?["accountEnabled"]?.rendered == "false")
        let refused = try await world.requestToken()
        let text = String(decoding: refused.body, as: UTF8.self)
        #expect(refused.status == 400 && text.contains("AADSTS7000112") && text.contains("is disabled"), "\(text)")
    }

    @Test func federatedCredentialsAreListedAndPaged() async throws {
        let (world, token) = try await Self.reader()
        for index in 1...3 {
            world.simulator.addFederatedCredential(
                clientID: World.clientID, issuer: "https://oidc.example/\(index)", subject: "system:serviceaccount:ns:sa\(index)", name: "aks-\(index)")
        }
        world.simulator.setGraphPageSize(2)
        var path: String? = "/v1.0/applications(appId='\(World.clientID)')/federatedIdentityCredentials"
        var names: [String] = []
        var pages = 0
        while let next = path {
            let (status, body, _) = try await Self.get(world, next, token: token)
            #expect(status == 200)
            let page = try #require(body)
            names += page["value"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(page["value"]?.arrayValue?.first?["audiences"]?.rendered == #"["api://AzureADTokenExchange"]"#)
            path = page["@odata.nextLink"]?.stringValue.map { String($0.dropFirst(world.simulator.authority.count)) }
            pages += 1
        }
        #expect(names == ["aks-1", "aks-2", "aks-3"] && pages == 2)
    }

    @Test func graphRefusesAsGraphDoes() async throws {
        let (world, token) = try await Self.reader()
        // No Application.Read.All: 403 Authorization_RequestDenied, in Graph's error shape.
        let plain = try World()
        let unprivileged = try await plain.token(scope: Self.graphScope)
        let (status, body, _) = try await Self.get(plain, "/v1.0/applications(appId='\(World.clientID)')", token: unprivileged)
        #expect(status == 403 && body?["error"]?["code"]?.stringValue == "Authorization_RequestDenied")
        #expect(body?["error"]?["message"]?.stringValue == "Insufficient privileges to complete the operation.")
        let inner = body?["error"]?["innerError"]
        #expect(inner?["request-id"]?.stringValue?.count == 36 && inner?["date"]?.stringValue?.hasSuffix("Z") == false)
        // A token for another audience.
        let cognitive = try await world.token()
        #expect(
            try await Self.get(world, "/v1.0/applications(appId='\(World.clientID)')", token: cognitive).body?["error"]?["code"]?.stringValue
                == "InvalidAuthenticationToken")
        // An unknown application.
        let missing = try await Self.get(world, "/v1.0/applications(appId='00000000-0000-0000-0000-000000000001')", token: token)
        #expect(missing.status == 404 && missing.body?["error"]?["code"]?.stringValue == "Request_ResourceNotFound")
        // Throttled, then down, then back.
        world.simulator.setGraphStatus(429)
        let throttled = try await Self.get(world, "/v1.0/servicePrincipals(appId='\(World.clientID)')", token: token)
        #expect(throttled.status == 429 && throttled.response.headers.first { $0.name == "Retry-After" }?.value == "7")
        world.simulator.setGraphStatus(503)
        #expect(try await Self.get(world, "/v1.0/servicePrincipals(appId='\(World.clientID)')", token: token).status == 503)
        world.simulator.setGraphStatus(nil)
        #expect(try await Self.get(world, "/v1.0/servicePrincipals(appId='\(World.clientID)')", token: token).status == 200)
    }
}
