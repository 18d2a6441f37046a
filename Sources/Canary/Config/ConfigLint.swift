// Checks of a valid configuration that point at the usual Entra ID mistakes before any call is made.

/// The checks; raw values are the `check` label of `aoai_canary_config_warnings`.
public enum LintCheck: String, Sendable, CaseIterable, Equatable {
    /// A regional endpoint (`https://<region>.api.cognitive.microsoft.com`) with an Entra ID canary: works with a key only.
    case regionalEndpoint = "regional_endpoint"
    /// Path segments after the host (`/openai`, `/openai/deployments/...`).
    case extraPath = "extra_path"
    /// `http://` to a host that is not loopback: keys and tokens in clear text.
    case insecureHTTP = "insecure_http"
    /// The credential's scope is not the one the endpoint's cloud wants.
    case scopeCloudMismatch = "scope_cloud_mismatch"
    /// A key canary on a resource the service says has local auth disabled (found at run time).
    case keyAuthDisabled = "key_auth_disabled"
}

/// One warning about one resource.
public struct ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    public var resource: String
    public var check: LintCheck
    public var message: String
    public var line: Int
    public var column: Int

    public var description: String { "\(resource): \(message)" }
}

/// Lints a configuration.
public enum ConfigLint {
    public static func warnings(_ config: CanaryConfig) -> [ConfigWarning] {
        config.resources.flatMap { resource in
            checks(resource, scope: resource.credential.flatMap { config.credential(named: $0)?.settings.scope }).map { check, message in
                ConfigWarning(resource: resource.name, check: check, message: message, line: resource.line, column: resource.column)
            }
        }
    }

    /// The static checks of one resource; `scope` is its credential's, when it has one.
    public static func checks(_ resource: ResourceConfig, scope: String?) -> [(LintCheck, String)] {
        guard let url = EndpointURL(resource.endpoint) else { return [] }
        var found: [(LintCheck, String)] = []
        if resource.credential != nil, url.host.hasSuffix(".api.cognitive.microsoft.com") {
            found.append((.regionalEndpoint, "\(url.host) is a regional endpoint: Entra ID tokens need the resource's custom subdomain, https://<name>.openai.azure.com/"))
        }
        if url.path != "/", !url.path.hasPrefix("/api/projects/") {
            found.append((.extraPath, "the endpoint has the path \(url.path): give the resource's base URL only; the canary appends /openai/..."))
        }
        if url.scheme == "http", !isLoopback(url.host) {
            found.append((.insecureHTTP, "http:// to \(url.host): the key and token travel in clear text"))
        }
        if let scope {
            let wanted = EndpointAudience.scope(for: resource.endpoint)
            if !EndpointAudience.same(scope, wanted) {
                found.append((.scopeCloudMismatch, "the credential asks for \(scope); this endpoint's tokens need \(wanted)"))
            }
        }
        return found
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasSuffix(".localhost") || host.hasPrefix("127.") || host == "[::1]"
    }
}
