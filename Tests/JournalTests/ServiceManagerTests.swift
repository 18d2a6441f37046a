// The Journal module's service-manager side against a notify socket the test binds itself.
import Foundation
import Journal
import Testing

@Suite(.serialized) struct ServiceManagerTests {
    @Test func notifyReachesTheSocketNamedByNotifySocket() throws {
        let path = NSTemporaryDirectory() + "aoai-canary-notify-\(UUID().uuidString.prefix(8))"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer {
            close(fd)
            unlink(path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            path.utf8CString.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(raw.count - 1))) }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        #expect(ServiceManager.notify("READY=1\nSTATUS=testing"))
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(count > 0 && String(decoding: buffer[0..<max(0, count)], as: UTF8.self) == "READY=1\nSTATUS=testing")
    }

    @Test func withoutASocketNotifyIsANoOp() {
        unsetenv("NOTIFY_SOCKET")
        #expect(!ServiceManager.notify("READY=1"))
        #expect(ServiceManager.watchdogInterval == nil)
    }

    @Test func withoutSocketActivationThereAreNoListenDescriptors() {
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_PID")
        #expect(ServiceManager.listenDescriptors().isEmpty)
    }
}
