// The HTTP server module alone: answers given later, the stop that answers parked connections,
// the client-certificate policy, the body limit, and HTTP dates.
import Foundation
import HTTPServer
import Synchronization
import Testing

/// One request with curl's command-line tool's simplest stand-in: a raw socket, so this target
/// needs no HTTP client. Returns the status code, or nil when the connection closed unanswered.
func rawRequest(_ port: Int, _ text: String, timeout: Double = 10) -> (status: Int?, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return (nil, "") }
    _ = text.withCString { send(fd, $0, strlen($0), 0) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer[0..<count]
    }
    let response = String(decoding: received, as: UTF8.self)
    let status = response.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
    let body = response.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
    return (status, body)
}

func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" }

/// `rawRequest` on a thread of its own: it blocks, and the cooperative pool has only a few.
func rawRequestOffThePool(_ port: Int, _ text: String) async -> (status: Int?, body: String) {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: rawRequest(port, text)) }
    }
}

@Suite struct HTTPServerTests {
    @Test func anAnswerGivenLaterHoldsNoThreadWhileItWaits() async throws {
        // Two pool threads, and three requests parked at once: a fourth still gets its answer,
        // then the parked ones are answered when their work finishes.
        let replies = Mutex<[@Sendable (HTTPResponse) -> Void]>([])
        let server = try HTTPServer(host: "127.0.0.1", port: 0, threading: .pool(threads: 2)) { request in
            guard request.path == "/later" else { return HTTPResponse(status: 200, contentType: "text/plain", body: "now") }
            return .later { reply in replies.withLock { $0.append(reply) } }
        }
        defer { server.stop() }
        let port = server.boundAddress.port
        let parked = (0..<3).map { _ in Task { await rawRequestOffThePool(port, get("/later")) } }
        while replies.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(rawRequest(port, get("/now"), timeout: 5).status == 200)
        for reply in replies.withLock({ $0 }) { reply(HTTPResponse(status: 202, contentType: "text/plain", body: "done")) }
        for request in parked {
            let answer = await request.value
            #expect(answer.status == 202 && answer.body == "done")
        }
    }

    @Test func aStoppingServerLetsGoOfParkedRequests() async throws {
        let parkedCount = Atomic<Int>(0)
        let server = try HTTPServer(host: "127.0.0.1", port: 0, threading: .pool(threads: 2)) { _ in
            .later { _ in parkedCount.add(1, ordering: .relaxed) }  // never replies
        }
        let port = server.boundAddress.port
        let parked = Task { await rawRequestOffThePool(port, get("/")) }
        while parkedCount.load(ordering: .relaxed) < 1 { try await Task.sleep(for: .milliseconds(10)) }
        server.stop()  // returns: libmicrohttpd is never stopped with a connection still parked
        let answer = await parked.value
        // Answered 503 before the stop closes it: never left hanging (the client waits up to 10 s).
        #expect(answer.status == 503)
    }

    @Test func aThreadPerConnectionServerRefusesAnswersGivenLater() throws {
        let server = try HTTPServer(host: "127.0.0.1", port: 0, threading: .threadPerConnection) { _ in .later { _ in } }
        defer { server.stop() }
        #expect(rawRequest(server.boundAddress.port, get("/")).status == 501)
    }

    @Test(arguments: ClientCertificatePolicy.allCases)
    func thePolicyDecidesWhichCertificatesPass(policy: ClientCertificatePolicy) {
        let passes: [ClientCertificatePolicy: Set<String>] = [
            .noClientCert: ["notTLS", "none", "verified", "unverified"],
            .requestClientCert: ["notTLS", "none", "verified", "unverified"],
            .requireAnyClientCert: ["notTLS", "verified", "unverified"],
            .verifyClientCertIfGiven: ["notTLS", "none", "verified"],
            .requireAndVerifyClientCert: ["verified"],
        ]
        for (certificate, name) in [(ClientCertificate.notTLS, "notTLS"), (.none, "none"), (.verified, "verified"), (.unverified, "unverified")] {
            #expect((policy.refusal(for: certificate) == nil) == passes[policy]!.contains(name), "\(policy) with \(name)")
        }
    }

    @Test func aBodyPastTheLimitIsRefusedWithoutReachingTheHandler() throws {
        let handled = Mutex(0)
        let server = try HTTPServer(host: "127.0.0.1", port: 0, limits: HTTPServerLimits(maxBodyBytes: 10)) { _ in
            handled.withLock { $0 += 1 }
            return HTTPResponse(status: 200)
        }
        defer { server.stop() }
        let body = String(repeating: "x", count: 100)
        let answer = rawRequest(server.boundAddress.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n" + body)
        #expect(answer.status == 413)
        #expect(handled.withLock { $0 } == 0)
        let small = rawRequest(server.boundAddress.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n" + body.prefix(10))
        #expect(small.status == 200)
    }

    @Test(arguments: [(0.0, "Thu, 01 Jan 1970 00:00:00 GMT"), (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"), (1_800_000_000, "Fri, 15 Jan 2027 08:00:00 GMT")])
    func httpDatesRoundTrip(seconds: Double, text: String) {
        #expect(HTTPDate.imfFixdate(seconds) == text)
        #expect(HTTPDate.parse(text) == seconds)
        #expect(HTTPDate.parse(text.replacingOccurrences(of: "GMT", with: "UTC")) == nil)
    }
}
