// The token audience an endpoint's cloud wants, and the scope to ask for it with.

/// What an endpoint's cloud expects of tokens.
public enum EndpointAudience {
    /// The `aud` the endpoint wants: `https://cognitiveservices.azure.com` for public Azure OpenAI,
    /// `.us` for Azure Government, `.cn` for Azure China, `https://ai.azure.com` for AI Foundry projects.
    public static func expected(for endpoint: String) -> String {
        let parsed = EndpointURL(endpoint)
        let host = parsed?.host ?? ""
        if host.hasSuffix(".services.ai.azure.com"), parsed?.path.contains("/api/projects/") == true { return "https://ai.azure.com" }
        if host.hasSuffix(".azure.us") { return "https://cognitiveservices.azure.us" }
        if host.hasSuffix(".azure.cn") { return "https://cognitiveservices.azure.cn" }
        return "https://cognitiveservices.azure.com"
    }

    /// The scope to ask for on that endpoint.
    public static func scope(for endpoint: String) -> String {
        expected(for: endpoint) + "/.default"
    }

    package static func same(_ a: String, _ b: String) -> Bool {
        func trim(_ text: String) -> String { text.hasSuffix("/") ? String(text.dropLast()) : text }
        return trim(a).lowercased() == trim(b).lowercased()
    }
}
