// The HTTP client module against a real server on loopback: answers, limits, timeouts, and
// options libcurl refuses.
import CCurl
import Foundation
import HTTPServer
import Testing

@testable import HTTPClient

let client = HTTPClient()

@Suite struct HTTPClientTests {
    func server(_ handler: @escaping HTTPServer.Handler) throws -> HTTPServer {
        try HTTPServer(host: "127.0.0.1", port: 0, threading: .threadPerConnection, handler: handler)
    }

    @Test func aCallGetsStatusHeadersBodyAndTimings() async throws {
        let server = try server { request in
            HTTPResponse(
                status: 201, contentType: "text/plain", body: "\(request.method) \(request.path) \(request.header("X-Test") ?? "")",
                headers: [("X-Answer", "yes")])
        }
        defer { server.stop() }
        let response = try await client.execute(
            HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(server.boundAddress.port)/p", headers: [("X-Test", "1")], body: Array("b".utf8)))
        #expect(response.status == 201)
        #expect(String(decoding: response.body, as: UTF8.self) == "POST /p 1")
        #expect(response.header("x-answer") == "yes")
        #expect(response.timings.total > 0)
    }

    @Test func aLongBodyIsCutAtTheLimit() async throws {
        let server = try server { _ in HTTPResponse(status: 200, contentType: "text/plain", body: String(repeating: "x", count: 100_000)) }
        defer { server.stop() }
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.boundAddress.port)/", maxBodyBytes: 1000))
        #expect(response.body.count == 1000 && response.bodyTruncated)
    }

    @Test func aSlowAnswerTimesOut() async throws {
        let server = try server { _ in
            usleep(2_000_000)
            return HTTPResponse(status: 200)
        }
        defer { server.stop() }
        await #expect(throws: HTTPClientError.timeout(seconds: 0.3)) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.boundAddress.port)/", timeoutSeconds: 0.3))
        }
    }

    @Test func anOptionLibcurlRefusesFailsTheCallNamingIt() async throws {
        // libcurl refuses strings over 8 MB (CURL_MAX_INPUT_LENGTH): the call must fail with the
        // option's name rather than go on without it (here: without the CA bundle asked for).
        let server = try server { _ in HTTPResponse(status: 200) }
        defer { server.stop() }
        let hugePath = "/" + String(repeating: "a", count: 9 << 20)
        await #expect {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.boundAddress.port)/", caFile: hugePath))
        } throws: { error in
            guard case .setupFailed(let option, _) = error as? HTTPClientError else { return false }
            return option == "CURLOPT_CAINFO"
        }
    }

    @Test func theLoopThreadIsNamed() async throws {
        let server = try server { _ in HTTPResponse(status: 200) }
        defer { server.stop() }
        _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(server.boundAddress.port)/"))
        let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap {
            try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(names.contains("aoai-canary-cur"), "\(names)")  // Linux keeps 15 bytes of aoai-canary-curl
    }

    /// Issue 18: libcurl's results are checked. A curl_global_init that failed fails every call
    /// with a typed error, instead of a multi handle used as if it existed.
    @Test func aLibcurlThatCannotStartFailsEveryCallWithItsReason() async {
        let broken = HTTPClient(globalInit: CURLE_FAILED_INIT)
        defer { broken.shutdown() }
        do {
            _ = try await broken.execute(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:9/", timeoutSeconds: 1))
            Issue.record("a call succeeded on a client that could not start")
        } catch {
            guard case .setupFailed(let option, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(option == "curl_global_init")
        }
    }
}
