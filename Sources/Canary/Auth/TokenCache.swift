// One credential's token cache: shared by all its resources, at most one acquisition in flight.
import HTTPClient
import Support
import Synchronization

/// What a token acquisition attempt produced, for metrics and logs.
public struct TokenAcquisitionEvent: Sendable {
    public var credential: String
    public var result: Result<CachedToken, TokenAcquisitionError>
    public var durationSeconds: Double
    /// True when the attempt failed but a still-valid older token keeps serving.
    public var keptOldToken: Bool
    /// The credential material's expiry as known after the attempt.
    public var credentialExpiries: [CredentialExpiry]
}

/// Where a token cache reports its acquisitions; re-pointed when a reload keeps the cache for a
/// new agent.
public final class TokenEventSink: Sendable {
    private let target: Mutex<@Sendable (TokenAcquisitionEvent) -> Void>

    public init(_ target: @escaping @Sendable (TokenAcquisitionEvent) -> Void) {
        self.target = Mutex(target)
    }

    public func redirect(to target: @escaping @Sendable (TokenAcquisitionEvent) -> Void) {
        self.target.withLock { $0 = target }
    }

    func send(_ event: TokenAcquisitionEvent) {
        let target = self.target.withLock { $0 }
        target(event)
    }
}

/// Serves tokens for one credential, refreshing them as `TokenCacheState` decides.
public actor TokenCache {
    public nonisolated let credential: String
    private let source: any TokenSource
    private let client: HTTPClient
    private let clock: any CanaryClock
    private let timeoutSeconds: Double
    /// Where acquisitions are reported.
    public nonisolated let events: TokenEventSink
    private var state: TokenCacheState
    private var acquiring = false
    /// Both clocks' readings when the cached token arrived: its age is measured on the clock that
    /// does not step, so setting the wall clock neither expires nor extends it.
    private var tokenArrived: (wall: Double, monotonic: Double)?
    private var waiters: [CheckedContinuation<Result<CachedToken, TokenAcquisitionError>, Never>] = []

    public init(
        credential: String, source: any TokenSource, client: HTTPClient, clock: any CanaryClock, timeoutSeconds: Double, retryInterval: Double = 30,
        observe: @escaping @Sendable (TokenAcquisitionEvent) -> Void
    ) {
        self.credential = credential
        self.source = source
        self.client = client
        self.clock = clock
        self.timeoutSeconds = timeoutSeconds
        self.events = TokenEventSink(observe)
        self.state = TokenCacheState(retryInterval: retryInterval)
    }

    /// The current token, as the state machine last left it (for status and tests).
    public var current: CachedToken? { state.token }

    /// A token that is valid now, refreshing first when the policy says so.
    public func token() async throws(TokenAcquisitionError) -> CachedToken {
        let decision = state.decide(now: now)
        if case .use(let token) = decision { return token }
        if acquiring {
            // Someone is already asking Entra ID: share their answer.
            let result = await withCheckedContinuation { waiters.append($0) }
            return try result.get()
        }
        if case .fail(let error) = decision { throw error }
        acquiring = true
        let result = await acquire()
        acquiring = false
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.resume(returning: result) }
        return try result.get()
    }

    /// Now, for the refresh policy: the wall time at which the cached token arrived plus the
    /// monotonic time since, which is the wall time unless someone stepped the clock.
    private var now: Double {
        guard state.token != nil, let tokenArrived else { return clock.wallSeconds }
        return tokenArrived.wall + (clock.monotonicSeconds - tokenArrived.monotonic)
    }

    private func acquire() async -> Result<CachedToken, TokenAcquisitionError> {
        let start = clock.monotonicSeconds
        state.attemptStarted(now: now)
        do {
            let token = try await source.acquireToken(AcquisitionContext(client: client, clock: clock, timeoutSeconds: timeoutSeconds))
            state.succeeded(token)
            tokenArrived = (clock.wallSeconds, clock.monotonicSeconds)
            events.send(
                TokenAcquisitionEvent(
                    credential: credential, result: .success(token), durationSeconds: clock.monotonicSeconds - start,
                    keptOldToken: false, credentialExpiries: source.credentialExpiries()))
            return .success(token)
        } catch {
            if case .transport(.cancelled) = error {
                // Cancelled by a stop or reload: not an attempt, so not counted or remembered.
                state.lastAttempt = nil
                return .failure(error)
            }
            let decision = state.failed(error, now: now)
            let kept: Bool
            let result: Result<CachedToken, TokenAcquisitionError>
            switch decision {
            case .use(let token):
                kept = true
                result = .success(token)
            case .fail(let failure):
                kept = false
                result = .failure(failure)
            case .acquire:
                kept = false
                result = .failure(error)
            }
            events.send(
                TokenAcquisitionEvent(
                    credential: credential, result: .failure(error), durationSeconds: clock.monotonicSeconds - start,
                    keptOldToken: kept, credentialExpiries: source.credentialExpiries()))
            return result
        }
    }
}
