// How the systemd service will see its files: as its own user, through its unit's LoadCredential=
// and sandbox. `check-config` run by root reads the service's configuration through this, so that
// OK means the service can read everything it names.
import Posix
import Support

/// The service's user and the credentials its unit hands over.
public struct ServiceView: Sendable {
    /// Where systemd puts a service's credentials, and so `$CREDENTIALS_DIRECTORY` in the service.
    public static let credentialsDirectory = "/run/credentials/aoai-canary.service"
    public static let unitName = "aoai-canary.service"
    public static let userName = "aoai-canary"

    /// Where a credential of the unit comes from.
    public enum CredentialSource: Sendable, Equatable {
        /// `LoadCredential=ID:PATH`, or `LoadCredential=ID` found in a credential store.
        case file(String)
        /// `LoadCredentialEncrypted=ID:PATH`: systemd decrypts it for the service.
        case encrypted(String)
    }

    public var user: String
    public var uid: UInt32
    public var groups: [UInt32]
    /// The unit's credentials by id, after its drop-ins.
    public var credentials: [String: CredentialSource]
    /// The unit's files that were read, in the order systemd applies them (for messages).
    public var unitFiles: [String]

    public init(user: String, uid: UInt32, groups: [UInt32], credentials: [String: CredentialSource], unitFiles: [String] = []) {
        self.user = user
        self.uid = uid
        self.groups = groups
        self.credentials = credentials
        self.unitFiles = unitFiles
    }

    /// The installed service's view, or nil when there is no `aoai-canary` user (the package is
    /// not installed). `root` prefixes every path read, for tests.
    public static func installed(root: String = "") -> ServiceView? {
        guard let account = userAccount(userName) else { return nil }
        let files = unitFiles(root: root)
        var lines: [String] = []
        for file in files {
            if let text = try? FileIO.readText(root + file) { lines += text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        }
        return ServiceView(
            user: userName, uid: account.uid, groups: account.groups,
            credentials: credentials(unitLines: lines, root: root), unitFiles: files)
    }

    /// The unit file systemd loads, then its drop-ins ordered by file name, a name in a later
    /// folder hiding the same name in an earlier one (/usr/lib < /lib < /run < /etc).
    static func unitFiles(root: String) -> [String] {
        let folders = ["/usr/lib/systemd/system", "/lib/systemd/system", "/run/systemd/system", "/etc/systemd/system"]
        let unit = folders.reversed().map { $0 + "/" + unitName }.first { isRegularFile(root + $0) }
        var dropIns: [String: String] = [:]
        for folder in folders {
            let directory = folder + "/" + unitName + ".d"
            for name in directoryEntries(root + directory) where name.hasSuffix(".conf") { dropIns[name] = directory + "/" + name }
        }
        return (unit.map { [$0] } ?? []) + dropIns.keys.sorted().compactMap { dropIns[$0] }
    }

    /// `LoadCredential=` and `LoadCredentialEncrypted=` of the unit's lines, in order; an empty
    /// assignment clears what came before, as systemd does. An id without a path is looked up in
    /// the credential stores.
    static func credentials(unitLines: [String], root: String = "") -> [String: CredentialSource] {
        var result: [String: CredentialSource] = [:]
        var section = ""
        for raw in unitLines {
            let line = blankTrimmed(raw[...])
            if line.hasPrefix("[") {
                section = line
                continue
            }
            guard section == "[Service]", !line.hasPrefix("#"), !line.hasPrefix(";"), let equals = line.firstIndex(of: "=") else { continue }
            let key = blankTrimmed(line[..<equals])
            let value = blankTrimmed(line[line.index(after: equals)...])
            guard key == "LoadCredential" || key == "LoadCredentialEncrypted" else { continue }
            if value.isEmpty {
                result = [:]
                continue
            }
            let id: String
            var path: String
            if let colon = value.firstIndex(of: ":") {
                id = String(value[..<colon])
                path = String(value[value.index(after: colon)...])
            } else {
                id = value
                let stores =
                    key == "LoadCredential"
                    ? ["/etc/credstore", "/run/credstore", "/usr/lib/credstore"]
                    : ["/etc/credstore.encrypted", "/run/credstore.encrypted", "/usr/lib/credstore.encrypted"]
                path = stores.map { $0 + "/" + id }.first { isRegularFile(root + $0) } ?? stores[0] + "/" + id
            }
            result[id] = key == "LoadCredential" ? .file(path) : .encrypted(path)
        }
        return result
    }

    /// Reads a file as the service would: a name under the credentials folder through the unit's
    /// credential (read by systemd, as root), anything else as the service's user, minding the
    /// unit's ProtectHome= and PrivateTmp=. Failures say what stops the service, and the fix.
    public func readFile(_ path: String) throws(FileReadError) -> String {
        let prefix = Self.credentialsDirectory + "/"
        if path.hasPrefix(prefix) {
            let id = String(path.dropFirst(prefix.count))
            switch credentials[id] {
            case .file(let source):
                do { return try FileIO.readText(source) } catch {
                    throw FileReadError(errno: error.errno, detail: "the unit's LoadCredential=\(id):\(source) cannot be read: \(error)")
                }
            case .encrypted(let source):
                return try Self.decrypt(id: id, source: source)
            case nil:
                throw FileReadError(
                    errno: Errno.noSuchFile.code,
                    detail: "the unit loads no credential named \(id): add LoadCredential=\(id):/path/to/file to it (systemctl edit aoai-canary)")
            }
        }
        for hidden in ["/home/", "/root/", "/run/user/"] where path.hasPrefix(hidden) {
            throw FileReadError(
                errno: Errno.permissionDenied.code,
                detail: "the service cannot see \(hidden) (the unit's ProtectHome=yes): keep it under /etc/aoai-canary/secrets/ or load it with LoadCredential="
            )
        }
        for hidden in ["/tmp/", "/var/tmp/"] where path.hasPrefix(hidden) {
            throw FileReadError(
                errno: Errno.noSuchFile.code,
                detail: "the service has its own empty \(hidden) (the unit's PrivateTmp=yes): keep it under /etc/aoai-canary/secrets/")
        }
        if let denial = accessDenial(path) { throw FileReadError(errno: Errno.permissionDenied.code, detail: denial) }
        return try FileIO.readText(path)
    }

    /// Why the service's user may not read `path` (a folder on the way it may not enter, or the
    /// file it may not read), from owners and modes; nil when it may, or the path does not exist
    /// (the read then says so). Access control lists are not consulted.
    func accessDenial(_ path: String) -> String? {
        var components = path.split(separator: "/").map(String.init)
        let file = components.popLast() ?? ""
        var folder = ""
        for component in components {
            folder += "/" + component
            guard let info = Self.status(folder) else { return nil }
            if !permits(info, bit: 1) { return "the service's user \(user) may not enter \(folder) (\(Self.describe(info))), so it cannot read \(path)" }
        }
        guard let info = Self.status(folder + "/" + file) else { return nil }
        if !permits(info, bit: 4) {
            return
                "the service's user \(user) may not read it (\(Self.describe(info))): chgrp \(user) and chmod 0640 it, or load it with LoadCredential= "
                + "(systemctl edit aoai-canary)"
        }
        return nil
    }

    private func permits(_ info: FileStatus, bit: UInt32) -> Bool {
        let mode = info.permissions
        if uid == 0 { return true }
        if info.owner == uid { return mode & (bit << 6) != 0 }
        if groups.contains(info.group) { return mode & (bit << 3) != 0 }
        return mode & bit != 0
    }

    private static func status(_ path: String) -> FileStatus? {
        try? System.status(path: path)
    }

    private static func describe(_ info: FileStatus) -> String {
        let mode = String(info.permissions, radix: 8)
        return "mode 0\(mode), owner \(System.userName(uid: info.owner)):\(System.groupName(gid: info.group))"
    }

    /// The uid and every group (primary and supplementary) of a user, or nil if there is none.
    static func userAccount(_ name: String) -> (uid: UInt32, groups: [UInt32])? {
        System.account(named: name)
    }

    /// `systemd-creds decrypt`, as systemd does for the service.
    static func decrypt(id: String, source: String) throws(FileReadError) -> String {
        func quoted(_ text: String) -> String { "'" + text.replacing("'", with: "'\\''") + "'" }
        guard isRegularFile(source) else {
            throw FileReadError(errno: Errno.noSuchFile.code, detail: "the unit's LoadCredentialEncrypted=\(id):\(source): no such file")
        }
        let status: Int32
        let bytes: [UInt8]
        do throws(Errno) {
            (status, bytes) = try System.shellOutput("systemd-creds decrypt --name=\(quoted(id)) \(quoted(source)) - 2>/dev/null", limit: 16 << 20)
        } catch {
            throw FileReadError(errno: error.code, detail: "cannot run systemd-creds to decrypt LoadCredentialEncrypted=\(id)")
        }
        guard status == 0 else {
            throw FileReadError(
                errno: Errno.permissionDenied.code, detail: "systemd-creds could not decrypt the unit's LoadCredentialEncrypted=\(id):\(source)")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func blankTrimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }

    private static func isRegularFile(_ path: String) -> Bool {
        status(path)?.kind == .regular
    }

    private static func directoryEntries(_ path: String) -> [String] {
        System.directoryEntries(path)
    }
}
