// The info file `simulate --info-file` writes: everything a client needs to reach the demo world.
import JSON

extension DemoWorld {
    /// Where `simulate` wrote the files the info document names; nil fields are left out.
    public struct InfoFiles: Sendable {
        public var caFile: String?
        /// A PEM with the client certificate and its unencrypted key.
        public var clientCertificate: String?
        public var federatedTokenFile: String?

        public init(caFile: String? = nil, clientCertificate: String? = nil, federatedTokenFile: String? = nil) {
            self.caFile = caFile
            self.clientCertificate = clientCertificate
            self.federatedTokenFile = federatedTokenFile
        }
    }

    /// The info document as JSON: the authority, tenant, application and its secret, the
    /// resources (each at its path endpoint, reachable with no resolver help, and at its host
    /// endpoint), the managed identity's endpoints and header, and the admin API. The secrets
    /// are the demo's published values.
    public static func info(for simulator: AzureSimulator, files: InfoFiles) -> String {
        let authority = simulator.authority
        var members: [(String, JSONValue)] = []
        if let ca = files.caFile { members.append(("ca_file", .string(ca))) }
        members += [
            ("authority", .string(authority)),
            ("token_url", .string("\(authority)/\(tenantID)/oauth2/v2.0/token")),
            ("tenant_id", .string(tenantID)),
            ("client_id", .string(clientID)),
            ("client_secret", .string(clientSecret)),
            ("object_id", .string(objectID)),
        ]
        if let path = files.clientCertificate {
            members.append(("certificate", .object([("client_id", .string(clientID)), ("path", .string(path))])))
        }
        if let path = files.federatedTokenFile {
            members.append(
                (
                    "federated",
                    .object([
                        ("client_id", .string(clientID)), ("token_file", .string(path)),
                        ("issuer", .string(federatedIssuer)), ("subject", .string(federatedSubject)),
                    ])
                ))
        }
        members.append(
            (
                "managed_identity",
                .object([
                    ("imds_endpoint", .string("\(authority)/metadata/identity/oauth2/token")),
                    ("identity_endpoint", .string("\(authority)/msi/token")),
                    ("identity_header", .string(simulator.appServiceIdentityHeader)),
                    ("client_id", .string(managedIdentityClientID)),
                    ("object_id", .string(managedIdentityObjectID)),
                ])
            ))
        members.append(("admin", .string("\(authority)/_simulator")))
        // Resource Manager: at the authority, as https://management.azure.com is for Azure.
        members.append(
            (
                "resource_manager",
                .object([
                    ("endpoint", .string(authority)),
                    ("scope", .string("https://management.azure.com/.default")),
                    ("subscription_id", .string(SimulatedResource.defaultSubscription)),
                    ("resource_group", .string("rg-canary")),
                    ("discovered_resource_group", .string(discoveredResourceGroup)),
                    ("discovered", .array(discoveredResources.map(JSONValue.string))),
                    (
                        "user_assigned_identity",
                        .object([
                            ("name", .string(userAssignedIdentityName)), ("resource_group", .string("rg-canary")),
                            ("client_id", .string(userAssignedIdentityClientID)), ("principal_id", .string(userAssignedIdentityPrincipalID)),
                        ])
                    ),
                ])
            ))
        members.append(
            (
                "resources",
                .array(
                    resources.map { resource in
                        .object([
                            ("name", .string(resource.name)),
                            ("endpoint", .string(simulator.pathEndpoint(for: resource.name))),
                            ("host_endpoint", .string(simulator.endpoint(for: resource.name))),
                            ("api_key", .string(apiKey)),
                            ("deployment", .string(resource.deployment)),
                            ("api_version", resource.apiVersion.map(JSONValue.string) ?? .null),
                            ("simulates", .string(resource.shows)),
                            ("arm_id", .string(armID(of: resource.name))),
                            (
                                "deployments",
                                .array(
                                    deployments.map { name in
                                        let model = SimulatedDeployment.inferred(fromName: name)
                                        return .object([
                                            ("name", .string(name)), ("model", .string(model.model)), ("version", .string(model.version)),
                                            ("kind", .string(model.family.rawValue)),
                                        ])
                                    })
                            ),
                        ])
                    })
            ))
        members.append(
            (
                "gateways",
                .array([
                    .object([
                        ("name", .string(gatewayName)),
                        ("endpoint", .string(simulator.gatewayEndpoint(for: gatewayName))),
                        ("backend", .string("via-gateway")),
                        ("subscription_key", .string(gatewayKey)),
                        ("subscription_key_header", .string("Ocp-Apim-Subscription-Key")),
                        ("jwt_audience", .string(gatewayAudience)),
                        ("identity_object_id", .string(gatewayIdentityObjectID)),
                    ])
                ])
            ))
        return JSONValue.object(members).rendered
    }
}
