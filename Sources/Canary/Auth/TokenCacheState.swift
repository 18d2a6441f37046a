// The refresh policy as a value-type state machine: it decides, the cache acts.

/// One credential's cached token and the memory of its last attempt.
public struct TokenCacheState: Sendable {
    public var token: CachedToken?
    public var lastAttempt: Double?
    public var lastFailure: TokenAcquisitionError?
    /// At most one acquisition attempt per this many seconds (azure-identity uses 30).
    public var retryInterval: Double

    public init(retryInterval: Double = 30) {
        self.retryInterval = retryInterval
    }

    /// What a caller that needs a token should do now.
    public enum Decision: Sendable, Equatable {
        /// Send this token.
        case use(CachedToken)
        /// Acquire a new token (one caller does; the others wait for it).
        case acquire
        /// Fail without asking Entra ID again so soon.
        case fail(TokenAcquisitionError)
    }

    public func decide(now: Double) -> Decision {
        if let token, now < token.refreshAt, now < token.expiresOn {
            return .use(token)
        }
        if let lastAttempt, now - lastAttempt < retryInterval, now >= lastAttempt {
            // Attempted recently: keep a still-valid token, or repeat the last failure.
            if let token, now < token.expiresOn { return .use(token) }
            if let lastFailure { return .fail(expiredOr(lastFailure)) }
        }
        return .acquire
    }

    /// Records the start of an attempt.
    public mutating func attemptStarted(now: Double) {
        lastAttempt = now
    }

    /// Records a new token.
    public mutating func succeeded(_ newToken: CachedToken) {
        token = newToken
        lastFailure = nil
    }

    /// Records a failed attempt and says what the waiting callers get: the old token while it
    /// is still valid, else the failure.
    public mutating func failed(_ error: TokenAcquisitionError, now: Double) -> Decision {
        lastFailure = error
        if let token, now < token.expiresOn { return .use(token) }
        return .fail(expiredOr(error))
    }

    private func expiredOr(_ error: TokenAcquisitionError) -> TokenAcquisitionError {
        token == nil ? error : .expired(lastFailure: error.description)
    }
}
