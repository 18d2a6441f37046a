// What a reload (or discovery's change) changes, worked out once: every part of the running agent
// reads this value instead of comparing configurations by its own rule.

/// The difference between the configuration in service and the one replacing it, by resource
/// and credential. Computed in time linear in the number of resources.
public struct ConfigChange: Sendable, Equatable {
    /// What about a resource changed. Only what decides how it is probed counts: where its
    /// entry stands in the file does not.
    public enum Aspect: Sendable, Hashable {
        case endpoint, deployment, probe, apiVersion, apiKey, credential, interval, timeout, caFile, armID
        /// The settings of the credential the resource names changed (same name, new settings).
        case credentialSettings
    }

    /// Resources only the new configuration has, in its order.
    public var addedResources: [String] = []
    /// Resources only the old configuration had.
    public var removedResources: Set<String> = []
    /// Resources in both whose probing changed, with what changed.
    public var changedResources: [String: Set<Aspect>] = [:]
    /// Resources in both whose probing did not change.
    public var unchangedResources: Set<String> = []

    public var addedCredentials: Set<String> = []
    public var removedCredentials: Set<String> = []
    /// Credentials in both whose settings changed.
    public var changedCredentials: Set<String> = []
    /// True when the timeout of every call changed (token caches and probes then start afresh).
    public var timeoutChanged = false
    public var listenChanged = false

    /// Whether a resource of the new configuration is probed exactly as before.
    public func isUnchanged(resource name: String) -> Bool { unchangedResources.contains(name) }

    /// Whether a credential of the new configuration keeps its tokens: same settings, same timeout.
    public func keepsTokens(credential name: String) -> Bool {
        !timeoutChanged && !addedCredentials.contains(name) && !changedCredentials.contains(name)
    }

    /// Everything in `new` counts as added: the first configuration of a process.
    public init(initial new: CanaryConfig) {
        addedResources = new.resources.map(\.name)
        addedCredentials = Set(new.credentials.map(\.name))
    }

    public init(from old: CanaryConfig, to new: CanaryConfig) {
        timeoutChanged = old.timeout != new.timeout
        listenChanged = old.listen != new.listen

        var oldCredentials: [String: CredentialSettings] = [:]
        for credential in old.credentials { oldCredentials[credential.name] = credential.settings }
        var newCredentials: [String: CredentialSettings] = [:]
        for credential in new.credentials {
            newCredentials[credential.name] = credential.settings
            switch oldCredentials[credential.name] {
            case nil: addedCredentials.insert(credential.name)
            case let settings? where settings != credential.settings: changedCredentials.insert(credential.name)
            default: break
            }
        }
        removedCredentials = Set(oldCredentials.keys.filter { newCredentials[$0] == nil })

        var oldResources: [String: ResourceConfig] = [:]
        oldResources.reserveCapacity(old.resources.count)
        for resource in old.resources { oldResources[resource.name] = resource }
        var seen = Set<String>()
        seen.reserveCapacity(new.resources.count)
        for resource in new.resources {
            seen.insert(resource.name)
            guard let before = oldResources[resource.name] else {
                addedResources.append(resource.name)
                continue
            }
            var aspects = Self.aspects(before, resource)
            if (before.interval ?? old.interval) != (resource.interval ?? new.interval) { aspects.insert(.interval) }
            if timeoutChanged { aspects.insert(.timeout) }
            if let name = resource.credential, name == before.credential, changedCredentials.contains(name) { aspects.insert(.credentialSettings) }
            if aspects.isEmpty { unchangedResources.insert(resource.name) } else { changedResources[resource.name] = aspects }
        }
        for name in oldResources.keys where !seen.contains(name) { removedResources.insert(name) }
    }

    /// What differs between two entries of one resource (not its interval as inherited).
    static func aspects(_ old: ResourceConfig, _ new: ResourceConfig) -> Set<Aspect> {
        var aspects: Set<Aspect> = []
        if old.endpoint != new.endpoint { aspects.insert(.endpoint) }
        if old.deployment != new.deployment { aspects.insert(.deployment) }
        if old.probe != new.probe { aspects.insert(.probe) }
        if old.apiVersion != new.apiVersion { aspects.insert(.apiVersion) }
        if old.apiKey != new.apiKey || old.apiKeySource != new.apiKeySource { aspects.insert(.apiKey) }
        if old.credential != new.credential { aspects.insert(.credential) }
        if old.caFile != new.caFile { aspects.insert(.caFile) }
        if old.armID != new.armID { aspects.insert(.armID) }
        return aspects
    }

    /// A line for the log: counts, and the names when there are few.
    public var summary: String {
        func names<S: Sequence>(_ items: S) -> String where S.Element == String {
            let sorted = items.sorted()
            return sorted.count <= 10 ? sorted.joined(separator: ", ") : sorted.prefix(10).joined(separator: ", ") + " and \(sorted.count - 10) more"
        }
        var parts: [String] = []
        if !addedResources.isEmpty { parts.append("added \(names(addedResources))") }
        if !removedResources.isEmpty { parts.append("removed \(names(removedResources))") }
        if !changedResources.isEmpty { parts.append("changed \(names(changedResources.keys))") }
        return parts.joined(separator: "; ")
    }
}
