// The metrics endpoint under abuse: idle connections by the hundred, slowloris senders, huge
// headers and unknown methods from other addresses, while a scraper still gets its answer.
import Foundation
import HTTPClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP connection from a chosen loopback address.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init?(from source: String, to port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let ok =
            withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            == 0
            && withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
        if !ok {
            close(fd)
            return nil
        }
    }

    deinit { close(fd) }

    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Whatever arrives before the peer closes or 5 s pass.
    func receive() -> String {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            result += buffer[0..<count]
            if result.count > 1 << 20 { break }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

@Suite(.serialized) struct EndpointTests {
    @Test func scrapesAreAnsweredWhileOthersAbuseTheEndpoint() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("r", world.addResource("r"))], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        let port = try #require(Int(url.split(separator: ":").last?.split(separator: "/").first ?? ""))

        // Hundreds of idle connections from one address: held to the per-address limit.
        let idle = (0..<300).compactMap { _ in RawConnection(from: "127.0.0.2", to: port) }
        // Slowloris: headers that never end, a line at a time.
        let slow = (0..<20).compactMap { _ in RawConnection(from: "127.0.0.3", to: port) }
        for connection in slow { connection.send("GET /metrics HTTP/1.1\r\nHost: x\r\n") }

        for round in 0..<5 {
            for connection in slow { connection.send("X-Slow-\(round): y\r\n") }
            let response = try await get(url)
            #expect(response.status == 200, "scrape \(round) while under abuse")
            #expect(String(decoding: response.body, as: UTF8.self).contains("aoai_canary_build_info"))
        }

        // A header larger than a connection may hold is refused, not buffered.
        let big = try #require(RawConnection(from: "127.0.0.4", to: port))
        big.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n")
        let bigAnswer = big.receive()
        #expect(!bigAnswer.hasPrefix("HTTP/1.1 200"), "a 100 KB header must not be served: \(bigAnswer.prefix(80))")

        // Unknown methods get 405 and the allowed ones.
        let brew = try #require(RawConnection(from: "127.0.0.5", to: port))
        brew.send("BREW /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let brewAnswer = brew.receive()
        #expect(brewAnswer.hasPrefix("HTTP/1.1 405"), "\(brewAnswer.prefix(80))")
        #expect(brewAnswer.contains("Allow: GET, HEAD"))

        // Without the per-address limit every idle client would hold a descriptor (300, with the
        // 20 slow ones and the agent's own 15 on top); with it, 32 of them do, and connections
        // over the limit are closed as they come: seconds late on a loaded machine (CI saw 256
        // at the first look, and once 271 after 10 s), so the bound is checked until it holds or
        // 30 s pass: a bound on waiting, not a timing.
        var open = Double.infinity
        let deadline = Date().addingTimeInterval(30)
        repeat {
            let text = String(decoding: try await get(url).body, as: UTF8.self)
            open = try #require(sampleValue(text, "process_open_fds"))
            if open < 250 { break }
            try await Task.sleep(for: .milliseconds(200))
        } while Date() < deadline
        #expect(open < 250, "the per-address limit keeps descriptors bounded: \(open) open with \(idle.count) idle clients")
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0)
    }

    /// Issue 17, item 7: a local user who holds idle connections and slow headers from
    /// 127.0.0.1, the very address a local Prometheus scrapes from, no longer blinds it: a new
    /// connection over the per-address limit evicts that address's longest-idle one.
    @Test func aLocalUserCannotBlindALoopbackScraper() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(resources: [("r", world.addResource("r"))], interval: "1s").write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt", "--web.enable-lifecycle"])
        let url = try #require(await child.await(30, in: { child.stderr }, metricsURL))
        let port = try #require(Int(url.split(separator: ":").last?.split(separator: "/").first ?? ""))
        var held: [RawConnection] = []
        for index in 0..<48 {
            guard let connection = RawConnection(from: "127.0.0.1", to: port) else { continue }
            // A quarter slowloris (headers that never end), the rest idle.
            if index % 4 == 0 { connection.send("GET /metrics HTTP/1.1\r\nHost: x\r\n") }
            held.append(connection)
        }
        var answered = 0
        for _ in 0..<10 {
            let scraper = HTTPClient()
            if let response = try? await scraper.execute(HTTPClientRequest(method: "GET", url: url, timeoutSeconds: 5)), response.status == 200 {
                answered += 1
            }
            scraper.shutdown()
            for connection in held.prefix(8) where connection.fd % 4 == 0 { connection.send("X-More: y\r\n") }
        }
        #expect(answered == 10, "\(answered) of 10 scrapes answered beside 48 held connections from the same address")
        child.process.terminate()
        #expect(await child.wait(seconds: 10) == 0)
    }
}
