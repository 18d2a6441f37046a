// The agent as a container's first process (PID 1): it reaps what its children leave behind and
// ends on SIGTERM, which the kernel would otherwise drop for a PID 1 with no handler.
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized, .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root for a PID namespace"))
struct InitTests {
    /// The pids whose parent is `parent`, with their /proc state letter.
    static func children(of parent: Int32) -> [(pid: Int32, state: Character)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> (Int32, Character)? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "(comm)": " S PPID ...".
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent, let state = fields[0].first else { return nil }
            return (pid, state)
        }
    }

    @Test func asPID1ItReapsOrphansAndStopsOnSIGTERM() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try """
        listen: "127.0.0.1:0"
        interval: 1s
        timeout: 2s
        credentials:
          cli:
            type: azure_cli
            az_path: \(e2eFixtures)az-leaves-orphan
        resources:
          - name: one
            endpoint: \(world.addResource("one"))
            deployment: \(Names.deployment)
            credential: cli

        """.write(toFile: path, atomically: true, encoding: .utf8)
        // unshare forks the agent as PID 1 of a new PID namespace and kills it if unshare dies.
        let child = try Child(
            executable: "/usr/bin/unshare", ["--pid", "--fork", "--kill-child", binaryPath, "run", "--config", path, "--log-format", "logfmt"])
        _ = try #require(await child.await(30, in: { child.stderr }, metricsURL), "\(child.stderr)")
        let unshare = child.process.processIdentifier
        let first = try #require(Self.children(of: unshare).first, "no PID 1 under unshare \(unshare)")
        // Every second `az` runs and leaves a sleep that ends 0.2 s later: after 4 s, a PID 1
        // that reaps nothing holds several zombies.
        try await Task.sleep(for: .seconds(4))
        let zombies = Self.children(of: first.pid).filter { $0.state == "Z" }
        #expect(zombies.isEmpty, "zombies under PID 1: \(zombies)")
        let started = Date()
        kill(first.pid, SIGTERM)
        let status = await child.wait(seconds: 10)
        #expect(
            status == 0 && Date().timeIntervalSince(started) < 5,
            "status \(String(describing: status)) after \(Date().timeIntervalSince(started)) s: \(child.stderr)")
    }
}
