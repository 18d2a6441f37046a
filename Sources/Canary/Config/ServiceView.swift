// How the systemd service will see its files: as its own user, through its unit's LoadCredential=
// and sandbox. `check-config` run by root reads the service's configuration through this, so that
// OK means the service can read everything it names.
#if canImport(Glibc)
import Glibc
import Support
#endif

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
        return ServiceView(user: userName, uid: account.uid, groups: account.groups,
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
            if line.hasPrefix("[") { section = line; continue }
            guard section == "[Service]", !line.hasPrefix("#"), !line.hasPrefix(";"), let equals = line.firstIndex(of: "=") else { continue }
            let key = blankTrimmed(line[..<equals])
            let value = blankTrimmed(line[line.index(after: equals)...])
            guard key == "LoadCredential" || key == "LoadCredentialEncrypted" else { continue }
            if value.isEmpty { result = [:]; continue }
            let id: String
            var path: String
            if let colon = value.firstIndex(of: ":") {
                id = String(value[..<colon])
                path = String(value[value.index(after: colon)...])
            } else {
                id = value
                let stores = key == "LoadCredential" ? ["/etc/credstore", "/run/credstore", "/usr/lib/credstore"]
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
                throw FileReadError(errno: ENOENT, detail: "the unit loads no credential named \(id): add LoadCredential=\(id):/path/to/file to it (systemctl edit aoai-canary)")
            }
        }
        for hidden in ["/home/", "/root/", "/run/user/"] where path.hasPrefix(hidden) {
            throw FileReadError(errno: EACCES, detail: "the service cannot see \(hidden) (the unit's ProtectHome=yes): keep it under /etc/aoai-canary/secrets/ or load it with LoadCredential=")
        }
        for hidden in ["/tmp/", "/var/tmp/"] where path.hasPrefix(hidden) {
            throw FileReadError(errno: ENOENT, detail: "the service has its own empty \(hidden) (the unit's PrivateTmp=yes): keep it under /etc/aoai-canary/secrets/")
        }
        if let denial = accessDenial(path) { throw FileReadError(errno: EACCES, detail: denial) }
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
            return "the service's user \(user) may not read it (\(Self.describe(info))): chgrp \(user) and chmod 0640 it, or load it with LoadCredential= (systemctl edit aoai-canary)"
        }
        return nil
    }

    private func permits(_ info: stat, bit: UInt32) -> Bool {
        let mode = UInt32(info.st_mode)
        if uid == 0 { return true }
        if info.st_uid == uid { return mode & (bit << 6) != 0 }
        if groups.contains(info.st_gid) { return mode & (bit << 3) != 0 }
        return mode & bit != 0
    }

    private static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    private static func describe(_ info: stat) -> String {
        let mode = String(UInt32(info.st_mode) & 0o7777, radix: 8)
        return "mode 0\(mode), owner \(accountName(uid: info.st_uid)):\(groupName(gid: info.st_gid))"
    }

    private static func accountName(uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return String(uid) }
        return String(cString: name)
    }

    private static func groupName(gid: UInt32) -> String {
        guard let entry = getgrgid(gid), let name = entry.pointee.gr_name else { return String(gid) }
        return String(cString: name)
    }

    /// The uid and every group (primary and supplementary) of a user, or nil if there is none.
    static func userAccount(_ name: String) -> (uid: UInt32, groups: [UInt32])? {
        guard let entry = getpwnam(name) else { return nil }
        let uid = entry.pointee.pw_uid
        let primary = entry.pointee.pw_gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, primary, &groups, &count)
        }
        return (uid, Array(groups.prefix(Int(max(count, 0)))) + [primary])
    }

    /// `systemd-creds decrypt`, as systemd does for the service.
    static func decrypt(id: String, source: String) throws(FileReadError) -> String {
        func quoted(_ text: String) -> String { "'" + text.replacing("'", with: "'\\''") + "'" }
        guard isRegularFile(source) else {
            throw FileReadError(errno: ENOENT, detail: "the unit's LoadCredentialEncrypted=\(id):\(source): no such file")
        }
        guard let pipe = popen("systemd-creds decrypt --name=\(quoted(id)) \(quoted(source)) - 2>/dev/null", "r") else {
            throw FileReadError(errno: errno, detail: "cannot run systemd-creds to decrypt LoadCredentialEncrypted=\(id)")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, pipe)
            if count <= 0 { break }
            bytes += buffer[0..<count]
            if bytes.count > 16 << 20 { break }
        }
        let status = pclose(pipe)
        guard status == 0 else {
            throw FileReadError(errno: EACCES, detail: "systemd-creds could not decrypt the unit's LoadCredentialEncrypted=\(id):\(source)")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func blankTrimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }

    private static func isRegularFile(_ path: String) -> Bool {
        guard let info = status(path) else { return false }
        return (info.st_mode & S_IFMT) == S_IFREG
    }

    private static func directoryEntries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
