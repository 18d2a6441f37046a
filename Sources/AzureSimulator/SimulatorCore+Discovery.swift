// Entra ID's discovery documents, which MSAL reads before it asks for a token.
import HTTPServer
import JSON

extension SimulatorCore {
    /// Answers the OpenID configuration (`/{tenant}/v2.0/.well-known/openid-configuration`, and
    /// the v1 one without `v2.0`) and instance discovery (`/common/discovery/instance`); nil for
    /// any other request.
    func handleDiscovery(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.method == "GET" else { return nil }
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false)
        let base = authority.withLock { $0 }
        if segments.count == 4, segments[0].isEmpty, segments[1] == "common", segments[2] == "discovery", segments[3] == "instance" {
            let host = base.split(separator: "/").dropFirst().first.map(String.init) ?? ""
            var tenant = "common"
            if let endpoint = request.queryValue("authorization_endpoint"),
                let path = endpoint.split(separator: "/", omittingEmptySubsequences: true).dropFirst(2).first
            {
                tenant = String(path)
            }
            return discoveryResponse(
                200,
                .object([
                    ("tenant_discovery_endpoint", .string("\(base)/\(tenant)/v2.0/.well-known/openid-configuration")),
                    ("api-version", .string("1.1")),
                    (
                        "metadata",
                        .array([
                            .object([
                                ("preferred_network", .string(host)),
                                ("preferred_cache", .string(host)),
                                ("aliases", .array([.string(host)])),
                            ])
                        ])
                    ),
                ]))
        }
        let v2 = segments.count == 5 && segments[2] == "v2.0" && segments[3] == ".well-known" && segments[4] == "openid-configuration"
        let v1 = segments.count == 4 && segments[2] == ".well-known" && segments[3] == "openid-configuration"
        guard v1 || v2, segments[0].isEmpty, !segments[1].isEmpty else { return nil }
        let tenant = FormEncoding.pathSegment(segments[1])
        let known = state.withLock { $0.tenants.contains(tenant.lowercased()) }
        let aliases = ["common", "organizations", "consumers"]
        guard known || aliases.contains(tenant.lowercased()) else {
            return entraError(code: 90002, tenant: tenant, clientID: "", assertion: nil)
        }
        let issuerTenant = aliases.contains(tenant.lowercased()) ? "{tenantid}" : tenant
        let root = "\(base)/\(tenant)"
        let version = v2 ? "/v2.0" : ""
        return discoveryResponse(
            200,
            .object([
                ("token_endpoint", .string("\(root)/oauth2\(version)/token")),
                ("token_endpoint_auth_methods_supported", .array(["client_secret_post", "private_key_jwt", "client_secret_basic"].map(JSONValue.string))),
                ("jwks_uri", .string("\(base)/\(tenant)/discovery\(version)/keys")),
                ("response_modes_supported", .array(["query", "fragment", "form_post"].map(JSONValue.string))),
                ("subject_types_supported", .array([.string("pairwise")])),
                ("id_token_signing_alg_values_supported", .array([.string("RS256")])),
                ("response_types_supported", .array(["code", "id_token", "code id_token", "id_token token"].map(JSONValue.string))),
                ("scopes_supported", .array(["openid", "profile", "email", "offline_access"].map(JSONValue.string))),
                ("issuer", .string(v2 ? "\(base)/\(issuerTenant)/v2.0" : "https://sts.windows.net/\(issuerTenant)/")),
                ("request_uri_parameter_supported", .bool(false)),
                ("userinfo_endpoint", .string("\(base)/oidc/userinfo")),
                ("authorization_endpoint", .string("\(root)/oauth2\(version)/authorize")),
                ("device_authorization_endpoint", .string("\(root)/oauth2\(version)/devicecode")),
                ("http_logout_supported", .bool(true)),
                ("frontchannel_logout_supported", .bool(true)),
                ("end_session_endpoint", .string("\(root)/oauth2\(version)/logout")),
                ("claims_supported", .array(["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid", "oid"].map(JSONValue.string))),
                ("kerberos_endpoint", .string("\(root)/kerberos")),
                ("tenant_region_scope", .string("NA")),
                ("cloud_instance_name", .string("microsoftonline.com")),
                ("cloud_graph_host_name", .string("graph.windows.net")),
                ("msgraph_host", .string("graph.microsoft.com")),
                ("rbac_url", .string("https://pas.windows.net")),
            ]))
    }

    private func discoveryResponse(_ status: Int, _ body: JSONValue) -> HTTPResponse {
        HTTPResponse(
            status: status, contentType: "application/json; charset=utf-8", body: body.rendered,
            headers: [
                ("Cache-Control", "max-age=86400, private"),
                ("Date", HTTPDate.imfFixdate(now())),
            ])
    }
}
