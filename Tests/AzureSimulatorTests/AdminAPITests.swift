// The admin API under /_simulator/: state without secrets, scenario changes, role grants and revocations.
import AzureSimulator
import FoundationEssentials
import HTTPClient
import Testing

@Suite struct AdminAPITests {
    @Test func theStateListsEverythingButSecretsAndKeys() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let response = try await world.admin("GET", "state")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        let text = response.text
        #expect(text.contains(#""name":"canary-eastus""#))
        #expect(text.contains(#""clientID":"\#(World.clientID)""#))
        #expect(text.contains(#""endpoint":"\#(world.simulator.pathEndpoint(for: World.resource))""#))
        #expect(text.contains(#""hostEndpoint":"\#(world.simulator.endpoint(for: World.resource))""#))
        #expect(text.contains(#""objectID":"\#(World.objectID)","effectiveAt":"#))
        #expect(!text.contains(World.apiKey))
        #expect(!text.contains("s3cr3t"))
        #expect(JSONValueProbe.isJSONObject(response.body))
    }

    @Test func resourceScenariosRoundTrip() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let changed = try await world.admin("POST", "resources/\(World.resource)", #"{"networkDenied":true,"throttleRetryAfterSeconds":5,"delaySeconds":0}"#)
        #expect(changed.status == 200)
        #expect(changed.text.contains(#""networkDenied":true"#))
        #expect(changed.text.contains(#""throttleRetryAfterSeconds":5"#))
        #expect(try await world.chat(.key(World.apiKey)).status == 403)

        let cleared = try await world.admin("POST", "resources/\(World.resource)", #"{"networkDenied":false,"throttleRetryAfterSeconds":null}"#)
        #expect(cleared.text.contains(#""throttleRetryAfterSeconds":null"#))
        #expect(try await world.chat(.key(World.apiKey)).status == 200)

        let unknown = try await world.admin("POST", "resources/\(World.resource)", #"{"hang":true,"bogusFlag":1}"#)
        #expect(unknown.status == 400)
        #expect(unknown.text.contains("bogusFlag"))
        let wrongType = try await world.admin("POST", "resources/\(World.resource)", #"{"hang":"yes"}"#)
        #expect(wrongType.status == 400 && wrongType.text.contains("hang"))
        // A refused change changes nothing: the resource does not hang.
        #expect(try await world.chat(.key(World.apiKey), timeout: 2).status == 200)

        #expect(try await world.admin("POST", "resources/nope", "{}").status == 404)
        #expect(try await world.admin("POST", "resources/\(World.resource)", "[1]").status == 400)
        #expect(try await world.admin("GET", "nothing-here").status == 404)
    }

    @Test func applicationScenariosRoundTrip() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let changed = try await world.admin("POST", "applications/\(World.clientID)", #"{"tokenError":7000222,"tokenLifetimeSeconds":600}"#)
        #expect(changed.status == 200)
        let refused = try await world.requestToken()
        #expect(refused.status == 401 && refused.text.contains("AADSTS7000222"))

        _ = try await world.admin("POST", "applications/\(World.clientID)", #"{"tokenError":null}"#)
        let body = try JSONDecoder().decode(TokenBody.self, from: Data(try await world.requestToken().body))
        #expect(body.expires_in == 600)

        let unknown = try await world.admin("POST", "applications/\(World.clientID)", #"{"objectID":"x"}"#)
        #expect(unknown.status == 400 && unknown.text.contains("objectID"))
        // A rotated secret: the old one is refused, as when it is deleted from the application.
        #expect(try await world.admin("POST", "applications/\(World.clientID)", #"{"clientSecret":"rotated-secret-value"}"#).status == 200)
        let stale = try await world.requestToken()
        #expect(stale.status == 401 && stale.text.contains("AADSTS7000215"), "\(stale.text)")
        #expect(try await world.admin("POST", "applications/nobody", "{}").status == 404)
    }

    @Test func rolesAreGrantedAndRevoked() async throws {
        let world = try World(roleGranted: false)
        defer { world.simulator.stop() }
        let token = try await world.token()
        #expect(try await world.chat(.bearer(token)).status == 401)

        let granted = try await world.admin("POST", "roles/\(World.resource)", #"{"objectID":"\#(World.objectID)","effectiveAfterSeconds":0}"#)
        #expect(granted.status == 200)
        #expect(try await world.chat(.bearer(token)).status == 200)

        let revoked = try await world.admin("DELETE", "roles/\(World.resource)/\(World.objectID)")
        #expect(revoked.status == 200)
        #expect(try await world.chat(.bearer(token)).text == Expected.permissionDenied(World.objectID))

        let delayed = try await world.admin("POST", "roles/\(World.resource)", #"{"objectID":"\#(World.objectID)","effectiveAfterSeconds":300}"#)
        #expect(delayed.text.contains(#""effective":false"#))
        world.clock.advance(300)
        #expect(try await world.chat(.bearer(token)).status == 200)
    }

    @Test func copiesOfAResourceKeepItsKeyAndRoles() async throws {
        let world = try World()
        defer { world.simulator.stop() }
        let copied = try await world.admin("POST", "resources/\(World.resource)/copies", #"{"names":["copy-1","copy-2"]}"#)
        #expect(copied.status == 200 && copied.text == #"{"added":2}"#)
        let token = try await world.token()
        for name in ["copy-1", "copy-2"] {
            #expect(try await world.chat(.bearer(token), resource: name).status == 200)
            #expect(try await world.chat(.key(World.apiKey), resource: name).status == 200)
        }
        // Resource Manager shows the copied assignment at the copy's own scope.
        let management = try await world.token(scope: "https://management.azure.com/.default")
        let scope = "/subscriptions/\(SimulatedResource.defaultSubscription)/resourceGroups/rg-canary/providers/Microsoft.CognitiveServices/accounts/copy-2"
        let assignments = try await client.execute(
            HTTPClientRequest(
                method: "GET", url: "\(world.simulator.authority)\(scope)/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
                headers: [("Authorization", "Bearer \(management)")]))
        #expect(assignments.status == 200)
        #expect(assignments.text.contains("\(scope)/providers/Microsoft.Authorization/roleAssignments/"))

        let taken = try await world.admin("POST", "resources/\(World.resource)/copies", #"{"names":["copy-3","copy-1"]}"#)
        #expect(taken.status == 409 && taken.text.contains("copy-1"))
        #expect(try await world.chat(.key(World.apiKey), resource: "copy-3").status == 404)
        #expect(try await world.admin("POST", "resources/nothing/copies", #"{"names":["x"]}"#).status == 404)
        #expect(try await world.admin("POST", "resources/\(World.resource)/copies", #"{"count":2}"#).status == 400)
    }
}

/// Checks that a body parses as a JSON object.
enum JSONValueProbe {
    private struct AnyObject: Decodable {}
    static func isJSONObject(_ body: [UInt8]) -> Bool {
        (try? JSONDecoder().decode(AnyObject.self, from: Data(body))) != nil
    }
}
