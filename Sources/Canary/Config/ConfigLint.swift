// Checks of a valid configuration that point at the usual Entra ID mistakes before any call is made.
import Posix

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
    /// A secret file (API key, client secret, private key) that other users may read.
    case secretFileMode = "secret_file_mode"
    /// Resource Manager says `disableLocalAuth` while a key canary is configured (control plane).
    case localAuthDisabled = "local_auth_disabled"
    /// Resource Manager shows no custom subdomain while an Entra ID canary is configured (control plane).
    case noCustomSubdomain = "no_custom_subdomain"
    /// Resource Manager says public network access is disabled (control plane).
    case publicNetworkDisabled = "public_network_disabled"
    /// Resource Manager lists no deployment of the probed name (control plane).
    case deploymentMissing = "deployment_missing"
    /// An `api_version` no Azure OpenAI surface has published (and older than the newest that is).
    case unknownAPIVersion = "unknown_api_version"

    /// The checks that come from Resource Manager's facts rather than from the file.
    public static let controlPlane: [LintCheck] = [.localAuthDisabled, .noCustomSubdomain, .publicNetworkDisabled, .deploymentMissing]
}

/// One warning about one resource.
public struct ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    /// The resource the warning is about; empty for a credential no resource uses.
    public var resource: String
    /// The credential, for a warning about one no resource uses.
    public var credential: String? = nil
    public var check: LintCheck
    public var message: String
    public var line: Int
    public var column: Int

    package init(resource: String, credential: String? = nil, check: LintCheck, message: String, line: Int, column: Int) {
        self.resource = resource
        self.credential = credential
        self.check = check
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String { "\(subject): \(message)" }

    /// "resource NAME" or "credential NAME".
    public var subject: String { credential.map { "credential \($0)" } ?? "resource \(resource)" }
}

/// Lints a configuration.
public enum ConfigLint {
    public static func warnings(_ config: CanaryConfig) -> [ConfigWarning] {
        var warnings = config.resources.flatMap { resource in
            placedChecks(resource, credential: resource.credential.flatMap { config.credential(named: $0)?.settings }).map { check, message, path in
                // A file's warning points at the key that names the file.
                let mark = path.flatMap { config.secretFileMarks[$0] } ?? ConfigMark(line: resource.line, column: resource.column)
                return ConfigWarning(resource: resource.name, check: check, message: message, line: mark.line, column: mark.column)
            }
        }
        // Credentials no resource uses are still checked: a readable secret is one either way.
        let used = Set(config.resources.compactMap(\.credential))
        for credential in config.credentials where !used.contains(credential.name) {
            for path in secretFiles(credential.settings) {
                guard let message = modeWarning(path) else { continue }
                let mark = config.secretFileMarks[path] ?? ConfigMark(line: 0, column: 0)
                warnings.append(
                    ConfigWarning(resource: "", credential: credential.name, check: .secretFileMode, message: message, line: mark.line, column: mark.column))
            }
        }
        return warnings
    }

    /// The static checks of one resource and the credential it names.
    public static func checks(_ resource: ResourceConfig, credential: CredentialSettings?) -> [(LintCheck, String)] {
        placedChecks(resource, credential: credential).map { ($0.0, $0.1) }
    }

    /// The same, with the secret file a warning is about.
    static func placedChecks(_ resource: ResourceConfig, credential: CredentialSettings?) -> [(LintCheck, String, String?)] {
        let scope = credential?.scope
        guard let url = EndpointURL(resource.endpoint) else { return [] }
        var found: [(LintCheck, String, String?)] = []
        if resource.credential != nil, url.host.hasSuffix(".api.cognitive.microsoft.com") {
            found.append(
                (
                    .regionalEndpoint,
                    "\(url.host) is a regional endpoint: Entra ID tokens need the resource's custom subdomain, https://<name>.openai.azure.com/", nil
                ))
        }
        // A gateway's endpoint is its URL and its API's suffix: a path is its nature.
        if url.path != "/", !url.path.hasPrefix("/api/projects/"), resource.gateway == nil {
            found.append((.extraPath, "the endpoint has the path \(url.path): give the resource's base URL only; the canary appends /openai/...", nil))
        }
        if let api = resource.api, !api.isPublishedOrNewer {
            found.append(
                (
                    .unknownAPIVersion,
                    "api_version \(resource.apiVersion) is not a version Azure OpenAI has published (the service answers 404 or 400 to it): use v1, "
                        + "2024-10-21 or a listed preview such as 2025-04-01-preview", nil
                ))
        }
        if url.scheme == "http", !isLoopback(url.host) {
            found.append((.insecureHTTP, "http:// to \(url.host): the key and token travel in clear text", nil))
        }
        // Behind a gateway the audience is whatever its token policy validates.
        if let scope, resource.gateway == nil {
            let wanted = EndpointAudience.scope(for: resource.endpoint)
            if !EndpointAudience.same(scope, wanted) {
                found.append((.scopeCloudMismatch, "the credential asks for \(scope); this endpoint's tokens need \(wanted)", nil))
            }
        }
        var paths: [String] = []
        if case .file(let path)? = resource.apiKeySource { paths.append(path) }
        if case .file(let path)? = resource.gateway?.subscriptionKeySource { paths.append(path) }
        if let credential { paths += secretFiles(credential) }
        for path in paths {
            if let message = modeWarning(path) { found.append((.secretFileMode, message, path)) }
        }
        return found
    }

    /// The warning about a secret file others may read, or nil.
    static func modeWarning(_ path: String) -> String? {
        guard let mode = fileMode(path), mode & 0o007 != 0 else { return nil }
        return "the secret file \(path) is readable by others (mode 0\(String(mode & 0o777, radix: 8))): chmod 0640 and give the aoai-canary group read access"
    }

    /// The files holding a credential's secret or private key.
    static func secretFiles(_ credential: CredentialSettings) -> [String] {
        switch credential {
        case .clientSecret(let settings):
            if case .file(let path) = settings.secretSource { return [path] }
            return []
        case .clientCertificate(let settings):
            return [settings.privateKeyPath ?? settings.certificatePath]
        default:
            return []
        }
    }

    static func fileMode(_ path: String) -> UInt32? {
        (try? System.status(path: path))?.permissions
    }

    /// Loopback by name or address: `localhost` and its subdomains (RFC 6761), `[::1]`, and
    /// 127.0.0.0/8 as an address (four numbers), not a name that merely starts with `127.`.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
