// Secrets taken back out of text that came from outside: an upstream that echoes a key, a client
// secret or a token must not get it republished in logs, metrics, errors or the status page.
import Synchronization

/// Every secret the agent holds (registered as it is made) and the rule for JWT-shaped text.
/// `clean` is applied to text from outside (answers, CLI output) before it is stored or shown.
public enum Redaction {
    /// What replaces a secret.
    public static let marker = "<redacted>"
    /// Shorter values are not treated as secrets: they would match ordinary words.
    static let minimumLength = 8
    /// How many tokens are remembered: they are many over time, and only recent ones can echo.
    static let recentLimit = 64
    /// An echo of only the start of a secret is still caught from this many characters on.
    static let prefixLength = 12
    /// Text past this many characters is dropped before cleaning: nothing shows that much.
    static let textLimit = 16_384

    /// Secrets by their first `prefixLength` characters, so cleaning costs a lookup per
    /// position of the text, not a search per secret (an agent may hold thousands of keys).
    private struct Known {
        var byPrefix: [Substring: [String]] = [:]
        var recent: [String] = []
    }
    private static let known = Mutex(Known())

    /// Remembers a secret. Tokens (long, and many over time) are kept in a ring of recent ones;
    /// keys and client secrets for the process's life.
    public static func remember(_ secret: String) {
        guard secret.count >= minimumLength else { return }
        // An upstream may echo a secret percent-encoded (as it was sent in a form), or cut by a
        // character or two at the start: those forms are secrets too.
        if secret.utf8.count <= 512 {
            for encoded in Set([percentEncoded(secret), percentEncoded(secret, plusForSpace: true), percentEncoded(secret, uppercase: false)])
            where encoded != secret {
                rememberExactly(encoded)
            }
            for offset in 1...3 where secret.count - offset >= prefixLength {
                rememberExactly(String(secret.dropFirst(offset)))
            }
        }
        rememberExactly(secret)
    }

    private static func rememberExactly(_ secret: String) {
        let prefix = Substring(secret.prefix(prefixLength))
        known.withLock { known in
            guard known.byPrefix[prefix]?.contains(secret) != true else { return }
            known.byPrefix[prefix, default: []].append(secret)
            guard secret.utf8.count > 512 else { return }
            known.recent.append(secret)
            if known.recent.count > recentLimit {
                let old = known.recent.removeFirst()
                let oldPrefix = Substring(old.prefix(prefixLength))
                known.byPrefix[oldPrefix]?.removeAll { $0 == old }
                if known.byPrefix[oldPrefix]?.isEmpty == true { known.byPrefix[oldPrefix] = nil }
            }
        }
    }

    /// `text` (its first 16 KiB characters) with every JWT-shaped run (`eyJ` and base64url),
    /// every PEM block and every remembered secret, whole or echoed from its first 12 characters
    /// on, replaced by `<redacted>`. The shapes go first: a remembered secret that starts like a
    /// PEM block (a private key the agent holds) would otherwise take only the block's header
    /// and leave its body showing.
    public static func clean(_ text: String) -> String {
        let characters = Array(cleanShapes(String(text.prefix(textLimit))))
        var output = ""
        output.reserveCapacity(characters.count)
        var index = 0
        known.withLock { known in
            guard !known.byPrefix.isEmpty else {
                output = String(characters)
                index = characters.count
                return
            }
            scan: while index < characters.count {
                // Secrets shorter than the prefix are keyed by their whole value: try each length.
                for length in stride(from: min(prefixLength, characters.count - index), through: minimumLength, by: -1) {
                    let window = Substring(String(characters[index..<(index + length)]))
                    if let candidates = known.byPrefix[window] {
                        // The longest stretch any candidate matches from here.
                        var longest = 0
                        for secret in candidates {
                            var matched = 0
                            for (offset, character) in secret.enumerated() {
                                guard index + offset < characters.count, characters[index + offset] == character else { break }
                                matched = offset + 1
                            }
                            longest = max(longest, matched)
                        }
                        if longest >= length {
                            output += marker
                            index += longest
                            continue scan
                        }
                    }
                }
                output.append(characters[index])
                index += 1
            }
        }
        return output
    }

    /// `text` with JWT-shaped runs and PEM blocks replaced, for text the agent wrote itself
    /// (configuration errors), which can quote a value pasted into the wrong key but no secret
    /// it holds.
    public static func cleanShapes(_ text: String) -> String {
        redactPEM(redactJWTs(text))
    }

    /// Whether `text` looks like a secret rather than a name: a PEM block, a JWT, more than one
    /// line, or longer than any path. A file key holding such a value was pasted into by
    /// mistake, and its value is never repeated.
    public static func looksLikeSecret(_ text: String) -> Bool {
        text.count > 1024 || text.contains("-----BEGIN") || text.contains(where: \.isNewline) || redactJWTs(text) != text
    }

    /// Replaces every PEM block (`-----BEGIN …` up to its `-----END …-----`, or to the end of
    /// the text when cut) with the marker: a private key pasted into the wrong place.
    static func redactPEM(_ text: String) -> String {
        guard text.contains("-----BEGIN") else { return text }
        var output = ""
        var rest = Substring(text)
        while let begin = rest.firstRange(of: "-----BEGIN") {
            output += rest[..<begin.lowerBound] + marker
            guard let end = rest[begin.upperBound...].firstRange(of: "-----END") else { return output }
            // Past the END line's closing dashes.
            let afterEnd = rest[end.upperBound...]
            if let close = afterEnd.firstRange(of: "-----") {
                rest = afterEnd[close.upperBound...]
            } else {
                return output
            }
        }
        return output + rest
    }

    /// Replaces `eyJ` followed by at least ten base64url characters (and any dotted segments):
    /// the start of a JWT's base64 `{"`, whole or cut.
    private static func redactJWTs(_ text: String) -> String {
        guard text.contains("eyJ") else { return text }
        func isJWTCharacter(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".") }
        var output = ""
        var rest = Substring(text)
        while let range = rest.firstRange(of: "eyJ") {
            output += rest[..<range.lowerBound]
            let run = rest[range.lowerBound...].prefix(while: isJWTCharacter)
            if run.count >= 13 {
                output += marker
            } else {
                output += run
            }
            rest = rest[run.endIndex...]
        }
        return output + rest
    }
}
