// Decoding of each credential type's settings, with environment defaults where azure-identity has them.
import Crypto
import HTTPServer
import Support
import YAML

extension CredentialKind {
    /// The keys a credential of this type may have.
    var allowedKeys: [String] {
        switch self {
        case .clientSecret: return ["type", "tenant_id", "client_id", "client_secret_file", "client_secret_env", "secret_expires", "scope", "authority"]
        case .clientCertificate: return ["type", "tenant_id", "client_id", "certificate_file", "private_key_file", "assertion_algorithm", "scope", "authority"]
        case .workloadIdentity: return ["type", "tenant_id", "client_id", "token_file", "scope", "authority"]
        case .managedIdentity: return ["type", "source", "client_id", "object_id", "resource_id", "endpoint", "arc_key_directory", "scope"]
        case .azureCLI: return ["type", "az_path", "tenant_id", "timeout", "scope"]
        case .chain: return ["type", "scope", "authority"]
        }
    }
}

extension ConfigDecoder {
    mutating func decodeCredential(_ node: YAMLNode, path: String) -> CredentialSettings? {
        guard case .mapping = node else {
            report(node, path, "expected a mapping, found \(node.kindName)")
            return nil
        }
        // Read `type` first, so the rest is checked against that type's keys.
        guard let loose = looseFields(node), let typeNode = loose["type"] else {
            report(node, "\(path).type", "missing required key \"type\"")
            return nil
        }
        guard case .scalar(let typeName, _, _) = typeNode, let type = CredentialKind(rawValue: typeName) else {
            let options = CredentialKind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            report(typeNode, "\(path).type", "unknown credential type: expected one of \(options)")
            return nil
        }
        guard let fields = fields(node, path, allowed: type.allowedKeys) else { return nil }
        switch type {
        case .clientSecret: return decodeClientSecret(fields).map(CredentialSettings.clientSecret)
        case .clientCertificate: return decodeClientCertificate(fields).map(CredentialSettings.clientCertificate)
        case .workloadIdentity: return decodeWorkloadIdentity(fields).map(CredentialSettings.workloadIdentity)
        case .managedIdentity: return decodeManagedIdentity(fields).map(CredentialSettings.managedIdentity)
        case .azureCLI: return decodeAzureCLI(fields).map(CredentialSettings.azureCLI)
        case .chain: return decodeChain(fields).map(CredentialSettings.chain)
        }
    }

    // MARK: the types

    private mutating func decodeClientSecret(_ fields: Fields) -> ClientSecretSettings? {
        let tenant = tenantID(fields, required: true)
        let client = string(fields, "client_id", required: true)
        let secret = secret(fields, prefix: "client_secret", required: true)
        let expires = date(fields, "secret_expires")
        guard let tenant, let client, let secret else { return nil }
        return ClientSecretSettings(
            tenantID: tenant, clientID: client, secret: secret.0, secretSource: secret.1,
            scope: scope(fields), authority: authority(fields), secretExpires: expires)
    }

    private mutating func decodeClientCertificate(_ fields: Fields) -> ClientCertificateSettings? {
        let tenant = tenantID(fields, required: true)
        let client = string(fields, "client_id", required: true)
        let algorithm = choice(fields, "assertion_algorithm", as: SignatureAlgorithm.self) ?? .rs256
        let certificate = pemFile(fields, "certificate_file", required: true)
        let key = pemFile(fields, "private_key_file", required: false)
        var parsed: (Certificate, PrivateKey)?
        if let certificate, let node = fields.values["certificate_file"] {
            do {
                let certificateObject = try Certificate(pem: certificate.bytes)
                let privateKey = try PrivateKey(pem: key?.bytes ?? certificate.bytes)
                parsed = (certificateObject, privateKey)
                if !privateKey.matches(certificateObject) {
                    report(
                        fields.values["private_key_file"] ?? node, fields.path(key == nil ? "certificate_file" : "private_key_file"),
                        "the private key does not belong to the certificate in \(certificate.path)")
                }
            } catch {
                let which =
                    key == nil ? "certificate_file (a PEM certificate, with its key unless private_key_file is given)" : "certificate_file or private_key_file"
                report(
                    fields.values[key == nil ? "certificate_file" : "private_key_file"] ?? node,
                    fields.path(key == nil ? "certificate_file" : "private_key_file"),
                    "cannot use \(which): \(error)")
            }
        }
        guard let tenant, let client, let certificate, let parsed else { return nil }
        return ClientCertificateSettings(
            tenantID: tenant, clientID: client, certificate: parsed.0, certificatePath: certificate.path,
            privateKey: parsed.1, privateKeyPath: key?.path, algorithm: algorithm, scope: scope(fields), authority: authority(fields))
    }

    private mutating func decodeWorkloadIdentity(_ fields: Fields) -> WorkloadIdentitySettings? {
        let tenantGiven = fields.values["tenant_id"] != nil
        let tenant = tenantGiven ? tenantID(fields, required: false) : environment.variables["AZURE_TENANT_ID"].nonEmpty
        let client = string(fields, "client_id") ?? environment.variables["AZURE_CLIENT_ID"].nonEmpty
        let given = filePath(fields, "token_file")
        if given == nil, fields.values["token_file"] != nil { return nil }
        let file = given.map(resolve) ?? environment.variables["AZURE_FEDERATED_TOKEN_FILE"].nonEmpty
        if tenant == nil, !tenantGiven { report(fields.node, fields.path("tenant_id"), "missing tenant_id, and AZURE_TENANT_ID is not set") }
        if client == nil { report(fields.node, fields.path("client_id"), "missing client_id, and AZURE_CLIENT_ID is not set") }
        if file == nil { report(fields.node, fields.path("token_file"), "missing token_file, and AZURE_FEDERATED_TOKEN_FILE is not set") }
        guard let tenant, let client, let file else { return nil }
        let authority =
            fields.values["authority"] == nil
            ? environment.variables["AZURE_AUTHORITY_HOST"].nonEmpty.flatMap { EndpointURL($0)?.normalized }.map { String($0.dropLast()) }
                ?? CredentialDefaults.authority : self.authority(fields)
        return WorkloadIdentitySettings(tenantID: tenant, clientID: client, tokenFile: file, scope: scope(fields), authority: authority)
    }

    private mutating func decodeManagedIdentity(_ fields: Fields) -> ManagedIdentitySettings? {
        var kind = choice(fields, "source", as: ManagedIdentityKind.self) ?? .auto
        let selectors: [(String, (String) -> ManagedIdentitySelector)] = [
            ("client_id", ManagedIdentitySelector.clientID), ("object_id", ManagedIdentitySelector.objectID),
            ("resource_id", ManagedIdentitySelector.resourceID),
        ]
        var selector = ManagedIdentitySelector.systemAssigned
        var chosen: [String] = []
        for (key, make) in selectors {
            if let value = string(fields, key) {
                selector = make(value)
                chosen.append(key)
            }
        }
        if chosen.count > 1 {
            report(fields.values[chosen[1]] ?? fields.node, fields.path(chosen[1]), "give at most one of client_id, object_id and resource_id")
        }
        let variables = environment.variables
        if kind == .auto { kind = Self.managedIdentityKind(variables) }
        var endpoint = url(fields, "endpoint", required: false).map { String($0.dropLast()) }
        var header: Secret?
        switch kind {
        case .appService:
            if endpoint == nil { endpoint = variables["IDENTITY_ENDPOINT"].nonEmpty }
            header = variables["IDENTITY_HEADER"].nonEmpty.map(Secret.init)
            if endpoint == nil { report(fields.node, fields.path("endpoint"), "source app_service needs IDENTITY_ENDPOINT (or endpoint)") }
            if header == nil { report(fields.node, fields.path("source"), "source app_service needs the IDENTITY_HEADER environment variable") }
        case .arc:
            if endpoint == nil { endpoint = variables["IDENTITY_ENDPOINT"].nonEmpty ?? ManagedIdentitySettings.arcEndpoint }
        case .imds, .auto:
            if endpoint == nil { endpoint = ManagedIdentitySettings.imdsEndpoint }
        }
        var directory = string(fields, "arc_key_directory") ?? ManagedIdentitySettings.arcKeyDirectory
        if !directory.hasSuffix("/") { directory += "/" }
        guard let endpoint, chosen.count <= 1 else { return nil }
        if kind == .appService, header == nil { return nil }
        return ManagedIdentitySettings(
            kind: kind, selector: selector, endpoint: endpoint, identityHeader: header, scope: scope(fields), arcKeyDirectory: directory)
    }

    /// azure-identity's choice: App Service when IDENTITY_ENDPOINT and IDENTITY_HEADER are set,
    /// Arc when IDENTITY_ENDPOINT and IMDS_ENDPOINT are, else the VM's IMDS.
    static func managedIdentityKind(_ variables: [String: String]) -> ManagedIdentityKind {
        let endpoint = variables["IDENTITY_ENDPOINT"].nonEmpty != nil
        if endpoint, variables["IDENTITY_HEADER"].nonEmpty != nil { return .appService }
        if endpoint, variables["IMDS_ENDPOINT"].nonEmpty != nil { return .arc }
        return .imds
    }

    private mutating func decodeAzureCLI(_ fields: Fields) -> AzureCLISettings? {
        let path = string(fields, "az_path") ?? "az"
        let tenant = tenantID(fields, required: false)
        let timeout = duration(fields, "timeout", within: Duration.seconds(1)...Duration.seconds(300)) ?? .seconds(30)
        return AzureCLISettings(azPath: path, tenantID: tenant, scope: scope(fields), timeoutSeconds: timeout.seconds)
    }

    private mutating func decodeChain(_ fields: Fields) -> DefaultChainSettings? {
        let scope = scope(fields)
        let variables = environment.variables
        let authority =
            fields.values["authority"] == nil
            ? (variables["AZURE_AUTHORITY_HOST"].nonEmpty.flatMap { EndpointURL($0)?.normalized }.map { String($0.dropLast()) } ?? CredentialDefaults.authority)
            : self.authority(fields)
        var candidates: [CredentialSettings] = []
        let tenant = variables["AZURE_TENANT_ID"].nonEmpty
        let client = variables["AZURE_CLIENT_ID"].nonEmpty
        // 1. Environment: a secret or a certificate in AZURE_* variables.
        if let tenant, let client {
            if let secret = variables["AZURE_CLIENT_SECRET"].nonEmpty {
                candidates.append(
                    .clientSecret(
                        ClientSecretSettings(
                            tenantID: tenant, clientID: client, secret: Secret(secret), secretSource: .environment("AZURE_CLIENT_SECRET"), scope: scope,
                            authority: authority)))
            } else if let path = variables["AZURE_CLIENT_CERTIFICATE_PATH"].nonEmpty {
                do {
                    let pem = try environment.readBytes(path)
                    candidates.append(
                        .clientCertificate(
                            ClientCertificateSettings(
                                tenantID: tenant, clientID: client, certificate: try Certificate(pem: pem), certificatePath: path,
                                privateKey: try PrivateKey(pem: pem), privateKeyPath: nil, algorithm: .rs256, scope: scope, authority: authority)))
                } catch {
                    report(fields.node, fields.path("type"), "AZURE_CLIENT_CERTIFICATE_PATH \(path): \(error)")
                }
            }
        }
        // 2. Workload identity.
        if let tenant, let client, let file = variables["AZURE_FEDERATED_TOKEN_FILE"].nonEmpty {
            candidates.append(
                .workloadIdentity(WorkloadIdentitySettings(tenantID: tenant, clientID: client, tokenFile: file, scope: scope, authority: authority)))
        }
        // 3. Managed identity, user-assigned when AZURE_CLIENT_ID names one. IMDS's host can be
        // moved with AZURE_POD_IDENTITY_AUTHORITY_HOST, as azure-identity allows.
        let kind = Self.managedIdentityKind(variables)
        let endpoint: String
        switch kind {
        case .appService: endpoint = variables["IDENTITY_ENDPOINT"] ?? ""
        case .arc: endpoint = variables["IDENTITY_ENDPOINT"] ?? ManagedIdentitySettings.arcEndpoint
        case .imds, .auto:
            endpoint =
                variables["AZURE_POD_IDENTITY_AUTHORITY_HOST"].nonEmpty.map { host in
                    (host.hasSuffix("/") ? String(host.dropLast()) : host) + "/metadata/identity/oauth2/token"
                } ?? ManagedIdentitySettings.imdsEndpoint
        }
        candidates.append(
            .managedIdentity(
                ManagedIdentitySettings(
                    kind: kind, selector: client.map(ManagedIdentitySelector.clientID) ?? .systemAssigned, endpoint: endpoint,
                    identityHeader: variables["IDENTITY_HEADER"].nonEmpty.map(Secret.init), scope: scope,
                    arcKeyDirectory: ManagedIdentitySettings.arcKeyDirectory)))
        // 4. The Azure CLI, found on PATH.
        candidates.append(.azureCLI(AzureCLISettings(azPath: "az", tenantID: tenant, scope: scope, timeoutSeconds: 30)))
        return DefaultChainSettings(scope: scope, authority: authority, candidates: candidates)
    }

    // MARK: shared keys

    private mutating func tenantID(_ fields: Fields, required: Bool) -> String? {
        let tenant = string(fields, "tenant_id", required: required)
        if let tenant, let problem = Self.tenantProblem(tenant), let node = fields.values["tenant_id"] {
            report(node, fields.path("tenant_id"), problem)
            return nil
        }
        return tenant
    }

    /// Why `tenant` is not a tenant id Entra ID takes, or nil: it is a GUID or a domain name
    /// (`contoso.onmicrosoft.com`, a verified custom domain).
    static func tenantProblem(_ tenant: String) -> String? {
        let expected = "a tenant id is a GUID (00000000-0000-0000-0000-000000000000) or a domain name such as contoso.onmicrosoft.com"
        if tenant.contains("/") { return expected + ", without \"/\"" }
        if isGUID(tenant) || isDomainName(tenant) { return nil }
        return expected + ": '\(tenant)' is neither"
    }

    static func isGUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// Two labels or more, of letters, digits and inner hyphens, at most 63 each and 253 in all.
    static func isDomainName(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, text.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    private mutating func scope(_ fields: Fields) -> String {
        string(fields, "scope") ?? CredentialDefaults.scope
    }

    /// Stored without the trailing slash: the token path is appended as "/{tenant}/...".
    private mutating func authority(_ fields: Fields) -> String {
        url(fields, "authority", required: false).map { String($0.dropLast()) } ?? CredentialDefaults.authority
    }

    /// A date `YYYY-MM-DD` as Unix time at midnight UTC.
    private mutating func date(_ fields: Fields, _ key: String) -> Double? {
        guard let text = string(fields, key), let node = fields.values[key] else { return nil }
        let parts = text.split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            parts[0].count == 4, (1...12).contains(month), (1...31).contains(day)
        else {
            report(node, fields.path(key), "invalid date \"\(text)\": expected YYYY-MM-DD, e.g. 2027-03-01")
            return nil
        }
        return Double(CivilTime.days(year: year, month: month, day: day) * 86400)
    }

    /// A PEM file's path (resolved like secrets) and bytes; a missing file is reported here.
    private mutating func pemFile(_ fields: Fields, _ key: String, required: Bool) -> (path: String, bytes: [UInt8])? {
        guard let path = filePath(fields, key, required: required), let node = fields.values[key] else { return nil }
        let resolved = resolve(path)
        secretFileMarks[resolved] = ConfigMark(line: node.mark.line, column: node.mark.column)
        do {
            return (resolved, try environment.readBytes(resolved))
        } catch {
            report(node, fields.path(key), "cannot read \(shownPath(path, resolved: resolved)): \(error)")
            return nil
        }
    }

    /// A key that names a file (`certificate_file`, `private_key_file`, `token_file`, `ca_file`):
    /// a value that looks like a key, certificate or token pasted in by mistake is refused, and
    /// never repeated.
    mutating func filePath(_ fields: Fields, _ key: String, required: Bool = false) -> String? {
        guard let value = string(fields, key, required: required) else { return nil }
        if Redaction.looksLikeSecret(value) {
            report(
                fields.values[key] ?? fields.node, fields.path(key),
                "must name a file; the value given looks like a key, certificate or token pasted in by mistake and is not repeated: put it in a file and name "
                    + "the file here"
            )
            return nil
        }
        return value
    }

    /// Relative paths resolve like secret files: against `$CREDENTIALS_DIRECTORY` or the config's folder.
    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : joinPath(environment.secretsDirectory, path)
    }

    /// The keys of a mapping without any checks, to peek at `type`.
    private func looseFields(_ node: YAMLNode) -> [String: YAMLNode]? {
        guard case .mapping(let pairs, _) = node else { return nil }
        var result: [String: YAMLNode] = [:]
        for pair in pairs {
            if case .scalar(let key, _, _) = pair.key, result[key] == nil { result[key] = pair.value }
        }
        return result
    }
}

extension Optional where Wrapped == String {
    /// nil for nil and for the empty string.
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
