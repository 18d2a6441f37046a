// The certificates `simulate --tls-dir` serves HTTPS with and gives its certificate credential.
import Crypto
import HTTPServer

/// A fresh CA, a server certificate it signed for loopback (127.0.0.1, ::1, localhost and every
/// `*.openai.localhost` resource host), and a client certificate for the demo application's
/// certificate credential. Python's clients check the address against the certificate, so the
/// server certificate names the loopback addresses themselves.
public struct SimulatorCertificates: Sendable {
    /// The CA certificate clients must trust (`ca_file` in the info file).
    public let caPEM: String
    public let server: IssuedCertificate
    /// Registered on the demo application: its key signs client assertions.
    public let client: IssuedCertificate

    public init() throws(CryptoError) {
        let issuer = try CertificateIssuer(commonName: "aoai-canary simulator CA")
        caPEM = issuer.certificatePEM
        server = try issuer.issue(
            commonName: "aoai-canary simulator", usage: .server(dnsNames: ["localhost", "*.openai.localhost"], ipAddresses: ["127.0.0.1", "::1"]))
        client = try issuer.issue(commonName: "aoai-canary demo application", usage: .client)
    }

    /// What the simulator's HTTP server needs to serve TLS.
    public var serverTLS: HTTPServerTLS {
        HTTPServerTLS(certificateChainPEM: server.certificatePEM, privateKeyPEM: server.privateKeyPEM)
    }
}
