// Client assertions at the token endpoint: certificate-signed JWTs (RS256, PS256) and federated workload-identity tokens.
import AzureSimulator
import Crypto
import Foundation
import HTTPClient
import Testing

/// The test certificates of Tests/CanaryTests/Fixtures/certs.
enum Certificates {
    static let folder = String(#filePath.dropLast("AzureSimulatorTests/ClientAssertionTests.swift".count)) + "CanaryTests/Fixtures/certs/"

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: folder + name)))
    }
}

/// Base64url without padding, as JWT segments are written.
func base64url(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// Builds and signs a certificate assertion the way azure-identity (RS256, `x5t`) and newer
/// MSAL (PS256, `x5t#S256`) do.
struct AssertionBuilder {
    var algorithm: SignatureAlgorithm
    /// The certificate whose thumbprint the header names.
    var certificate: Certificate
    /// The key that signs.
    var key: PrivateKey
    var issuer = World.clientID
    var subject = World.clientID
    var audience: String
    var notBefore: Int
    var expires: Int

    init(world: World, algorithm: SignatureAlgorithm, certificate: String = "app.pem", key: String = "app.key") throws {
        self.algorithm = algorithm
        self.certificate = try Certificate(pem: try Certificates.bytes(certificate))
        self.key = try PrivateKey(pem: try Certificates.bytes(key))
        audience = "\(world.simulator.authority)/\(World.tenant)/oauth2/v2.0/token"
        notBefore = Int(world.clock.now)
        expires = notBefore + 1800
    }

    func build() throws -> String {
        let thumbprint =
            algorithm == .rs256
            ? #""x5t":""# + base64url(certificate.sha1Thumbprint) + #"""#
            : #""x5t#S256":""# + base64url(certificate.sha256Thumbprint) + #"""#
        let header = #"{"typ":"JWT","alg":""# + algorithm.rawValue + #"","# + thumbprint + "}"
        let payload =
            #"{"aud":""# + audience + #"","exp":"# + String(expires) + #","iss":""# + issuer
            + #"","jti":""# + UUID().uuidString + #"","nbf":"# + String(notBefore) + #","sub":""# + subject + #""}"#
        let signingInput = base64url(Array(header.utf8)) + "." + base64url(Array(payload.utf8))
        return signingInput + "." + base64url(try key.sign(Array(signingInput.utf8), algorithm: algorithm))
    }
}

@Suite struct ClientAssertionTests {
    static let oidcIssuer = "https://oidc.prod-aks.azure.com/0b5f3e2c-1111-4a2b-9c3d-4e5f6a7b8c9d/"
    static let serviceAccount = "system:serviceaccount:monitoring:aoai-canary"

    /// A world whose application has app.pem registered and one federated credential.
    func makeWorld() throws -> World {
        let world = try World()
        try world.simulator.addCertificate(clientID: World.clientID, certificatePEM: try Certificates.bytes("app.pem"))
        world.simulator.addFederatedCredential(clientID: World.clientID, issuer: Self.oidcIssuer, subject: Self.serviceAccount)
        return world
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func aCertificateAssertionSignedWithTheRegisteredKeyGetsAToken(algorithm: SignatureAlgorithm) async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let response = try await world.requestToken(assertion: try AssertionBuilder(world: world, algorithm: algorithm).build())
        #expect(response.status == 200, "\(response.text)")
        let body = try JSONDecoder().decode(TokenBody.self, from: Data(response.body))
        let claims = try claims(of: body.access_token)
        #expect(claims.oid == World.objectID && claims.azp == World.clientID)
        #expect(try await world.chat(.bearer(body.access_token)).status == 200)
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func aSignatureByAnotherKeyIsRefusedWith700027(algorithm: SignatureAlgorithm) async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let forged = try AssertionBuilder(world: world, algorithm: algorithm, certificate: "app.pem", key: "other.key").build()
        expectEntraError(try await world.requestToken(assertion: forged), code: 700027, fragment: "Client assertion failed signature validation.")
    }

    @Test func anUnregisteredCertificateIsRefusedWith700027() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let other = try AssertionBuilder(world: world, algorithm: .rs256, certificate: "other.pem", key: "other.key")
        let thumbprint = other.certificate.sha1Thumbprint.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined()
        expectEntraError(
            try await world.requestToken(assertion: try other.build()), code: 700027,
            fragment:
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., "
                + "Thumbprint of key used by client: '\(thumbprint)'"
        )
        // Registering it makes the same kind of assertion good.
        try world.simulator.addCertificate(clientID: World.clientID, certificatePEM: try Certificates.bytes("other.pem"))
        #expect(try await world.requestToken(assertion: try other.build()).status == 200)
    }

    @Test func anAssertionForAnotherTokenURLIsRefusedWith700023() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        var builder = try AssertionBuilder(world: world, algorithm: .rs256)
        builder.audience = "https://login.microsoftonline.com/\(World.tenant)/oauth2/v2.0/token"
        expectEntraError(
            try await world.requestToken(assertion: try builder.build()), code: 700023,
            fragment: "Client assertion audience claim does not match Realm issuer.")
    }

    @Test func aSubjectOtherThanTheIssuerIsRefusedWith700021() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        var builder = try AssertionBuilder(world: world, algorithm: .ps256)
        builder.subject = World.objectID
        expectEntraError(
            try await world.requestToken(assertion: try builder.build()), code: 700021,
            fragment: "Client assertion application identifier doesn't match 'client_id' parameter.")
    }

    @Test func anAssertionOutsideItsValidityIsRefusedWith700024() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let expired = try AssertionBuilder(world: world, algorithm: .rs256).build()
        world.clock.advance(1800)
        expectEntraError(
            try await world.requestToken(assertion: expired), code: 700024,
            fragment: "Client assertion is not within its valid time range. Current time: ")

        var early = try AssertionBuilder(world: world, algorithm: .rs256)
        early.notBefore += 301
        early.expires += 301
        expectEntraError(try await world.requestToken(assertion: try early.build()), code: 700024, fragment: "not within its valid time range")
        early.notBefore -= 2  // within the five minutes of allowed skew
        #expect(try await world.requestToken(assertion: try early.build()).status == 200)
    }

    @Test func anInjectedTokenErrorWinsOverAGoodAssertion() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        world.simulator.updateApplication(clientID: World.clientID) { $0.tokenError = 7_000_222 }
        expectEntraError(
            try await world.requestToken(assertion: try AssertionBuilder(world: world, algorithm: .rs256).build()),
            code: 7_000_222, fragment: "are expired")
    }

    @Test func aFederatedTokenWithAMatchingCredentialGetsAToken() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let federated = world.simulator.makeFederatedToken(issuer: Self.oidcIssuer, subject: Self.serviceAccount)
        let payload = String(decoding: try jwtSegment(federated, 1), as: UTF8.self)
        #expect(payload.contains(#""aud":["api://AzureADTokenExchange"]"#))
        #expect(payload.contains(#""exp":\#(Int(world.clock.now) + 3600)"#))
        let response = try await world.requestToken(assertion: federated)
        #expect(response.status == 200, "\(response.text)")
        let token = try JSONDecoder().decode(TokenBody.self, from: Data(response.body)).access_token
        #expect(try await world.chat(.bearer(token)).status == 200)
    }

    @Test func aFederatedTokenForAnotherSubjectIsRefusedWith700213() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let federated = world.simulator.makeFederatedToken(issuer: Self.oidcIssuer, subject: "system:serviceaccount:default:default")
        expectEntraError(
            try await world.requestToken(assertion: federated), code: 700213,
            fragment: "No matching federated identity record found for presented assertion subject 'system:serviceaccount:default:default'.")
    }

    @Test func aFederatedTokenFromAnotherIssuerIsRefusedWith700211() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let federated = world.simulator.makeFederatedToken(issuer: "https://token.actions.githubusercontent.com", subject: Self.serviceAccount)
        expectEntraError(
            try await world.requestToken(assertion: federated), code: 700211,
            fragment: "No matching federated identity record found for presented assertion issuer 'https://token.actions.githubusercontent.com'.")
    }

    @Test func aFederatedTokenForAnotherAudienceIsRefusedWith700212() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let federated = world.simulator.makeFederatedToken(issuer: Self.oidcIssuer, subject: Self.serviceAccount, audience: "https://kubernetes.default.svc")
        expectEntraError(
            try await world.requestToken(assertion: federated), code: 700212,
            fragment: "No matching federated identity record found for presented assertion audience 'https://kubernetes.default.svc'.")
    }

    @Test func anExpiredFederatedTokenIsRefusedWith700024() async throws {
        let world = try makeWorld()
        defer { world.simulator.stop() }
        let federated = world.simulator.makeFederatedToken(issuer: Self.oidcIssuer, subject: Self.serviceAccount, lifetimeSeconds: 600)
        world.clock.advance(600)
        expectEntraError(try await world.requestToken(assertion: federated), code: 700024, fragment: "not within its valid time range")
    }

    private func expectEntraError(_ response: HTTPClientResponse, code: Int, fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == (code == 50027 ? 400 : 401), sourceLocation: sourceLocation)
        guard let body = try? JSONDecoder().decode(EntraErrorBody.self, from: Data(response.body)) else {
            Issue.record("not an Entra error body: \(response.text)", sourceLocation: sourceLocation)
            return
        }
        #expect(body.error == "invalid_client", sourceLocation: sourceLocation)
        #expect(body.error_codes == [code], sourceLocation: sourceLocation)
        #expect(body.error_description.hasPrefix("AADSTS\(code): "), sourceLocation: sourceLocation)
        #expect(body.error_description.contains(fragment), "\(body.error_description)", sourceLocation: sourceLocation)
        #expect(response.text.hasPrefix(#"{"error":""#), sourceLocation: sourceLocation)
    }
}
