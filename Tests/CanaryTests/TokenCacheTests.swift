// The token cache actor with a manual clock and a scripted source: refresh timing without sleeping.
import CanaryTestSupport
import HTTPClient
import Testing

@testable import Auth
@testable import Config

/// A source that answers from a script and counts its calls.
struct ScriptedSource: TokenSource {
    let calls = Locked(0)
    let script: Locked<[Result<(lifetime: Double, refreshIn: Double?), TokenAcquisitionError>]>
    let clock: ManualClock
    let gate: Locked<Bool>?

    init(_ script: [Result<(lifetime: Double, refreshIn: Double?), TokenAcquisitionError>], clock: ManualClock, gate: Locked<Bool>? = nil) {
        self.script = Locked(script)
        self.clock = clock
        self.gate = gate
    }

    func acquireToken(_ context: AcquisitionContext) async throws(TokenAcquisitionError) -> CachedToken {
        calls.withLock { $0 += 1 }
        if let gate { while !gate.value { await Task.yield() } }
        let next = script.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
        let now = clock.wallSeconds
        switch next {
        case .success(let shape):
            return CachedToken(
                accessToken: Secret("t\(calls.value)"), expiresOn: now + shape.lifetime, refreshOn: shape.refreshIn.map { now + $0 }, acquiredAt: now,
                claims: nil, source: "scripted")
        case .failure(let error):
            throw error
        }
    }
}

@Suite struct TokenCacheTests {
    let client = HTTPClient()
    let failure = TokenAcquisitionError.rejected(status: 401, error: "invalid_client", aadsts: 7_000_222, summary: "expired")

    func cache(_ source: ScriptedSource, clock: ManualClock, events: Locked<[TokenAcquisitionEvent]> = Locked([])) -> TokenCache {
        TokenCache(credential: "c", source: source, client: client, clock: clock, timeoutSeconds: 1) { event in events.withLock { $0.append(event) } }
    }

    @Test func refreshHappensAtRefreshInAndNotBefore() async throws {
        let clock = ManualClock()
        let source = ScriptedSource([.success((3600, 1800))], clock: clock)
        let tokens = cache(source, clock: clock)
        let first = try await tokens.token()
        clock.advance(by: 1799)
        #expect(try await tokens.token() == first)
        #expect(source.calls.value == 1)
        clock.advance(by: 1)
        #expect(try await tokens.token() != first)
        #expect(source.calls.value == 2)
    }

    @Test func refreshHappensFiveMinutesBeforeExpiryWithoutRefreshIn() async throws {
        let clock = ManualClock()
        let source = ScriptedSource([.success((3600, nil))], clock: clock)
        let tokens = cache(source, clock: clock)
        _ = try await tokens.token()
        clock.advance(by: 3299)
        _ = try await tokens.token()
        #expect(source.calls.value == 1)
        clock.advance(by: 1)
        _ = try await tokens.token()
        #expect(source.calls.value == 2)
    }

    @Test func concurrentCallersShareOneAcquisition() async throws {
        let clock = ManualClock()
        let gate = Locked(false)
        let source = ScriptedSource([.success((3600, nil))], clock: clock, gate: gate)
        let tokens = cache(source, clock: clock)
        try await withThrowingTaskGroup(of: CachedToken.self) { group in
            for _ in 0..<20 { group.addTask { try await tokens.token() } }
            while source.calls.value == 0 { await Task.yield() }
            for _ in 0..<100 { await Task.yield() }
            gate.withLock { $0 = true }
            var seen: Set<String> = []
            for try await token in group { seen.insert(token.accessToken.exposedValue) }
            #expect(seen.count == 1)
        }
        #expect(source.calls.value == 1)
    }

    @Test func aFailedRefreshKeepsTheOldTokenAndWaitsThirtySeconds() async throws {
        let clock = ManualClock()
        let events = Locked<[TokenAcquisitionEvent]>([])
        let source = ScriptedSource([.success((600, nil)), .failure(failure), .failure(failure), .success((600, nil))], clock: clock)
        let tokens = cache(source, clock: clock, events: events)
        let first = try await tokens.token()
        clock.advance(by: 300)  // refresh due
        #expect(try await tokens.token() == first)
        #expect(source.calls.value == 2)
        clock.advance(by: 29)
        #expect(try await tokens.token() == first)
        #expect(source.calls.value == 2, "no second attempt within 30 s")
        clock.advance(by: 1)
        #expect(try await tokens.token() == first)
        #expect(source.calls.value == 3)
        clock.advance(by: 30)
        #expect(try await tokens.token() != first)
        #expect(events.value.map(\.keptOldToken) == [false, true, true, false])
    }

    @Test func anExpiredTokenIsNeverServed() async throws {
        let clock = ManualClock()
        let source = ScriptedSource([.success((100, nil)), .failure(failure)], clock: clock)
        let tokens = cache(source, clock: clock)
        _ = try await tokens.token()
        clock.advance(by: 100)
        await #expect {
            _ = try await tokens.token()
        } throws: { error in
            guard case .expired = error as? TokenAcquisitionError else { return false }
            return true
        }
    }
}
