// The Azure OpenAI API surface a resource's `api_version` selects: the v1 API or a dated version.

/// `v1` (the API under `/openai/v1/`, with no `api-version` parameter) or a dated version such as
/// `2024-10-21` or `2025-04-01-preview`, sent as `api-version`. Dated versions compare by date,
/// which is what decides the request fields they take.
public enum APIVersion: Sendable, Equatable {
    case v1
    /// `date` is `YYYY-MM-DD`; `text` the version as written, with any `-preview` suffix.
    case dated(date: String, text: String)

    /// The value `api_version: v1` selects the v1 API with.
    public static let v1Name = "v1"
    /// The first dated version with `max_completion_tokens` (2024-09-01-preview).
    static let maxCompletionTokensSince = "2024-09-01"
    /// The first dated version with the Responses API (2025-03-01-preview).
    public static let responsesSince = "2025-03-01"

    /// Parses `v1`, `YYYY-MM-DD` or `YYYY-MM-DD-<label>` (such as `-preview`); nil otherwise.
    public init?(_ text: String) {
        if text == Self.v1Name {
            self = .v1
            return
        }
        let bytes = Array(text.utf8)
        guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[0..<4].allSatisfy(Self.isDigit), bytes[5..<7].allSatisfy(Self.isDigit), bytes[8..<10].allSatisfy(Self.isDigit)
        else { return nil }
        let label = bytes[10...]
        if !label.isEmpty {
            guard label.first == UInt8(ascii: "-"), label.count > 1,
                label.dropFirst().allSatisfy({ Self.isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) })
            else { return nil }
        }
        self = .dated(date: String(decoding: bytes[0..<10], as: UTF8.self), text: text)
    }

    /// True for v1 and for dated versions on or after `date` (`YYYY-MM-DD`).
    public func isAtLeast(_ date: String) -> Bool {
        switch self {
        case .v1: return true
        case .dated(let own, _): return own >= date
        }
    }

    /// Whether chat completions take `max_completion_tokens`, the only limit reasoning models
    /// take: v1, and the previews from 2024-09-01-preview on. The GA 2024-10-21 specification
    /// and every older version list only `max_tokens`, and reasoning models are refused on all
    /// of them anyway ("enabled only for api versions 2024-12-01-preview and later").
    public var hasMaxCompletionTokens: Bool {
        switch self {
        case .v1: return true
        case .dated(let date, let text): return date >= Self.maxCompletionTokensSince && (text.count > 10 || date >= Self.reasoningSince)
        }
    }

    /// The first dated version that serves reasoning models (2024-12-01-preview).
    public static let reasoningSince = "2024-12-01"

    /// The dated versions Azure OpenAI's data-plane REST specifications publish
    /// (Azure/azure-rest-api-specs, specification/cognitiveservices/data-plane/AzureOpenAI,
    /// inference and authoring, stable and preview), up to `latestPublished`.
    public static let published: Set<String> = [
        "2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21",
        "2022-03-01-preview", "2022-06-01-preview", "2023-03-15-preview", "2023-04-01-preview", "2023-04-15-preview", "2023-06-01-preview",
        "2023-07-01-preview", "2023-08-01-preview", "2023-09-01-preview", "2023-10-01-preview", "2023-11-01-preview", "2023-12-01-preview",
        "2024-02-15-preview", "2024-03-01-preview", "2024-04-01-preview", "2024-05-01-preview", "2024-07-01-preview", "2024-08-01-preview",
        "2024-09-01-preview", "2024-10-01-preview", "2024-12-01-preview", "2025-01-01-preview", "2025-02-01-preview", "2025-03-01-preview",
        "2025-04-01-preview",
    ]
    /// The newest date in `published`: a later version may be newer than the list, not wrong.
    public static let latestPublished = "2025-04-01"

    /// True for v1, for a published version, and for a version dated after the newest published
    /// one; false for a version no Azure OpenAI surface has had (`1999-01-01`, `2024-11-21`), which
    /// the service answers with 404 "Resource not found" or 400 "API version not supported".
    public var isPublishedOrNewer: Bool {
        switch self {
        case .v1: return true
        case .dated(let date, let text): return Self.published.contains(text) || date > Self.latestPublished
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
