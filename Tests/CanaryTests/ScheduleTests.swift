// The timetable and the scheduler loop, driven by a manual clock: no sleeping.
import CanaryTestSupport
import Synchronization
import Testing

@testable import Agent
@testable import Config
@testable import Metrics
@testable import Probe
@testable import Schedule
@testable import Status
@testable import Support

@Suite struct ScheduleTests {
    @Test func resourcesAreSpreadOverTheirInterval() {
        let schedule = Schedule(intervals: [60, 60, 60, 60], start: 0)
        #expect(schedule.entries.map(\.nextDue) == [0, 15, 30, 45])
    }

    @Test func aRoundStillInFlightSkipsItsSlotAndMissedSlotsAreNotReplayed() {
        var schedule = Schedule(intervals: [10], start: 0)
        #expect(schedule.takeDue(now: 0) == [0])
        #expect(schedule.takeDue(now: 10) == [])  // still in flight
        schedule.completed(0, now: 25, retryAfter: nil)
        #expect(schedule.entries[0].nextDue == 30)
        #expect(schedule.takeDue(now: 55) == [0])  // one round, not three
        #expect(schedule.entries[0].nextDue == 60)
    }

    @Test func slotsJustAheadStartEarlyWithoutShiftingTheirPhase() {
        var schedule = Schedule(intervals: [1, 1, 1, 1], start: 0)  // slots at 0, .25, .5, .75
        let taken = schedule.takeDueWithLag(now: 0.24, ahead: 0.02)
        #expect(taken.map(\.index) == [0, 1])  // 0.25 is within 20 ms
        #expect(taken.map(\.lag) == [0.24, 0])  // an early start counts as no lag
        #expect(schedule.entries.map(\.nextDue) == [1, 1.25, 0.5, 0.75])  // one interval after the slot, not after now
        #expect(schedule.takeDueWithLag(now: 0.3, ahead: 0.02).isEmpty)  // 0.5 is further off
    }

    @Test func aRoundSetByRetryAfterDoesNotStartEarly() {
        var schedule = Schedule(intervals: [10, 10], start: 0)  // slots at 0 and 5
        _ = schedule.takeDue(now: 0)
        schedule.completed(0, now: 1, retryAfter: 30)  // next round of 0 at 31
        _ = schedule.takeDue(now: 5)
        schedule.completed(1, now: 6, retryAfter: nil)  // next round of 1 at 15, then 25, 35
        _ = schedule.takeDueWithLag(now: 15, ahead: 0.02)
        schedule.completed(1, now: 16, retryAfter: nil)
        _ = schedule.takeDueWithLag(now: 25, ahead: 0.02)
        schedule.completed(1, now: 26, retryAfter: nil)
        #expect(schedule.takeDueWithLag(now: 30.99, ahead: 0.02).isEmpty, "not before the time the service gave")
        #expect(schedule.takeDueWithLag(now: 31, ahead: 0.02).map(\.index) == [0])
        #expect(schedule.takeDueWithLag(now: 34.99, ahead: 0.02).map(\.index) == [1], "an ordinary slot still starts early")
    }

    @Test func retryAfterPushesTheNextRoundBack() {
        var schedule = Schedule(intervals: [10], start: 0)
        _ = schedule.takeDue(now: 0)
        schedule.completed(0, now: 1, retryAfter: 30)
        #expect(schedule.entries[0].nextDue == 31)
        _ = schedule.takeDue(now: 31)
        schedule.completed(0, now: 32, retryAfter: 2)  // shorter than the interval: no change
        #expect(schedule.entries[0].nextDue == 41)
    }

    @Test func theSchedulerRunsRoundsOnTimeAndAHungResourceDelaysNoOther() async throws {
        let clock = ManualClock()
        let start = clock.monotonicSeconds
        let starts = Mutex<[String: [Double]]>([:])
        let resources = [
            ResourceConfig(name: "fast", endpoint: "http://fast.invalid/", deployment: "d", credential: "c", interval: .seconds(10)),
            ResourceConfig(name: "hung", endpoint: "http://hung.invalid/", deployment: "d", credential: "c", interval: .seconds(10)),
        ]
        let metrics = CanaryMetrics(build: BuildInfo(version: "t", revision: "t", swiftVersion: "t"))
        let reporter = ProbeReporter(metrics: metrics, logger: capturingLogger(), board: StatusBoard(config: CanaryConfig()))
        let scheduler = Scheduler(resources: resources, defaultInterval: .seconds(60), clock: clock, observer: reporter) { resource in
            starts.withLock { $0[resource.name, default: []].append(clock.monotonicSeconds - start) }
            if resource.name == "hung" {
                try? await clock.sleep(untilMonotonic: .infinity)  // never returns until cancelled
            }
            return RoundResult(resource: resource.name)
        }
        let loop = Task { await scheduler.run() }
        for step in 0..<30 {
            // Before moving time on: the rounds due by now have started, the loop is parked, and
            // from second 5 the hung round is parked too.
            let due = step / 10 + 1 + (step >= 5 ? 1 : 0)
            await waitUntil { starts.withLock { $0.values.map(\.count).reduce(0, +) } >= due }
            await waitForSleepers(clock, atLeast: step >= 5 ? 2 : 1)
            clock.advance(by: 1)
        }
        // The last round was launched by the final advance; let its task start before stopping.
        await waitUntil { starts.withLock { $0["fast"]?.count ?? 0 } >= 4 }
        loop.cancel()
        await loop.value
        let seen = starts.withLock { $0 }
        #expect(seen["fast"] == [0, 10, 20, 30])
        #expect(seen["hung"] == [5])
    }

    /// Waits until the scheduler loop (and any hung round) is parked in the manual clock.
    func waitForSleepers(_ clock: ManualClock, atLeast count: Int) async {
        await waitUntil { clock.sleeperCount >= count }
    }

    /// Polls `condition` for up to 60 s of real time (a bound for a stuck test, not a timing:
    /// on two loaded cores a task can wait seconds to run).
    func waitUntil(_ condition: () -> Bool) async {
        let deadline = SystemClock().monotonicSeconds + 60
        while !condition(), SystemClock().monotonicSeconds < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Issue 17, item 3: the control plane's and discovery's loops wait for an event instead of
    /// polling every second. A wake-up returns at a signal, at once for a signal already given,
    /// and at the deadline otherwise.
    @Test func aWakeupReturnsAtASignalOrAtItsDeadline() async {
        let clock = ManualClock()
        let wakeup = Wakeup()
        let woken = Locked(false)
        let waiter = Task {
            await wakeup.wait(untilMonotonic: .infinity, clock: clock)
            woken.withLock { $0 = true }
        }
        await waitUntil { clock.sleeperCount == 1 }
        #expect(!woken.value, "no signal, no deadline: still waiting")
        wakeup.signal()
        await waiter.value
        #expect(woken.value)
        wakeup.signal()
        await wakeup.wait(untilMonotonic: .infinity, clock: clock)  // the kept signal: returns at once
        let timed = Task { await wakeup.wait(untilMonotonic: clock.monotonicSeconds + 5, clock: clock) }
        await waitUntil { clock.sleeperCount >= 1 }
        clock.advance(by: 5)
        await timed.value
    }
}
