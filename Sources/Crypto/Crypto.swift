// Certificates, keys and RS256/PS256 signatures through OpenSSL's libcrypto (the only importer of CCrypto).
import CCrypto

#if canImport(Glibc)
import Glibc
#endif

/// Why a certificate, key or signature operation failed, with OpenSSL's reason.
public struct CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// The message with OpenSSL's last queued error appended (and the queue cleared).
    static func openSSL(_ what: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return CryptoError(what) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let detail = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return CryptoError("\(what): \(detail)")
    }

    public var description: String { message }
}

/// The signature algorithms Entra ID accepts for client assertions.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (azure-identity's default, with an `x5t` header).
    case rs256 = "RS256"
    /// RSASSA-PSS with SHA-256 and a 32-byte salt (newer MSAL, with an `x5t#S256` header).
    case ps256 = "PS256"
}

/// An X.509 certificate parsed from PEM.
public final class Certificate: @unchecked Sendable {
    let x509: OpaquePointer
    /// The DER encoding, which thumbprints are taken over.
    public let der: [UInt8]

    /// Parses the first certificate in `pem`.
    public init(pem: [UInt8]) throws(CryptoError) {
        guard let certificate = withBIO(pem, { PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw .openSSL("no PEM certificate found")
        }
        x509 = certificate
        let length = i2d_X509(certificate, nil)
        guard length > 0 else {
            X509_free(certificate)
            throw .openSSL("cannot encode the certificate")
        }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            _ = i2d_X509(certificate, &cursor)
        }
        der = bytes
    }

    deinit { X509_free(x509) }

    /// SHA-1 of the DER encoding: the `x5t` thumbprint.
    public var sha1Thumbprint: [UInt8] { Digest.sha1(der) }
    /// SHA-256 of the DER encoding: the `x5t#S256` thumbprint.
    public var sha256Thumbprint: [UInt8] { Digest.sha256(der) }

    /// The end of the validity period as Unix time.
    public var notAfter: Double? {
        guard let time = X509_get0_notAfter(x509) else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Double(timegm(&parts))
    }

    /// The certificate's public key, for verifying what its private key signed.
    public func publicKey() throws(CryptoError) -> PublicKey {
        guard let key = X509_get_pubkey(x509) else { throw .openSSL("the certificate has no usable public key") }
        return PublicKey(key)
    }
}

/// A private key parsed from PEM (PKCS#8 or traditional RSA).
public final class PrivateKey: @unchecked Sendable {
    let key: OpaquePointer

    /// Parses the first private key in `pem`.
    public init(pem: [UInt8]) throws(CryptoError) {
        guard let key = withBIO(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            throw .openSSL("no unencrypted PEM private key found")
        }
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    /// Signs `message` with SHA-256 and the given RSA scheme.
    public func sign(_ message: [UInt8], algorithm: SignatureAlgorithm) throws(CryptoError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("cannot allocate a digest context") }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestSignInit(context, &keyContext, EVP_sha256(), nil, key) == 1 else {
            throw .openSSL("cannot start signing (is it an RSA key?)")
        }
        if algorithm == .ps256 {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1
            else {
                throw .openSSL("cannot select PSS padding")
            }
        }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw .openSSL("cannot size the signature") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw .openSSL("signing failed") }
        return Array(signature.prefix(length))
    }

    /// True when this key belongs to `certificate` (the certificate's public key matches).
    public func matches(_ certificate: Certificate) -> Bool {
        guard let publicKey = try? certificate.publicKey() else { return false }
        return EVP_PKEY_eq(key, publicKey.key) == 1
    }
}

/// A public key, for verifying signatures.
public final class PublicKey: @unchecked Sendable {
    let key: OpaquePointer

    init(_ key: OpaquePointer) {
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    /// True when `signature` is a valid signature of `message` under this key.
    public func verify(_ signature: [UInt8], of message: [UInt8], algorithm: SignatureAlgorithm) -> Bool {
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &keyContext, EVP_sha256(), nil, key) == 1 else {
            ERR_clear_error()
            return false
        }
        if algorithm == .ps256 {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1
            else {
                ERR_clear_error()
                return false
            }
        }
        let result = EVP_DigestVerify(context, signature, signature.count, message, message.count)
        ERR_clear_error()
        return result == 1
    }
}

/// Message digests.
public enum Digest {
    public static func sha1(_ data: [UInt8]) -> [UInt8] { digest(data, EVP_sha1()) }
    public static func sha256(_ data: [UInt8]) -> [UInt8] { digest(data, EVP_sha256()) }

    private static func digest(_ data: [UInt8], _ type: OpaquePointer?) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = EVP_Digest(data, data.count, &output, &length, type, nil)
        return Array(output.prefix(Int(length)))
    }
}

/// Runs `body` with a read-only memory BIO over `bytes`.
private func withBIO<T>(_ bytes: [UInt8], _ body: (OpaquePointer) -> T?) -> T? {
    bytes.withUnsafeBytes { buffer -> T? in
        guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
        defer { BIO_free(bio) }
        return body(bio)
    }
}

extension Certificate: Equatable {
    /// The same certificate: the same DER encoding.
    public static func == (lhs: Certificate, rhs: Certificate) -> Bool { lhs.der == rhs.der }
}

extension PrivateKey: Equatable {
    /// The same key: OpenSSL compares their parameters and public parts.
    public static func == (lhs: PrivateKey, rhs: PrivateKey) -> Bool { lhs === rhs || EVP_PKEY_eq(lhs.key, rhs.key) == 1 }
}
