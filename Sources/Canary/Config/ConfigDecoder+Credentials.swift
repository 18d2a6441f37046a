// Decoding of each credential type's settings.
import YAML

/// The `type:` values the file accepts.
enum CredentialType: String, CaseIterable {
    case clientSecret = "client_secret"
}

extension ConfigDecoder {
    static let clientSecretKeys = ["type", "tenant_id", "client_id", "client_secret_file", "client_secret_env", "scope", "authority"]

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
        guard case .scalar(let typeName, _, _) = typeNode, let type = CredentialType(rawValue: typeName) else {
            let options = CredentialType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            report(typeNode, "\(path).type", "unknown credential type: expected one of \(options)")
            return nil
        }
        switch type {
        case .clientSecret:
            return decodeClientSecret(node, path: path).map(CredentialSettings.clientSecret)
        }
    }

    private mutating func decodeClientSecret(_ node: YAMLNode, path: String) -> ClientSecretSettings? {
        guard let fields = fields(node, path, allowed: Self.clientSecretKeys) else { return nil }
        let tenant = string(fields, "tenant_id", required: true)
        let client = string(fields, "client_id", required: true)
        let secret = secret(fields, prefix: "client_secret", required: true)
        let scope = string(fields, "scope") ?? ClientSecretSettings.defaultScope
        // Stored without the trailing slash: the token path is appended as "/{tenant}/...".
        let authority = url(fields, "authority", required: false).map { String($0.dropLast()) } ?? ClientSecretSettings.defaultAuthority
        if let tenant, tenant.contains("/"), let tenantNode = fields.values["tenant_id"] {
            report(tenantNode, fields.path("tenant_id"), "a tenant id is a GUID or a domain name, without \"/\"")
        }
        guard let tenant, let client, let secret else { return nil }
        return ClientSecretSettings(
            tenantID: tenant, clientID: client, secret: secret.0, secretSource: secret.1,
            scope: scope, authority: authority)
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
