// check-config's view of the service: the unit's credentials after drop-ins, and file access as the service's user.
import Foundation
import Testing

@testable import Config
@testable import Support

@Suite struct ServiceViewTests {
    @Test func credentialsFollowTheUnitAndItsDropInsInOrder() {
        let lines = """
            [Unit]
            LoadCredential=not-a-service-setting:/x
            [Service]
            # LoadCredential=commented:/x
            LoadCredential=old:/etc/aoai-canary/secrets/old
            LoadCredential=
            LoadCredential = app.secret:/etc/aoai-canary/secrets/app.secret
            LoadCredentialEncrypted=key.cred:/etc/aoai-canary/secrets/key.cred
            LoadCredential=stored
            """.split(separator: "\n").map(String.init)
        let credentials = ServiceView.credentials(unitLines: lines)
        #expect(
            credentials == [
                "app.secret": .file("/etc/aoai-canary/secrets/app.secret"),
                "key.cred": .encrypted("/etc/aoai-canary/secrets/key.cred"),
                "stored": .file("/etc/credstore/stored"),
            ])
    }

    @Test func theUnitFileThenDropInsByNameWithEtcHidingTheSameNameElsewhere() throws {
        let root = NSTemporaryDirectory() + "service-view-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = [
            "/lib/systemd/system/aoai-canary.service": "[Service]\nLoadCredential=a:/lib-a\n",
            "/lib/systemd/system/aoai-canary.service.d/20-b.conf": "[Service]\nLoadCredential=b:/lib-b\n",
            "/etc/systemd/system/aoai-canary.service.d/20-b.conf": "[Service]\nLoadCredential=b:/etc-b\n",
            "/etc/systemd/system/aoai-canary.service.d/10-a.conf": "[Service]\nLoadCredential=a:/etc-a\n",
            "/etc/systemd/system/aoai-canary.service.d/README": "[Service]\nLoadCredential=ignored:/x\n",
        ]
        for (path, text) in files {
            try FileManager.default.createDirectory(atPath: root + (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: root + path, atomically: true, encoding: .utf8)
        }
        #expect(
            ServiceView.unitFiles(root: root) == [
                "/lib/systemd/system/aoai-canary.service",
                "/etc/systemd/system/aoai-canary.service.d/10-a.conf",
                "/etc/systemd/system/aoai-canary.service.d/20-b.conf",
            ])
    }

    /// The owner and mode decide, as the kernel would for the service's user.
    @Test func aFileOrFolderTheServicesUserMayNotReadIsNamedWithItsOwnerAndMode() throws {
        let folder = NSTemporaryDirectory() + "service-view-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/app.secret"
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        // Another user than the files' owner, in none of their groups.
        let stranger = ServiceView(user: "aoai-canary", uid: getuid() &+ 12345, groups: [getgid() &+ 12345], credentials: [:])
        let owner = ServiceView(user: "aoai-canary", uid: getuid() == 0 ? 1 : getuid(), groups: [], credentials: [:])

        chmod(folder, 0o755)
        chmod(file, 0o600)
        let denial = try #require(stranger.accessDenial(file))
        #expect(denial.contains("may not read it (mode 0600, owner "), "\(denial)")
        #expect(denial.contains("chmod 0640"))
        chmod(file, 0o644)
        #expect(stranger.accessDenial(file) == nil)
        chmod(folder, 0o700)
        #expect(stranger.accessDenial(file)?.contains("may not enter \(folder) (mode 0700") == true)
        chmod(folder, 0o755)
        // The group's bits count for a member of the file's group.
        chmod(file, 0o640)
        let member = ServiceView(user: "aoai-canary", uid: getuid() &+ 12345, groups: [getgid()], credentials: [:])
        #expect(member.accessDenial(file) == nil)
        #expect(getuid() != 0 ? owner.accessDenial(file) == nil : true)
        #expect(stranger.accessDenial(folder + "/missing") == nil, "a missing file is left to the read, which says so")
    }

    @Test func credentialNamesAndTheUnitsSandboxDecideWhatTheServiceCanRead() throws {
        let folder = NSTemporaryDirectory() + "service-view-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "from-the-store\n".write(toFile: folder + "/app.secret", atomically: true, encoding: .utf8)
        chmod(folder + "/app.secret", 0o600)
        let view = ServiceView(user: "aoai-canary", uid: getuid() &+ 12345, groups: [], credentials: ["app.secret": .file(folder + "/app.secret")])
        // A loaded credential is read as systemd reads it (as root), whatever its mode.
        #expect(try view.readFile(ServiceView.credentialsDirectory + "/app.secret") == "from-the-store\n")
        #expect(throws: FileReadError.self) { try view.readFile(ServiceView.credentialsDirectory + "/other.secret") }
        do {
            _ = try view.readFile(ServiceView.credentialsDirectory + "/other.secret")
        } catch {
            #expect(error.description.contains("the unit loads no credential named other.secret"))
        }
        for (path, words) in [("/home/admin/app.secret", "ProtectHome=yes"), ("/root/app.secret", "ProtectHome=yes"), ("/tmp/app.secret", "PrivateTmp=yes")] {
            do {
                _ = try view.readFile(path)
                Issue.record("\(path) was read")
            } catch {
                #expect(error.description.contains(words), "\(path): \(error)")
            }
        }
    }
}
