// A throwaway certificate authority: issues the simulator's HTTPS and client certificates.
import CCrypto

#if canImport(Glibc)
import Glibc
#endif

/// A certificate and its unencrypted private key, both in PEM.
public struct IssuedCertificate: Sendable {
    public var certificatePEM: String
    public var privateKeyPEM: String
}

/// What a certificate the issuer signs is for.
public enum CertificateUsage: Sendable {
    /// A TLS server for these DNS names and IP addresses.
    case server(dnsNames: [String], ipAddresses: [String])
    /// A client (a certificate credential of an application).
    case client
}

/// A self-signed CA, made fresh in memory, that signs certificates with RSA-2048 keys and
/// SHA-256. For tests and the simulator only: the key never leaves the process unless written.
public final class CertificateIssuer: @unchecked Sendable {
    private let key: OpaquePointer
    private let certificate: OpaquePointer
    /// The CA's certificate in PEM, for a client's trust store.
    public let certificatePEM: String

    /// A CA named `commonName`, valid from an hour ago for `days` days.
    public init(commonName: String, days: Int = 30) throws(CryptoError) {
        let key = try Self.generateKey()
        guard let certificate = X509_new() else {
            EVP_PKEY_free(key)
            throw .openSSL("cannot allocate a certificate")
        }
        do {
            try Self.fill(
                certificate, key: key, subject: commonName, issuer: nil, issuerKey: key, days: days,
                extensions: [
                    (NID_basic_constraints, "critical,CA:TRUE"),
                    (NID_key_usage, "critical,keyCertSign,cRLSign"),
                    (NID_subject_key_identifier, "hash"),
                    (NID_authority_key_identifier, "keyid:always"),
                ])
            certificatePEM = try Self.pem { PEM_write_bio_X509($0, certificate) }
        } catch {
            X509_free(certificate)
            EVP_PKEY_free(key)
            throw error
        }
        self.key = key
        self.certificate = certificate
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// A certificate named `commonName` for `usage`, signed by this CA, with a fresh key.
    public func issue(commonName: String, usage: CertificateUsage, days: Int = 30) throws(CryptoError) -> IssuedCertificate {
        let leafKey = try Self.generateKey()
        defer { EVP_PKEY_free(leafKey) }
        guard let leaf = X509_new() else { throw .openSSL("cannot allocate a certificate") }
        defer { X509_free(leaf) }
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid:always"),
        ]
        switch usage {
        case .server(let dnsNames, let ipAddresses):
            extensions.append((NID_key_usage, "critical,digitalSignature,keyEncipherment"))
            extensions.append((NID_ext_key_usage, "serverAuth"))
            let names = dnsNames.map { "DNS:" + $0 } + ipAddresses.map { "IP:" + $0 }
            if !names.isEmpty { extensions.append((NID_subject_alt_name, names.joined(separator: ","))) }
        case .client:
            extensions.append((NID_key_usage, "critical,digitalSignature"))
            extensions.append((NID_ext_key_usage, "clientAuth"))
        }
        try Self.fill(leaf, key: leafKey, subject: commonName, issuer: certificate, issuerKey: key, days: days, extensions: extensions)
        return IssuedCertificate(
            certificatePEM: try Self.pem { PEM_write_bio_X509($0, leaf) },
            privateKeyPEM: try Self.pem { PEM_write_bio_PrivateKey($0, leafKey, nil, nil, 0, nil, nil) })
    }

    /// A fresh RSA-2048 key.
    private static func generateKey() throws(CryptoError) -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil) else { throw .openSSL("cannot create a key context") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_rsa_keygen_bits(context, 2048) == 1,
            EVP_PKEY_generate(context, &key) == 1, let key
        else { throw .openSSL("cannot generate an RSA key") }
        return key
    }

    /// Sets the version, a random serial, the validity, names, key and extensions, and signs.
    /// `issuer` nil makes the certificate self-signed.
    private static func fill(
        _ x509: OpaquePointer, key: OpaquePointer, subject: String, issuer: OpaquePointer?, issuerKey: OpaquePointer,
        days: Int, extensions: [(Int32, String)]
    ) throws(CryptoError) {
        var serial: UInt64 = 0
        withUnsafeMutableBytes(of: &serial) { _ = RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8) }
        guard X509_set_version(x509, 2) == 1,
            ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial >> 1) == 1,
            X509_gmtime_adj(X509_getm_notBefore(x509), -3600) != nil,
            X509_gmtime_adj(X509_getm_notAfter(x509), days * 86400) != nil,
            let name = X509_get_subject_name(x509),
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, subject, -1, -1, 0) == 1,
            X509_set_issuer_name(x509, issuer.map { X509_get_subject_name($0) } ?? name) == 1,
            X509_set_pubkey(x509, key) == 1
        else { throw .openSSL("cannot fill in the certificate") }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer ?? x509, x509, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else { throw .openSSL("cannot make the extension \(value)") }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw .openSSL("cannot add the extension \(value)") }
        }
        guard X509_sign(x509, issuerKey, EVP_sha256()) > 0 else { throw .openSSL("cannot sign the certificate") }
    }

    /// What `write` puts into a memory BIO, as a string.
    private static func pem(_ write: (OpaquePointer) -> Int32) throws(CryptoError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .openSSL("cannot allocate a buffer") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw .openSSL("cannot write PEM") }
        let count = Int(BIO_ctrl_pending(bio))
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(count)) }
        guard read == count else { throw .openSSL("cannot read PEM") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
