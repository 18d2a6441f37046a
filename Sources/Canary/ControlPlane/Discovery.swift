// Finding resources through Resource Manager: the accounts of a subscription (or resource group)
// whose kind and tags match, turned into resources to probe like listed ones.
import Config
import JSON
import Support

/// What one pass of discovery found.
public struct DiscoveryResult: Sendable, Equatable {
    /// Resources to probe, named by their account name, in the order found.
    public var resources: [ResourceConfig]
    /// How many were found per subscription (for `aoai_canary_discovered_resources`).
    public var counts: [String: Int]
    /// What could not be listed or read, and why; a subscription that could not be listed keeps
    /// what it had (`failedSubscriptions`), so a passing Resource Manager outage removes nothing.
    public var problems: [String]
    public var failedSubscriptions: Set<String>
    /// Set when Resource Manager throttled the pass: seconds to wait before listing again.
    public var retryAfter: Double? = nil

    public init(resources: [ResourceConfig] = [], counts: [String: Int] = [:], problems: [String] = [], failedSubscriptions: Set<String> = []) {
        self.resources = resources
        self.counts = counts
        self.problems = problems
        self.failedSubscriptions = failedSubscriptions
    }
}

/// Builds the configuration the agent runs from the file's, the discovered resources and the shard.
public enum EffectiveConfig {
    public static func merge(file: CanaryConfig, discovered: [ResourceConfig], shard: Shard?, problem: (String) -> Void = { _ in }) -> CanaryConfig {
        var config = file
        var names = Set(file.resources.map(\.name))
        for resource in discovered {
            guard !names.contains(resource.name) else {
                problem(
                    "discovered account \(resource.name) (\(resource.armID?.description ?? "")) has the name of a listed or already discovered resource: not "
                        + "probed; list it by hand under another name to probe it"
                )
                continue
            }
            names.insert(resource.name)
            config.resources.append(resource)
        }
        if let shard { config.resources = config.resources.filter(shard.owns) }
        return config
    }
}

extension ControlPlaneReader {
    /// The most one pass reads: pages per listing, accounts and bytes in all. Past any of them,
    /// or on a next link already followed, the listing stops, says so, and its subscription
    /// keeps what it had; a Resource Manager that pages forever costs bounded time and memory.
    public static let maxPagesPerListing = 5_000
    public static let maxAccountsPerPass = 250_000
    public static let maxBytesPerPass = 512 << 20

    /// Lists the accounts each entry asks for and makes resources of them. Keys from `listKeys`
    /// are held in memory only, and remembered for redaction. `owns` picks the accounts this
    /// agent probes (its shard): keys are asked for those only.
    public func discover(_ entries: [DiscoveryConfig], token: String, owns: (ResourceConfig) -> Bool = { _ in true }) async -> DiscoveryResult {
        var result = DiscoveryResult()
        var seen: Set<String> = []
        var bytes = 0
        var listed = 0
        for entry in entries {
            var path = "/subscriptions/\(entry.subscription)"
            if let group = entry.resourceGroup { path += "/resourceGroups/\(group)" }
            path += "/providers/Microsoft.CognitiveServices/accounts"
            let listing = "listing accounts of subscription \(entry.subscription)\(entry.resourceGroup.map { " group \($0)" } ?? "")"
            var accounts: [JSONValueAccount] = []
            var next: String? = path
            var followed: Set<String> = []
            var pages = 0
            var failed = false
            func stop(_ problem: String) {
                result.problems.append("\(listing): \(problem); what it found before is kept")
                failed = true
                next = nil
            }
            while let page = next {
                pages += 1
                switch await get(page, api: Self.accountsAPIVersion, token: token, bytes: &bytes) {
                case .success(let json):
                    let values = json["value"]?.arrayValue ?? []
                    accounts += values.map(JSONValueAccount.init)
                    listed += values.count
                    next = nil
                    guard let link = json["nextLink"]?.stringValue, !link.isEmpty else { break }
                    guard let url = Self.nextPage(link, endpoint: endpoint) else {
                        stop("a nextLink that is not on \(endpoint) was not followed")
                        break
                    }
                    if !followed.insert(url).inserted {
                        stop("the nextLink repeats a page already read (a paging loop)")
                    } else if pages >= Self.maxPagesPerListing {
                        stop("more than \(Self.maxPagesPerListing) pages")
                    } else if listed > Self.maxAccountsPerPass {
                        stop("more than \(Self.maxAccountsPerPass) accounts in one pass")
                    } else if bytes > Self.maxBytesPerPass {
                        stop("more than \(Self.maxBytesPerPass >> 20) MiB read in one pass")
                    } else {
                        next = url
                    }
                case .failure(let problem):
                    result.problems.append("\(listing): \(problem)")
                    failed = true
                    next = nil
                    if let wait = problem.retryAfter { result.retryAfter = max(result.retryAfter ?? 0, wait) }
                }
            }
            // Throttled: the entries left are not listed this pass, and keep what they had.
            if result.retryAfter != nil {
                result.failedSubscriptions.formUnion(entries.map { $0.subscription.lowercased() })
                break
            }
            if failed { result.failedSubscriptions.insert(entry.subscription.lowercased()) }
            for account in accounts {
                guard let id = account.id.flatMap(ARMResourceID.init), let name = account.name,
                    entry.kinds.contains(where: { $0.lowercased() == (account.kind ?? "").lowercased() }),
                    entry.tags.allSatisfy({ account.tags[$0.key] == $0.value })
                else { continue }
                guard !seen.contains(id.description.lowercased()) else { continue }
                seen.insert(id.description.lowercased())
                guard let endpoint = account.endpoint else {
                    result.problems.append("\(name): the account lists no endpoint")
                    continue
                }
                var resource = ResourceConfig(
                    name: name, endpoint: endpoint.hasSuffix("/") ? endpoint : endpoint + "/", probe: entry.probe,
                    credential: entry.credential, interval: entry.interval)
                resource.armID = id
                if entry.probe.needsDeployment {
                    if let deployment = entry.deployment, deployment != DiscoveryConfig.autoDeployment {
                        resource.deployment = deployment
                    } else {
                        switch await get(id.description + "/deployments", api: Self.accountsAPIVersion, token: token) {
                        case .success(let json):
                            let fitting = Self.deployments(json).first { Self.fits($0, entry.probe) }
                            guard let fitting else {
                                result.problems.append("\(name): no deployment fits probe \(entry.probe.rawValue) (deployment: auto); not probed")
                                continue
                            }
                            resource.deployment = fitting.name
                        case .failure(let problem):
                            result.problems.append("\(name): deployments: \(problem); not probed")
                            continue
                        }
                    }
                }
                // Keys are asked for only where this agent probes: other shards ask for theirs.
                if entry.apiKey == .listKeys, owns(resource) {
                    switch await get(id.description + "/listKeys", api: Self.accountsAPIVersion, token: token, method: "POST") {
                    case .success(let json):
                        if let key = json["key1"]?.stringValue, !key.isEmpty {
                            Redaction.remember(key)
                            // A key goes into a header: anything but visible ASCII could add headers of its own.
                            guard key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                                result.problems.append(
                                    "\(name): listKeys gave a key1 with characters a header cannot carry (control characters or spaces); no key canary")
                                break
                            }
                            resource.apiKey = Secret(key)
                        } else {
                            result.problems.append("\(name): listKeys gave no key1")
                        }
                    case .failure(let problem):
                        result.problems.append("\(name): listKeys: \(problem)")
                    }
                }
                // Another shard's account is kept (without a key) for the shard filter to drop.
                guard resource.apiKey != nil || resource.credential != nil || !owns(resource) else { continue }
                result.resources.append(resource)
                result.counts[entry.subscription, default: 0] += 1
            }
            if result.counts[entry.subscription] == nil { result.counts[entry.subscription] = 0 }
        }
        return result
    }

    /// Whether a deployment's model serves the probe: embedding models serve embeddings only.
    static func fits(_ deployment: DeploymentFacts, _ probe: ProbeKind) -> Bool {
        let embedding = (deployment.model ?? deployment.name).lowercased().contains("embedding")
        switch probe {
        case .embeddings: return embedding
        case .chatCompletions, .responses: return !embedding
        case .models: return true
        }
    }
}

/// The fields of a listed account that discovery uses.
struct JSONValueAccount {
    var id: String?
    var name: String?
    var kind: String?
    var tags: [String: String] = [:]
    /// The OpenAI endpoint (an AIServices account lists it among its endpoints), else the account's.
    var endpoint: String?

    init(_ json: JSONValue) {
        id = json["id"]?.stringValue
        name = json["name"]?.stringValue
        kind = json["kind"]?.stringValue
        for (key, value) in json["tags"]?.objectMembers ?? [] { if let text = value.stringValue { tags[key] = text } }
        let properties = json["properties"]
        endpoint = properties?["endpoints"]?["OpenAI Language Model Instance API"]?.stringValue ?? properties?["endpoint"]?.stringValue
    }
}
