// The actor that owns the schedule and each resource's last outcome, and runs the rounds.
import Config
import Probe
import Support

/// What a scheduler tells its owner: how late each round started, and each finished round.
/// Called on the scheduler's executor; must not block.
public protocol ScheduleObserver: Sendable {
    /// A round started `lag` seconds after its slot.
    func roundStarted(lag: Double)
    /// A round finished (one cut short by a stop or reload is not reported).
    func roundFinished(_ round: RoundResult)
}

/// Runs every resource's rounds on time, each as a child task, so a slow one delays no other.
/// One scheduler serves the process for its whole life: a reload or discovery's change is
/// applied to it in place (`apply`), so the loop never stops and unchanged resources keep their
/// slots and their rounds in flight.
public actor Scheduler: Service {
    public typealias RoundRunner = @Sendable (ResourceConfig) async -> RoundResult

    /// The resource on each schedule index; nil for a free index.
    private var resources: [ResourceConfig?]
    /// Bumped when an index's resource is removed or changed: a round of the old one that
    /// finishes later is ignored (its settings are gone).
    private var generations: [Int]
    private var indexByName: [String: Int] = [:]
    private var freeIndices: [Int] = []
    private let clock: any CanaryClock
    private var runRound: RoundRunner
    private var observer: any ScheduleObserver
    private var schedule: Schedule
    private var heartbeat: (@Sendable () -> Void)?
    /// The loop wakes at least this often, for the heartbeat.
    private var heartbeatInterval: Double = 10
    /// The loop's sleep, cancelled by `apply` so that added resources start on time.
    private var sleeper: Task<Void, any Error>?
    /// What /-/ready and the watchdog read: whether rounds are running.
    public nonisolated let health = ScheduleHealth()
    /// Rounds due within this many seconds of a wake-up start on it, a little early: at
    /// thousands of resources the loop, the curl thread and the task pool then wake once for a
    /// few probes rather than once for each. Small beside any interval.
    static let batchWindow = 0.02

    public init(
        resources: [ResourceConfig], defaultInterval: Duration, clock: any CanaryClock, observer: any ScheduleObserver,
        runRound: @escaping RoundRunner
    ) {
        self.resources = resources
        self.generations = Array(repeating: 0, count: resources.count)
        for (index, resource) in resources.enumerated() { indexByName[resource.name] = index }
        self.clock = clock
        self.runRound = runRound
        self.observer = observer
        self.schedule = Schedule(intervals: resources.map { ($0.interval ?? defaultInterval).seconds }, start: clock.monotonicSeconds)
    }

    /// Puts a new configuration's resources in service without stopping the loop. Unchanged
    /// resources keep their slot and any round in flight; a changed one keeps its slot unless
    /// its interval changed, and the result of its round in flight is dropped; added ones are
    /// spread over their interval from now, not started all at once; removed ones go, and a
    /// round of theirs still in flight is no verdict. Later rounds use `runRound` and report to
    /// `observer`. Linear in the number of resources (logarithmic per added one).
    public func apply(
        resources new: [ResourceConfig], change: ConfigChange, defaultInterval: Duration, observer: any ScheduleObserver,
        runRound: @escaping RoundRunner
    ) {
        self.runRound = runRound
        self.observer = observer
        for name in change.removedResources {
            guard let index = indexByName.removeValue(forKey: name) else { continue }
            resources[index] = nil
            generations[index] &+= 1
            schedule.remove(index)
            freeIndices.append(index)
        }
        let now = clock.monotonicSeconds
        var added: [ResourceConfig] = []
        for resource in new {
            guard let index = indexByName[resource.name] else {
                added.append(resource)
                continue
            }
            resources[index] = resource
            guard let aspects = change.changedResources[resource.name] else { continue }
            generations[index] &+= 1
            let interval = (resource.interval ?? defaultInterval).seconds
            // A new interval starts the resource afresh at a spread slot; otherwise its phase stays.
            schedule.reset(index, interval: interval, firstDue: aspects.contains(.interval) ? now + interval * Self.spread(resource.name) : nil)
        }
        for (position, resource) in added.enumerated() {
            let index = freeIndices.popLast() ?? resources.count
            if index == resources.count {
                resources.append(resource)
                generations.append(0)
            } else {
                resources[index] = resource
                generations[index] &+= 1
            }
            indexByName[resource.name] = index
            let interval = (resource.interval ?? defaultInterval).seconds
            schedule.add(at: index, interval: interval, firstDue: now + interval * Double(position) / Double(added.count))
        }
        // The loop may be asleep until a later slot than the ones just added.
        if !added.isEmpty { sleeper?.cancel() }
    }

    /// Where in its interval a changed resource starts again: a fraction from its name, stable
    /// and spread, so many changed at once do not all start together.
    static func spread(_ name: String) -> Double {
        Double(fnv1a(name) % 1000) / 1000
    }

    /// The names of the resources on the schedule, for tests.
    package var resourceNames: Set<String> { Set(indexByName.keys) }

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
                let now = clock.monotonicSeconds
                for (index, lag) in schedule.takeDueWithLag(now: now, ahead: Self.batchWindow) {
                    guard let resource = resources[index] else { continue }
                    let generation = generations[index]
                    observer.roundStarted(lag: lag)
                    group.addTask { [runRound] in
                        let result = await runRound(resource)
                        // A round cut short by a stop is no verdict on the resource.
                        guard !Task.isCancelled else { return }
                        await self.finish(index, generation: generation, result)
                    }
                }
                health.pass(now: now, nextDue: schedule.nextWake, heartbeatInterval: heartbeatInterval)
                // Wake at the next slot, and often enough for the heartbeat.
                let wake = min(schedule.nextWake ?? .infinity, clock.monotonicSeconds + heartbeatInterval)
                let sleep = Task { [clock] in try await clock.sleep(untilMonotonic: wake) }
                sleeper = sleep
                await withTaskCancellationHandler {
                    _ = try? await sleep.value
                } onCancel: {
                    sleep.cancel()
                }
                sleeper = nil
            }
            health.stopped()
            group.cancelAll()
        }
    }

    /// Runs one round of every resource now and waits for all of them: for tests, which drive
    /// rounds without the clock.
    package func runAllOnce() async {
        await withTaskGroup(of: Void.self) { group in
            for (index, resource) in resources.enumerated() {
                guard let resource else { continue }
                let generation = generations[index]
                group.addTask { [runRound] in
                    let result = await runRound(resource)
                    await self.finish(index, generation: generation, result)
                }
            }
        }
    }

    /// The schedule as it stands, for tests.
    package var currentSchedule: Schedule { schedule }

    private func finish(_ index: Int, generation: Int, _ result: RoundResult) {
        // The resource was removed or changed while its round ran: not a verdict on what is probed now.
        guard generations[index] == generation else { return }
        schedule.completed(index, now: clock.monotonicSeconds, retryAfter: result.retryAfter)
        observer.roundFinished(result)
    }
}
