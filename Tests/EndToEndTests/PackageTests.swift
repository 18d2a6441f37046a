// The Debian package as an admin gets it: built with Debian's tools, lintian-clean, a hardened
// unit, installed, run by systemd under that unit, upgraded, removed and purged without leftovers.
import AzureSimulator
import Foundation
import Testing

/// True when `tool` is an executable on PATH.
private func onPath(_ tool: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}

private let isRoot = getuid() == 0
private let packagingToolsPresent = ["dpkg-deb", "dpkg-shlibdeps", "dpkg-gencontrol", "lintian", "systemd-analyze", "readelf"].allSatisfy(onPath)
/// A throw-away systemd (packaging/systemd-sandbox.sh) needs root, systemd, util-linux and cgroup2.
private let canBootSystemd: Bool =
    isRoot && FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd")
    && ["unshare", "nsenter", "setpriv", "curl"].allSatisfy(onPath)
    && ((try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8))?.contains("cgroup2") ?? false)

/// A failed step, with what the command printed.
private struct PackageTestFailure: Error, CustomStringConvertible {
    let description: String
}

/// What one command did.
private struct CommandOutcome {
    var status: Int32
    var stdout: String
    var stderr: String
    var text: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// Runs a command (looked up on PATH) from the repository's root to completion.
@discardableResult
private func runCommand(
    _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
    timeout: Double = 120
) async throws -> CommandOutcome {
    let child = try Child(
        executable: "/usr/bin/env", arguments, environment: environment.merging(["LC_ALL": "C.UTF-8"]) { mine, _ in mine },
        input: input, directory: repositoryRoot)
    guard let status = await child.wait(seconds: timeout) else {
        throw PackageTestFailure(description: "\(arguments.joined(separator: " ")) took over \(Int(timeout)) s")
    }
    return CommandOutcome(status: status, stdout: child.stdout, stderr: child.stderr)
}

/// Runs a command that must succeed, returning its standard output.
@discardableResult
private func succeed(_ arguments: [String], environment: [String: String] = [:], input: String? = nil, timeout: Double = 120) async throws -> String {
    let outcome = try await runCommand(arguments, environment: environment, input: input, timeout: timeout)
    guard outcome.status == 0 else {
        throw PackageTestFailure(description: "\(arguments.joined(separator: " ")) failed: \(outcome.text)")
    }
    return outcome.stdout
}

/// The .deb, built once per test run by packaging/build-deb.sh (what `make deb` runs).
private actor DebianPackage {
    static let shared = DebianPackage()
    private var built: Result<String, PackageTestFailure>?

    /// The absolute path of build/aoai-canary_<version>_<arch>.deb.
    func path() async throws -> String {
        if let built { return try built.get() }
        let result: Result<String, PackageTestFailure>
        do {
            // `swift test` holds .build's lock for the whole run, so the release build goes elsewhere;
            // niced, so that it does not starve the timing-sensitive suites running beside it.
            let outcome = try await runCommand(
                ["nice", "-n", "10", "packaging/build-deb.sh"],
                environment: ["SWIFT_SCRATCH_PATH": ".build/package-tests"], timeout: 900)
            let last = outcome.stdout.split(separator: "\n").last.map(String.init) ?? ""
            if outcome.status == 0, last.hasSuffix(".deb") {
                result = .success(repositoryRoot + "/" + last)
            } else {
                result = .failure(PackageTestFailure(description: "packaging/build-deb.sh failed: \(outcome.text)"))
            }
        } catch let error as PackageTestFailure {
            result = .failure(error)
        }
        built = result
        return try result.get()
    }
}

/// The version the built binary reports (`aoai-canary 0.1.0 (revision ...)`).
private func binaryVersion() async throws -> String {
    let text = try await succeed([binaryPath, "--version"])
    return text.split(separator: " ").dropFirst().first.map(String.init) ?? ""
}

/// A systemd booted by packaging/systemd-sandbox.sh, whose writes vanish when it stops.
private struct SystemdSandbox {
    let directory = NSTemporaryDirectory() + "aoai-canary-systemd-" + UUID().uuidString.prefix(8)

    /// Boots it, and makes it a host that has never seen the package: whatever this machine has
    /// (the package installed, its user, an admin's configuration) is removed in here only.
    func start() async throws {
        try await succeed(["packaging/systemd-sandbox.sh", "start", directory], timeout: 90)
        try await shell(
            """
            if dpkg-query -W aoai-canary >/dev/null 2>&1; then dpkg --purge aoai-canary >/dev/null 2>&1; fi
            if getent passwd aoai-canary >/dev/null; then deluser --system --quiet aoai-canary 2>/dev/null; fi
            if getent group aoai-canary >/dev/null; then delgroup --system --quiet aoai-canary; fi
            rm -rf /etc/aoai-canary /var/lib/aoai-canary /etc/systemd/system/aoai-canary.service.d
            true
            """, timeout: 120)
    }

    func stop() async { _ = try? await runCommand(["packaging/systemd-sandbox.sh", "stop", directory], timeout: 60) }

    /// Runs a shell script inside; `input` is a host file for its standard input.
    @discardableResult
    func shell(_ script: String, input: String? = nil, timeout: Double = 120) async throws -> String {
        try await succeed(["packaging/systemd-sandbox.sh", "run", directory, "/bin/sh", "-c", script], input: input, timeout: timeout)
    }

    func outcome(_ script: String) async throws -> CommandOutcome {
        try await runCommand(["packaging/systemd-sandbox.sh", "run", directory, "/bin/sh", "-c", script])
    }

    /// True when `path` exists inside.
    func exists(_ path: String) async throws -> Bool { try await outcome("test -e '\(path)'").status == 0 }

    /// `dpkg-query -W -f=FORMAT aoai-canary` inside, nil when dpkg knows no such package.
    func dpkgQuery(_ format: String) async throws -> String? {
        let outcome = try await outcome("dpkg-query -W -f='\(format)' aoai-canary")
        return outcome.status == 0 ? outcome.stdout : nil
    }

    /// `systemctl show` properties of the agent's unit.
    func unitProperties(_ names: [String]) async throws -> [String: String] {
        let text = try await shell("systemctl show aoai-canary.service -p " + names.joined(separator: ","))
        var properties: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            properties[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return properties
    }

    /// Installs the .deb, starts the simulator as a transient unit, and configures one healthy
    /// resource whose client secret comes through LoadCredential= and whose key is a group-readable file.
    func installAndConfigure(deb: String, interval: String = "2s") async throws {
        try await shell("cat >/root/aoai-canary.deb && dpkg -i /root/aoai-canary.deb", input: deb)
        try await shell(
            """
            systemd-run --quiet --unit=aoai-simulator /usr/bin/aoai-canary simulate --listen 127.0.0.1:9726
            for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:9726/_simulator/state && exit 0; sleep 0.1; done
            exit 1
            """)
        try await shell(
            """
            cat >/etc/aoai-canary/config.yaml <<'EOF'
            listen: "127.0.0.1:9725"
            interval: \(interval)
            timeout: 3s
            credentials:
              app:
                type: client_secret
                tenant_id: \(DemoWorld.tenantID)
                client_id: \(DemoWorld.clientID)
                client_secret_file: app.secret
                authority: http://127.0.0.1:9726
            resources:
              - name: healthy
                endpoint: http://healthy.openai.localhost:9726/
                deployment: \(DemoWorld.deployment)
                api_key_file: /etc/aoai-canary/secrets/healthy.key
                credential: app
            EOF
            umask 077
            echo '\(DemoWorld.clientSecret)' >/etc/aoai-canary/secrets/app.secret
            echo '\(DemoWorld.apiKey)' >/etc/aoai-canary/secrets/healthy.key
            chgrp aoai-canary /etc/aoai-canary/secrets/healthy.key
            chmod 0640 /etc/aoai-canary/secrets/healthy.key
            mkdir -p /etc/systemd/system/aoai-canary.service.d
            printf '[Service]\\nLoadCredential=app.secret:/etc/aoai-canary/secrets/app.secret\\n' >/etc/systemd/system/aoai-canary.service.d/credentials.conf
            systemctl daemon-reload
            """)
    }

    /// Waits until both canaries of `healthy` have succeeded, returning the last scrape.
    func waitForSuccessfulProbes(seconds: Double = 20) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var scrape = ""
        while Date() < deadline {
            scrape = (try? await shell("curl -sf http://127.0.0.1:9725/metrics")) ?? ""
            if scrape.contains(#"aoai_canary_probe_success{resource="healthy",auth="api_key"} 1"#),
                scrape.contains(#"aoai_canary_probe_success{resource="healthy",auth="entra_id"} 1"#)
            {
                return scrape
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw PackageTestFailure(
            description:
                "no successful probes within \(Int(seconds)) s; last "
                + "scrape:\n\(scrape)\njournal:\n\((try? await shell("journalctl --no-pager -n 40 -u aoai-canary")) ?? "")"
        )
    }
}

/// Runs `body` with a booted sandbox, stopping it however `body` ends.
private func withSystemdSandbox(_ body: (SystemdSandbox) async throws -> Void) async throws {
    let sandbox = SystemdSandbox()
    do {
        try await sandbox.start()
        try await body(sandbox)
    } catch {
        await sandbox.stop()
        throw error
    }
    await sandbox.stop()
}

@Suite(.serialized, .enabled(if: packagingToolsPresent, "needs dpkg-dev, lintian, systemd and binutils: make deps installs them"))
struct PackageTests {
    @Test func packageHoldsTheFilesFieldsAndHardenedBinary() async throws {
        let deb = try await DebianPackage.shared.path()
        let version = try await binaryVersion()
        let arch = try await succeed(["dpkg", "--print-architecture"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb == "\(repositoryRoot)/build/aoai-canary_\(version)_\(arch).deb")

        let fields = try await succeed([
            "dpkg-deb", "--show", "--showformat=${Package}|${Version}|${Architecture}|${Depends}|${Installed-Size}|${Recommends}", deb,
        ])
        .split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        try #require(fields.count == 6, "\(fields)")
        #expect(fields[5] == "ca-certificates", "Recommends: \(fields[5])")
        #expect(fields[0] == "aoai-canary" && fields[1] == version && fields[2] == arch)
        for dependency in ["adduser", "libc6", "libcurl4", "libmicrohttpd12", "libsystemd0", "libyaml-0-2", "libssl3"] {
            #expect(fields[3].contains(dependency), "Depends: \(fields[3])")
        }
        #expect(!fields[3].lowercased().contains("swift"), "the Swift runtime is linked in: \(fields[3])")
        #expect((Int(fields[4]) ?? 0) > 1000, "Installed-Size \(fields[4])")

        let contents = try await succeed(["dpkg-deb", "--contents", deb])
        var expected = [
            "./usr/bin/aoai-canary", "./lib/systemd/system/aoai-canary.service", "./etc/aoai-canary/config.yaml",
            "./etc/default/aoai-canary", "./usr/share/man/man1/aoai-canary.1.gz", "./usr/share/doc/aoai-canary/README.md",
            "./usr/share/doc/aoai-canary/docs/metrics.md", "./usr/share/doc/aoai-canary/docs/configuration.md",
            "./usr/share/doc/aoai-canary/docs/operations.md", "./usr/share/doc/aoai-canary/docs/security.md",
            "./usr/share/doc/aoai-canary/docs/performance.md", "./usr/share/doc/aoai-canary/docs/azure-answers.md",
            "./usr/share/doc/aoai-canary/copyright", "./usr/share/doc/aoai-canary/changelog.gz",
        ]
        let dashboards = (try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/dashboards")) ?? []
        expected += dashboards.filter { $0.hasSuffix(".yml") || $0.hasSuffix(".json") }.map { "./usr/share/aoai-canary/" + $0 }
        for path in expected {
            #expect(contents.contains(" \(path)\n"), "\(path) is not in the package")
        }
        let conffiles = try await succeed(["dpkg-deb", "--info", deb, "conffiles"])
        #expect(conffiles == "/etc/aoai-canary/config.yaml\n/etc/default/aoai-canary\n")

        // The packaged binary: stripped, full RELRO, immediate binding.
        let binary = repositoryRoot + "/build/deb/debian/aoai-canary/usr/bin/aoai-canary"
        let sections = try await succeed(["readelf", "--section-headers", "--wide", binary])
        #expect(!sections.contains(".symtab") && !sections.contains(".comment") && !sections.contains(".debug_"))
        #expect(try await succeed(["readelf", "--program-headers", "--wide", binary]).contains("GNU_RELRO"))
        #expect(try await succeed(["readelf", "--dynamic", "--wide", binary]).contains("BIND_NOW"))
        let manual = try await succeed(["/bin/sh", "-c", "dpkg-deb --fsys-tarfile '\(deb)' | tar -xOf - ./usr/share/man/man1/aoai-canary.1.gz | gzip -dc"])
        #expect(manual.hasPrefix(".TH AOAI-CANARY 1 \""))
        #expect(manual.contains(".SS aoai\\-canary check\\-config"))
        for section in [".SH SIGNALS", ".SH ENVIRONMENT", ".SH EXIT STATUS", "\\-\\-config.file", "\\-\\-web.listen\\-address", "SIGHUP", "ARGS"] {
            #expect(manual.contains(section), "the man page lacks \(section)")
        }
    }

    @Test func lintianFindsNoErrorsOrWarnings() async throws {
        let deb = try await DebianPackage.shared.path()
        let outcome = try await runCommand(["lintian", "--display-info", deb], timeout: 300)
        let findings = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("E:") || $0.hasPrefix("W:") }
        #expect(findings.isEmpty, "lintian:\n\(outcome.stdout)")
        #expect(outcome.status == 0, "\(outcome.text)")
    }

    @Test func unitIsHardenedToExposureTwoOrLower() async throws {
        let unit = repositoryRoot + "/packaging/aoai-canary.service"
        let outcome = try await runCommand(["systemd-analyze", "security", "--offline=true", "--no-pager", unit])
        let match = try #require(outcome.stdout.firstMatch(of: /Overall exposure level for aoai-canary\.service: ([0-9.]+)/), "\(outcome.text)")
        let exposure = try #require(Double(match.1))
        #expect(exposure <= 2.0, "exposure \(exposure):\n\(outcome.stdout)")

        let text = try String(contentsOfFile: unit, encoding: .utf8)
        let settings = Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init))
        for setting in [
            "Type=notify", "WatchdogSec=30s", "EnvironmentFile=-/etc/default/aoai-canary",
            "ExecStart=/usr/bin/aoai-canary run $ARGS $AOAI_CANARY_ARGS", "RestartPreventExitStatus=64",
            "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "User=aoai-canary", "Group=aoai-canary",
            "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
            "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
        ] {
            #expect(settings.contains(setting), "the unit lacks \(setting)")
        }
        #expect(text.contains("#LoadCredential="))
    }

    /// Install, remove and purge, in a sandbox over this machine (never on the host itself: it
    /// may run the canary, or have an `aoai-canary` user of its own).
    @Test(.enabled(if: canBootSystemd, "needs root, systemd, util-linux, curl and cgroup2 to boot a throw-away systemd"))
    func installRemoveAndPurgeLeaveNothingBehind() async throws {
        let deb = try await DebianPackage.shared.path()
        let binary = try await binaryVersion()
        try await withSystemdSandbox { sandbox in
            let install = try await sandbox.shell("cat >/root/aoai-canary.deb && dpkg --install /root/aoai-canary.deb", input: deb, timeout: 300)
            #expect(install.contains("names no resources yet, so the service is not enabled"))
            let version = try await sandbox.shell("/usr/bin/aoai-canary --version")
            #expect(version.hasPrefix("aoai-canary \(binary) (revision "))
            #expect(!version.contains("revision unknown"), "\(version)")
            let user = try await sandbox.shell("getent passwd aoai-canary").split(separator: ":").map(String.init)
            try #require(user.count == 7, "\(user)")
            #expect(user[5] == "/nonexistent" && user[6].hasSuffix("nologin\n"))
            let group = try await sandbox.shell("getent group aoai-canary").split(separator: ":").map(String.init)
            #expect(group.count >= 3 && group[2] == user[3], "primary group \(user[3]), group \(group)")
            let conffiles = try await sandbox.dpkgQuery("${Conffiles}") ?? ""
            #expect(conffiles.contains(" /etc/aoai-canary/config.yaml ") && conffiles.contains(" /etc/default/aoai-canary "), "\(conffiles)")

            #expect(try await sandbox.shell("stat -c '%a %U %G' /etc/aoai-canary/secrets") == "750 root aoai-canary\n")
            let check = try await sandbox.shell("/usr/bin/aoai-canary check-config --config /etc/aoai-canary/config.yaml")
            #expect(check.contains("OK (0 credentials, 0 resources)"))
            #expect(
                !(try await sandbox.exists("/etc/systemd/system/multi-user.target.wants/aoai-canary.service")),
                "enabled although the configuration names no resource")

            // Now that the binary and the man page are installed, the unit verifies without a word.
            let verify = try await sandbox.outcome("systemd-analyze verify /lib/systemd/system/aoai-canary.service")
            #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.text)")

            try await sandbox.shell("dpkg --remove aoai-canary", timeout: 120)
            #expect(!(try await sandbox.exists("/usr/bin/aoai-canary")))
            #expect(!(try await sandbox.exists("/lib/systemd/system/aoai-canary.service")))
            #expect(try await sandbox.exists("/etc/aoai-canary/config.yaml"), "remove keeps the configuration")
            #expect(try await sandbox.dpkgQuery("${Status}") == "deinstall ok config-files")

            try await sandbox.shell("dpkg --purge aoai-canary", timeout: 120)
            for path in [
                "/usr/bin/aoai-canary", "/etc/aoai-canary", "/etc/default/aoai-canary", "/lib/systemd/system/aoai-canary.service",
                "/usr/share/man/man1/aoai-canary.1.gz", "/usr/share/doc/aoai-canary", "/usr/share/aoai-canary", "/var/lib/aoai-canary",
                "/etc/systemd/system/aoai-canary.service", "/var/lib/systemd/deb-systemd-helper-enabled/aoai-canary.service.dsh-also",
            ] {
                #expect(!(try await sandbox.exists(path)), "\(path) is left after purge")
            }
            #expect(try await sandbox.outcome("getent passwd aoai-canary").status != 0, "the user is left after purge")
            #expect(try await sandbox.outcome("getent group aoai-canary").status != 0, "the group is left after purge")
            #expect(try await sandbox.dpkgQuery("${Status}") == nil)
            let listing = try await sandbox.outcome("dpkg -l aoai-canary")
            #expect(listing.status != 0 && !listing.stdout.contains("aoai-canary"), "\(listing.text)")
        }
    }

    /// An `aoai-canary` user (and group) the admin made before the package is theirs: the package
    /// uses it and purge leaves it, and says so.
    @Test(.enabled(if: canBootSystemd, "needs root, systemd, util-linux, curl and cgroup2 to boot a throw-away systemd"))
    func purgeLeavesAUserThatExistedBefore() async throws {
        let deb = try await DebianPackage.shared.path()
        try await withSystemdSandbox { sandbox in
            try await sandbox.shell("adduser --system --quiet --group --home /var/lib/admins-canary --no-create-home aoai-canary")
            let before = try await sandbox.shell("getent passwd aoai-canary; getent group aoai-canary")
            try await sandbox.shell("cat >/root/aoai-canary.deb && dpkg --install /root/aoai-canary.deb", input: deb, timeout: 300)
            #expect(try await sandbox.shell("stat -c '%a %U %G' /etc/aoai-canary/secrets") == "750 root aoai-canary\n")
            let key = "/etc/aoai-canary/secrets/a.key"
            try await sandbox.shell("echo key >\(key) && chgrp aoai-canary \(key) && chmod 0640 \(key)")
            let purge = try await sandbox.shell("dpkg --purge aoai-canary 2>&1", timeout: 120)
            #expect(purge.contains("the user aoai-canary existed before the package, so purge leaves it"), "\(purge)")
            #expect(try await sandbox.shell("getent passwd aoai-canary; getent group aoai-canary") == before, "the admin's user or group changed")
            // The group still exists, so the admin's file keeps its owner and mode.
            #expect(try await sandbox.shell("stat -c '%a %U %G' \(key)") == "640 root aoai-canary\n")
            #expect(purge.contains("their owners and modes are unchanged"), "\(purge)")
        }
    }

    @Test(.enabled(if: canBootSystemd, "needs root, systemd, util-linux, curl and cgroup2 to boot a throw-away systemd"))
    func serviceRunsUnderSystemdWithTheUnitsRestrictions() async throws {
        let deb = try await DebianPackage.shared.path()
        try await withSystemdSandbox { sandbox in
            try await sandbox.installAndConfigure(deb: deb)
            // The postinst of a first installation left it disabled: the example probes nothing.
            #expect(try await sandbox.outcome("systemctl is-enabled aoai-canary").stdout == "disabled\n")

            // Type=notify: `enable --now` returns once the agent said READY=1.
            try await sandbox.shell("systemctl enable --now aoai-canary", timeout: 60)
            let properties = try await sandbox.unitProperties(["ActiveState", "SubState", "StatusText", "MainPID", "NRestarts"])
            #expect(properties["ActiveState"] == "active" && properties["SubState"] == "running", "\(properties)")
            let statusText = properties["StatusText"] ?? ""
            #expect(
                statusText == "probing 1 resources" || statusText == "1 of 1 resources healthy" || statusText == "0 of 1 resources healthy", "\(properties)")
            let pid = try #require(properties["MainPID"].flatMap(Int.init), "\(properties)")
            let scrape = try await sandbox.waitForSuccessfulProbes()
            // ProtectProc=invisible still shows the agent its own /proc/self and /proc/stat.
            #expect((sampleValue(scrape, "process_start_time_seconds") ?? 0) > 1_600_000_000, "\(scrape)")
            #expect((sampleValue(scrape, "process_open_fds") ?? 0) > 0)

            // The restrictions are in force on the running process.
            let status = try await sandbox.shell("cat /proc/\(pid)/status")
            for line in ["NoNewPrivs:\t1", "Seccomp:\t2", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"] {
                #expect(status.contains(line + "\n"), "\(line) is not in /proc/\(pid)/status")
            }
            #expect(try await sandbox.shell("stat -c %U /proc/\(pid)") == "aoai-canary\n")
            // Native journal entries with their fields, through the unit's sandbox.
            let entries = try await sandbox.shell("journalctl --no-pager -o json SYSLOG_IDENTIFIER=aoai-canary RESOURCE=healthy AUTH=entra_id")
            #expect(entries.contains(#""RESOURCE":"healthy""#), "no structured entries: \(entries)")

            // An upgrade (the same version again) restarts it; removal stops it.
            try await sandbox.shell("dpkg -i /root/aoai-canary.deb", timeout: 120)
            let upgraded = try await sandbox.unitProperties(["ActiveState", "MainPID"])
            #expect(upgraded["ActiveState"] == "active" && upgraded["MainPID"] != String(pid), "\(upgraded)")
            try await sandbox.shell("dpkg -r aoai-canary", timeout: 120)
            #expect(try await sandbox.outcome("systemctl is-active aoai-canary").stdout == "inactive\n")
        }
    }

    /// Issue 12, items 5, 6 and 8, seen as an admin sees them: check-config run by root answers
    /// for the service, a configuration the service cannot use stops the unit instead of
    /// restarting it, and purge leaves the admin's own files.
    @Test(.enabled(if: canBootSystemd, "needs root, systemd, util-linux, curl and cgroup2 to boot a throw-away systemd"))
    func checkConfigSpeaksForTheServiceAndPurgeKeepsTheAdminsFiles() async throws {
        let deb = try await DebianPackage.shared.path()
        try await withSystemdSandbox { sandbox in
            // The client secret is root's alone (0600) and reaches the service by LoadCredential=
            // under its bare name, as installAndConfigure sets it up.
            try await sandbox.installAndConfigure(deb: deb)
            let ok = try await sandbox.outcome("aoai-canary check-config")
            #expect(ok.status == 0, "\(ok.text)")
            #expect(ok.stdout.contains("checking as the service reads it: as user aoai-canary, with the credentials its unit loads (app.secret)"), "\(ok.text)")
            #expect(ok.stdout.contains("/etc/aoai-canary/config.yaml: OK (1 credentials, 1 resources)"), "\(ok.text)")

            // A key file only root may read: check-config says the service cannot read it, and why.
            try await sandbox.shell("chgrp root /etc/aoai-canary/secrets/healthy.key && chmod 0600 /etc/aoai-canary/secrets/healthy.key")
            let refused = try await sandbox.outcome("aoai-canary check-config")
            #expect(refused.status == 64, "\(refused.text)")
            #expect(refused.stderr.contains("/etc/aoai-canary/config.yaml:15:"), "names the line: \(refused.text)")
            #expect(
                refused.stderr.contains("/etc/aoai-canary/secrets/healthy.key: the service's user aoai-canary may not read it (mode 0600, owner root:root)"),
                "\(refused.text)")
            // ...and the service indeed cannot: it exits 64 once and stays failed, with the error in its status.
            _ = try await sandbox.outcome("systemctl start aoai-canary")
            try await Task.sleep(for: .seconds(7))  // past RestartSec=5s
            let failed = try await sandbox.unitProperties(["ActiveState", "NRestarts", "Result", "ExecMainStatus"])
            #expect(
                failed["ActiveState"] == "failed" && failed["NRestarts"] == "0" && failed["Result"] == "exit-code" && failed["ExecMainStatus"] == "64",
                "\(failed)")
            let status = try await sandbox.outcome("systemctl status --no-pager -l -n 20 aoai-canary")
            #expect(status.stdout.contains("healthy.key: permission denied"), "systemctl status:\n\(status.text)")

            // Purge removes what the package installed and leaves what the admin made, naming it.
            try await sandbox.shell("echo admin-made >/etc/aoai-canary/secrets/other.secret")
            try await sandbox.shell("chgrp aoai-canary /etc/aoai-canary/secrets/other.secret && chmod 0640 /etc/aoai-canary/secrets/other.secret")
            let purge = try await sandbox.shell("dpkg --purge aoai-canary 2>&1", timeout: 120)
            // The group the package made is gone, so nothing is left readable through its number.
            #expect(purge.contains("they are now root's alone"), "\(purge)")
            let modes = try await sandbox.shell("stat -c '%a %U %G' /etc/aoai-canary/secrets/other.secret /etc/aoai-canary/secrets")
            #expect(modes == "600 root root\n700 root root\n", "\(modes)")
            #expect(try await sandbox.outcome("find /etc/aoai-canary -nogroup | grep .").status != 0, "a file with a dangling group is left")
            for leftover in ["/etc/aoai-canary/secrets/other.secret", "/etc/aoai-canary/secrets/app.secret", "/etc/aoai-canary/secrets/healthy.key"] {
                #expect(purge.contains("  \(leftover)\n"), "purge names \(leftover):\n\(purge)")
                #expect(try await sandbox.outcome("test -f \(leftover)").status == 0, "\(leftover) was deleted")
            }
            #expect(try await sandbox.outcome("test -e /etc/aoai-canary/config.yaml").status != 0, "the package's configuration is purged")
            #expect(try await sandbox.outcome("test -e /etc/default/aoai-canary").status != 0)
            #expect(try await sandbox.outcome("getent passwd aoai-canary").status != 0, "the user is purged")
        }
    }

    @Test(.enabled(if: canBootSystemd, "needs root, systemd, util-linux, curl and cgroup2 to boot a throw-away systemd"))
    func serviceFeedsTheWatchdogBetweenRounds() async throws {
        let deb = try await DebianPackage.shared.path()
        try await withSystemdSandbox { sandbox in
            // As with the defaults (interval 60s, WatchdogSec=30s), rounds are further apart than
            // the watchdog allows, and shorter, so that a missing WATCHDOG=1 shows within seconds.
            try await sandbox.installAndConfigure(deb: deb, interval: "30s")
            try await sandbox.shell(
                """
                printf '[Service]\\nWatchdogSec=3s\\n' >/etc/systemd/system/aoai-canary.service.d/watchdog.conf
                systemctl daemon-reload && systemctl enable --now aoai-canary
                """, timeout: 60)
            let before = try await sandbox.unitProperties(["MainPID", "NRestarts"])
            try await Task.sleep(for: .seconds(8))
            let after = try await sandbox.unitProperties(["ActiveState", "MainPID", "NRestarts", "Result"])
            let journal = (try? await sandbox.shell("journalctl --no-pager -n 20 -u aoai-canary")) ?? ""
            #expect(
                after["ActiveState"] == "active" && after["MainPID"] == before["MainPID"] && after["NRestarts"] == "0",
                "the watchdog fired: \(before) then \(after)\n\(journal)")
        }
    }

    @Test(.enabled(if: canBootSystemd, "needs root, systemd, util-linux, curl and cgroup2 to boot a throw-away systemd"))
    func serviceSurvivesReload() async throws {
        let deb = try await DebianPackage.shared.path()
        try await withSystemdSandbox { sandbox in
            try await sandbox.installAndConfigure(deb: deb)
            // The watchdog is off here, so that only the reload is judged.
            try await sandbox.shell(
                """
                printf '[Service]\\nWatchdogSec=0\\n' >/etc/systemd/system/aoai-canary.service.d/watchdog.conf
                systemctl daemon-reload && systemctl enable --now aoai-canary
                """, timeout: 60)
            let before = try await sandbox.unitProperties(["MainPID"])
            _ = try await sandbox.waitForSuccessfulProbes()

            // ExecReload sends SIGHUP: the agent reloads its configuration and keeps running.
            let reload = try await sandbox.outcome("systemctl reload aoai-canary")
            #expect(reload.status == 0, "systemctl reload: \(reload.text)")
            try await Task.sleep(for: .seconds(1))
            let after = try await sandbox.unitProperties(["ActiveState", "MainPID", "NRestarts", "ExecMainCode", "ExecMainStatus"])
            let journal = (try? await sandbox.shell("journalctl --no-pager -n 20 -u aoai-canary")) ?? ""
            #expect(
                after["ActiveState"] == "active" && after["MainPID"] == before["MainPID"],
                "SIGHUP stopped the agent: \(before) then \(after)\n\(journal)")
        }
    }
}
