// The top level of the file, the resources list and the cross-checks between them.
import HTTPServer
import YAML

extension ConfigDecoder {
    static let topLevelKeys = ["listen", "interval", "timeout", "credentials", "resources", "control_plane", "discovery", "directory"]
    static let discoveryKeys = ["subscription", "resource_group", "tags", "kinds", "credential", "api_key", "probe", "deployment", "interval"]
    static let resourceKeys = [
        "name", "endpoint", "deployment", "probe", "api_version", "api_key_file", "api_key_env", "credential", "interval", "ca_file", "arm_id",
        "gateway",
    ]
    static let gatewayKeys = ["subscription_key_file", "subscription_key_env", "subscription_key_header", "subscription_key_with_token"]
    static let controlPlaneKeys = ["credential", "endpoint", "interval"]
    static let directoryKeys = ["credential", "endpoint", "interval"]

    /// Decodes the whole document; nil when any issue was reported.
    mutating func decodeDocument(_ root: YAMLNode?) -> CanaryConfig? {
        guard let root else {
            // An empty file is a valid configuration that probes nothing.
            return CanaryConfig()
        }
        guard let top = fields(root, "", allowed: Self.topLevelKeys) else { return nil }
        var config = CanaryConfig()
        if let listen = string(top, "listen"), let node = top.values["listen"] {
            if SocketAddress.parse(listen) == nil {
                report(node, "listen", "invalid listen address \"\(listen)\": expected HOST:PORT, e.g. 0.0.0.0:9725 or [::1]:9725")
            } else {
                config.listen = listen
            }
        }
        if let interval = duration(top, "interval", within: CanaryConfig.intervalBounds) { config.interval = interval }
        if let timeout = duration(top, "timeout", within: CanaryConfig.timeoutBounds) { config.timeout = timeout }

        if let node = top.values["credentials"], !node.isNull {
            config.credentials = decodeCredentials(node)
        }
        if let node = top.values["resources"], !node.isNull {
            config.resources = decodeResources(node, credentialNames: declaredNames(top.values["credentials"]))
        }
        if let node = top.values["directory"], !node.isNull {
            config.directory = decodeDirectory(node, credentials: config.credentials, credentialNames: declaredNames(top.values["credentials"]))
        }
        if let node = top.values["control_plane"], !node.isNull {
            config.controlPlane = decodeControlPlane(node, credentials: config.credentials, credentialNames: declaredNames(top.values["credentials"]))
        }
        if let node = top.values["discovery"], !node.isNull {
            if top.values["control_plane"] == nil {
                report(node, "discovery", "discovery needs control_plane: (the credential that lists the accounts)")
            }
            config.discovery = decodeDiscovery(node, credentialNames: declaredNames(top.values["credentials"]))
        }
        config.secretFileMarks = secretFileMarks
        return issues.isEmpty ? config : nil
    }

    private mutating func decodeCredentials(_ node: YAMLNode) -> [CredentialConfig] {
        guard case .mapping(let pairs, _) = node else {
            report(node, "credentials", "expected a mapping of credential names to settings, found \(node.kindName)")
            return []
        }
        var result: [CredentialConfig] = []
        for pair in pairs {
            guard case .scalar(let name, _, _) = pair.key, !name.isEmpty else {
                report(pair.key, "credentials", "credential names must be non-empty strings")
                continue
            }
            let path = "credentials.\(name)"
            if result.contains(where: { $0.name == name }) {
                report(pair.key, path, "duplicate credential name \"\(name)\"")
                continue
            }
            if let settings = decodeCredential(pair.value, path: path) {
                result.append(CredentialConfig(name: name, settings: settings))
            }
        }
        return result
    }

    private mutating func decodeDiscovery(_ node: YAMLNode, credentialNames: [String]) -> [DiscoveryConfig] {
        guard case .sequence(let items, _) = node else {
            report(node, "discovery", "expected a list of discovery entries, found \(node.kindName)")
            return []
        }
        var result: [DiscoveryConfig] = []
        for (index, item) in items.enumerated() {
            guard let fields = fields(item, "discovery[\(index)]", allowed: Self.discoveryKeys) else { continue }
            let subscription = string(fields, "subscription", required: true)
            if let subscription, let node = fields.values["subscription"],
                ARMResourceID("/subscriptions/\(subscription)/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a") == nil
            {
                report(node, fields.path("subscription"), "subscription must be a subscription id (a GUID), found \"\(subscription)\"")
            }
            let group = string(fields, "resource_group")
            var tags: [String: String] = [:]
            if let node = fields.values["tags"], !node.isNull {
                if case .mapping(let pairs, _) = node {
                    for pair in pairs {
                        if case .scalar(let key, _, _) = pair.key, case .scalar(let value, _, _) = pair.value {
                            tags[key] = value
                        } else {
                            report(pair.key, fields.path("tags"), "tags must map names to strings")
                        }
                    }
                } else {
                    report(node, fields.path("tags"), "expected a mapping of tag names to values, found \(node.kindName)")
                }
            }
            var kinds = DiscoveryConfig.defaultKinds
            if let node = fields.values["kinds"], !node.isNull {
                if case .sequence(let values, _) = node {
                    kinds = values.compactMap { if case .scalar(let value, _, _) = $0, !value.isEmpty { return value } else { return nil } }
                    if kinds.count != values.count || kinds.isEmpty {
                        report(node, fields.path("kinds"), "kinds must be a non-empty list of account kinds, such as OpenAI and AIServices")
                    }
                } else {
                    report(node, fields.path("kinds"), "expected a list of account kinds, found \(node.kindName)")
                }
            }
            let credential = string(fields, "credential")
            checkCredentialKnown(fields, credential, among: credentialNames)
            let apiKey = choice(fields, "api_key", as: DiscoveryConfig.KeySource.self) ?? DiscoveryConfig.KeySource.none
            let probe = choice(fields, "probe", as: ProbeKind.self) ?? .models
            let deployment = string(fields, "deployment")
            if probe.needsDeployment, deployment == nil {
                report(
                    item, fields.path("deployment"),
                    "probe \(probe.rawValue) needs a deployment: a name, or auto (one of the account's deployments that fits the probe)")
            }
            if credential == nil, apiKey == .none {
                report(item, "discovery[\(index)]", "what is found would be probed with nothing: give a credential, api_key: list_keys, or both")
            }
            let interval = duration(fields, "interval", within: CanaryConfig.intervalBounds)
            guard let subscription else { continue }
            result.append(
                DiscoveryConfig(
                    subscription: subscription, resourceGroup: group, tags: tags, kinds: kinds, credential: credential,
                    apiKey: apiKey, probe: probe, deployment: deployment, interval: interval))
        }
        return result
    }

    private mutating func decodeControlPlane(_ node: YAMLNode, credentials: [CredentialConfig], credentialNames: [String]) -> ControlPlaneConfig? {
        guard let fields = fields(node, "control_plane", allowed: Self.controlPlaneKeys) else { return nil }
        let credential = string(fields, "credential", required: true)
        let endpoint = url(fields, "endpoint", required: false)
        let interval = duration(fields, "interval", within: ControlPlaneConfig.intervalBounds)
        guard let credential, checkCredentialKnown(fields, credential, among: credentialNames) else { return nil }
        let authority = credentials.first { $0.name == credential }?.settings.authority
        let resolved = endpoint.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? ControlPlaneConfig.endpoint(forAuthority: authority)
        return ControlPlaneConfig(credential: credential, endpoint: resolved, interval: interval ?? ControlPlaneConfig.defaultInterval)
    }

    private mutating func decodeDirectory(_ node: YAMLNode, credentials: [CredentialConfig], credentialNames: [String]) -> DirectoryConfig? {
        guard let fields = fields(node, "directory", allowed: Self.directoryKeys) else { return nil }
        let credential = string(fields, "credential", required: true)
        let endpoint = url(fields, "endpoint", required: false)
        let interval = duration(fields, "interval", within: DirectoryConfig.intervalBounds)
        guard let credential, checkCredentialKnown(fields, credential, among: credentialNames) else { return nil }
        let authority = credentials.first { $0.name == credential }?.settings.authority
        var resolved = endpoint.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? DirectoryConfig.endpoint(forAuthority: authority)
        // Graph's version is the reader's: an endpoint given with it works all the same.
        if resolved.hasSuffix("/v1.0") { resolved = String(resolved.dropLast("/v1.0".count)) }
        return DirectoryConfig(credential: credential, endpoint: resolved, interval: interval ?? DirectoryConfig.defaultInterval)
    }

    /// Reports `fields.credential` when it names no declared credential; true when it is known (or absent).
    @discardableResult
    private mutating func checkCredentialKnown(_ fields: Fields, _ credential: String?, among credentialNames: [String]) -> Bool {
        guard let credential, let node = fields.values["credential"], !credentialNames.contains(credential) else { return true }
        let hint = credentialNames.isEmpty ? "no credentials are defined" : "defined: \(credentialNames.joined(separator: ", "))"
        report(node, fields.path("credential"), "unknown credential \"\(credential)\" (\(hint))")
        return false
    }

    /// The credential names the file declares, valid or not, so a resource naming a broken
    /// credential is not also told that it does not exist.
    private func declaredNames(_ node: YAMLNode?) -> [String] {
        guard case .mapping(let pairs, _)? = node else { return [] }
        return pairs.compactMap { if case .scalar(let name, _, _) = $0.key { return name } else { return nil } }
    }

    /// `gateway:` of a resource: the subscription key (a file or a variable), its header, and
    /// whether the Entra ID canary sends it too.
    private mutating func decodeGateway(_ node: YAMLNode, _ path: String) -> GatewayConfig? {
        guard let fields = fields(node, path, allowed: Self.gatewayKeys) else { return nil }
        var gateway = GatewayConfig()
        if let key = secret(fields, prefix: "subscription_key", required: false) {
            (gateway.subscriptionKey, gateway.subscriptionKeySource) = (key.0, key.1)
        }
        if let header = string(fields, "subscription_key_header"), let headerNode = fields.values["subscription_key_header"] {
            // A header name is a token (RFC 9110): no blanks, colons or separators.
            let allowed = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if header.isEmpty || !header.allSatisfy(allowed.contains) {
                report(headerNode, fields.path("subscription_key_header"), "must be an HTTP header name such as Ocp-Apim-Subscription-Key, found \"\(header)\"")
            } else if ["authorization", "api-key", "content-type", "accept", "host"].contains(header.lowercased()) {
                report(
                    headerNode, fields.path("subscription_key_header"),
                    "\(header) is a header the canary sets itself: name the gateway's subscription key header")
            } else {
                gateway.keyHeader = header
            }
        }
        if let text = string(fields, "subscription_key_with_token"), let flagNode = fields.values["subscription_key_with_token"] {
            switch text.lowercased() {
            case "true", "yes", "on": gateway.keyWithToken = true
            case "false", "no", "off": gateway.keyWithToken = false
            default: report(flagNode, fields.path("subscription_key_with_token"), "must be true or false, found \"\(text)\"")
            }
        }
        return gateway
    }

    private mutating func decodeResources(_ node: YAMLNode, credentialNames: [String]) -> [ResourceConfig] {
        guard case .sequence(let items, _) = node else {
            report(node, "resources", "expected a list of resources, found \(node.kindName)")
            return []
        }
        var result: [ResourceConfig] = []
        var seen: [String: YAMLMark] = [:]
        for (index, item) in items.enumerated() {
            let path = "resources[\(index)]"
            guard let fields = fields(item, path, allowed: Self.resourceKeys) else { continue }
            let name = string(fields, "name", required: true)
            let endpoint = url(fields, "endpoint", required: true)
            let deployment = string(fields, "deployment")
            let probe = choice(fields, "probe", as: ProbeKind.self) ?? .chatCompletions
            // The Responses API has no GA dated version: it defaults to v1.
            let apiVersion = string(fields, "api_version") ?? (probe == .responses ? APIVersion.v1Name : ResourceConfig.defaultAPIVersion)
            if let node = fields.values["api_version"], case .scalar = node {
                if let api = APIVersion(apiVersion) {
                    if probe == .responses, !api.isAtLeast(APIVersion.responsesSince) {
                        report(
                            node, fields.path("api_version"),
                            "probe responses needs api_version v1 or a version from \(APIVersion.responsesSince)-preview on, found \"\(apiVersion)\"")
                    }
                } else {
                    report(
                        node, fields.path("api_version"),
                        "api_version must be v1 or a dated version such as 2024-10-21 or 2025-04-01-preview, found \"\(apiVersion)\"")
                }
            }
            let key = secret(fields, prefix: "api_key", required: false)
            let credential = string(fields, "credential")
            let interval = duration(fields, "interval", within: CanaryConfig.intervalBounds)
            var armID: ARMResourceID?
            if let text = string(fields, "arm_id"), let node = fields.values["arm_id"] {
                armID = ARMResourceID(text)
                if armID == nil {
                    report(
                        node, fields.path("arm_id"),
                        "arm_id must be an account's Resource Manager id, "
                            + "/subscriptions/SUBSCRIPTION-ID/resourceGroups/GROUP/providers/Microsoft.CognitiveServices/accounts/NAME, found \"\(text)\""
                    )
                }
            }
            var caFile: String?
            if let path = filePath(fields, "ca_file"), let node = fields.values["ca_file"] {
                let resolved = path.hasPrefix("/") ? path : joinPath(environment.configDirectory, path)
                do {
                    _ = try environment.readFile(resolved)
                    caFile = resolved
                } catch {
                    report(node, fields.path("ca_file"), "cannot read \(shownPath(path, resolved: resolved)): \(error)")
                }
            }

            var gateway: GatewayConfig?
            if let node = fields.values["gateway"] {
                gateway = decodeGateway(node, fields.path("gateway"))
            }
            if let name, let nameNode = fields.values["name"] {
                if let first = seen[name] {
                    report(nameNode, fields.path("name"), "duplicate resource name \"\(name)\" (first used at line \(first.line))")
                }
                seen[name] = nameNode.mark
            }
            if probe.needsDeployment, deployment == nil, fields.values["deployment"] == nil {
                report(
                    item, fields.path("deployment"),
                    "missing required key \"deployment\" (needed by probe \(probe.rawValue); use probe: models to probe without one)")
            }
            checkCredentialKnown(fields, credential, among: credentialNames)
            if key == nil, credential == nil, fields.values["api_key_file"] == nil, fields.values["api_key_env"] == nil, fields.values["credential"] == nil,
                fields.values["gateway"] == nil
            {
                report(item, path, "a resource needs api_key_file, api_key_env or credential, or it probes nothing")
            }
            guard let name, let endpoint else { continue }
            var resource = ResourceConfig(
                name: name, endpoint: endpoint, deployment: deployment, probe: probe, apiVersion: apiVersion,
                apiKey: key?.0, apiKeySource: key?.1, credential: credential, interval: interval)
            resource.caFile = caFile
            resource.armID = armID
            resource.gateway = gateway
            resource.line = (fields.values["endpoint"] ?? item).mark.line
            resource.column = (fields.values["endpoint"] ?? item).mark.column
            result.append(resource)
        }
        return result
    }
}
