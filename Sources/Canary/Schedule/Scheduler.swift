// The actor that owns the schedule and each resource's last outcome, and runs the rounds.

/// What a scheduler tells its owner: how late each round started, and each finished round.
/// Called on the scheduler's executor; must not block.
public protocol ScheduleObserver: Sendable {
    /// A round started `lag` seconds after its slot.
    func roundStarted(lag: Double)
    /// A round finished (one cut short by a stop or reload is not reported).
    func roundFinished(_ round: RoundResult)
}

/// Runs every resource's rounds on time, each as a child task, so a slow one delays no other.
public actor Scheduler: Service {
    public typealias RoundRunner = @Sendable (ResourceConfig) async -> RoundResult

    private let resources: [ResourceConfig]
    private let clock: any CanaryClock
    private let runRound: RoundRunner
    private let observer: any ScheduleObserver
    private var schedule: Schedule
    private var heartbeat: (@Sendable () -> Void)?
    /// The loop wakes at least this often, for the heartbeat.
    private var heartbeatInterval: Double = 10
    /// Rounds due within this many seconds of a wake-up start on it, a little early: at
    /// thousands of resources the loop, the curl thread and the task pool then wake once for a
    /// few probes rather than once for each. Small beside any interval.
    static let batchWindow = 0.02

    /// `carried`: schedule entries by resource name, from the scheduler a reload replaces, for
    /// the resources it kept unchanged.
    public init(resources: [ResourceConfig], defaultInterval: Duration, clock: any CanaryClock, observer: any ScheduleObserver,
                carried: [String: Schedule.Entry] = [:], runRound: @escaping RoundRunner) {
        self.resources = resources
        self.clock = clock
        self.runRound = runRound
        self.observer = observer
        var byIndex: [Int: Schedule.Entry] = [:]
        for (index, resource) in resources.enumerated() { byIndex[index] = carried[resource.name] }
        self.schedule = Schedule(intervals: resources.map { ($0.interval ?? defaultInterval).seconds }, start: clock.monotonicSeconds, carried: byIndex)
    }

    /// Each resource's schedule entry by name, for the scheduler that replaces this one.
    public func entriesByResource() -> [String: Schedule.Entry] {
        var result: [String: Schedule.Entry] = [:]
        for (index, resource) in resources.enumerated() { result[resource.name] = schedule.entries[index] }
        return result
    }

    /// Called on every pass of the loop, at least every `interval` seconds (the service watchdog).
    public func setHeartbeat(every interval: Double = 10, _ beat: @escaping @Sendable () -> Void) {
        heartbeat = beat
        heartbeatInterval = max(0.1, interval)
    }

    /// Runs until the task is cancelled; rounds in flight are cancelled with it.
    public func run() async {
        // Nothing is in flight when the loop starts: a round cut short by an earlier stop must
        // not keep its resource from ever running again.
        schedule.clearInFlight()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                heartbeat?()
                for (index, lag) in schedule.takeDueWithLag(now: clock.monotonicSeconds, ahead: Self.batchWindow) {
                    let resource = resources[index]
                    observer.roundStarted(lag: lag)
                    group.addTask { [runRound] in
                        let result = await runRound(resource)
                        // A round cut short by a stop or reload is no verdict on the resource.
                        guard !Task.isCancelled else { return }
                        await self.finish(index, result)
                    }
                }
                // Wake at the next slot, and often enough for the heartbeat.
                let wake = min(schedule.nextWake ?? .infinity, clock.monotonicSeconds + heartbeatInterval)
                do { try await clock.sleep(untilMonotonic: wake) } catch { break }
            }
            group.cancelAll()
        }
    }

    /// Runs one round of every resource now and waits for all of them: for tests, which drive
    /// rounds without the clock.
    package func runAllOnce() async {
        await withTaskGroup(of: Void.self) { group in
            for (index, resource) in resources.enumerated() {
                group.addTask { [runRound] in
                    let result = await runRound(resource)
                    await self.finish(index, result)
                }
            }
        }
    }

    /// The schedule as it stands, for tests.
    package var currentSchedule: Schedule { schedule }

    private func finish(_ index: Int, _ result: RoundResult) {
        schedule.completed(index, now: clock.monotonicSeconds, retryAfter: result.retryAfter)
        observer.roundFinished(result)
    }
}
