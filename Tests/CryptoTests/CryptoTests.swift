// The libcrypto wrapper: PEM parsing, thumbprints, expiry, RS256 and PS256 round trips.
import Crypto
import Foundation
import Testing

let certificates = String(#filePath.dropLast("CryptoTests/CryptoTests.swift".count)) + "CanaryTests/Fixtures/certs/"

func fixture(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: certificates + name)))
}

@Suite struct CryptoTests {
    @Test func certificateThumbprintsAndExpiryMatchOpenSSL() throws {
        let certificate = try Certificate(pem: try fixture("app.pem"))
        #expect(certificate.sha1Thumbprint.map { String($0, radix: 16).leftPadded() }.joined() == "b82e20d4090ff6057e81bcbc04a10bd960ad11d9")
        #expect(certificate.sha256Thumbprint.count == 32)
        #expect(certificate.notAfter == 2_426_328_711)  // Nov 20 12:11:51 2046 GMT
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func signaturesVerifyWithTheCertificatesKeyOnly(algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey(pem: try fixture("app.key"))
        let certificate = try Certificate(pem: try fixture("app.pem"))
        let other = try Certificate(pem: try fixture("other.pem"))
        let message = Array("header.payload".utf8)
        let signature = try key.sign(message, algorithm: algorithm)
        #expect(signature.count == 256)
        #expect(try certificate.publicKey().verify(signature, of: message, algorithm: algorithm))
        #expect(!(try certificate.publicKey().verify(signature, of: Array("header.payloaD".utf8), algorithm: algorithm)))
        #expect(!(try other.publicKey().verify(signature, of: message, algorithm: algorithm)))
        #expect(key.matches(certificate))
        #expect(!key.matches(other))
    }

    @Test func aCombinedFileHoldsBoth() throws {
        let combined = try fixture("app-combined.pem")
        let certificate = try Certificate(pem: combined)
        let key = try PrivateKey(pem: combined)
        #expect(key.matches(certificate))
    }

    @Test func garbageIsAnErrorNotACrash() {
        #expect(throws: CryptoError.self) { try Certificate(pem: Array("not a pem".utf8)) }
        #expect(throws: CryptoError.self) { try PrivateKey(pem: Array("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8)) }
        #expect(throws: CryptoError.self) { try PrivateKey(pem: []) }
    }
}

extension String {
    func leftPadded() -> String { count == 1 ? "0" + self : self }
}
