// The status page in a real browser: headless Chromium renders it to a PNG and its DOM is checked.
import Foundation
import Testing

let chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs headless Chromium with `arguments` and returns its exit status and standard output.
func chromium(_ arguments: [String]) async throws -> (status: Int32?, stdout: String) {
    let profile = NSTemporaryDirectory() + "chromium-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: profile) }
    let result = try await runTool(
        chromiumPath!,
        [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
            "--user-data-dir=\(profile)", "--no-first-run",
        ] + arguments)
    return (result.status, result.stdout)
}

@Suite(.serialized) struct BrowserTests {
    @Test(.enabled(if: chromiumPath != nil, "needs Debian's chromium (make deps installs it)"))
    func theStatusPageRendersInChromium() async throws {
        let world = try World()
        let path = world.directory + "/config.yaml"
        try world.configText(
            resources: [
                ("healthy", world.addResource("healthy")),
                ("no-role", world.addResource("no-role", grantRole: false)),
                ("<script>alert(1)</script>", world.addResource("escaped")),
            ], interval: "2s"
        ).write(toFile: path, atomically: true, encoding: .utf8)
        let child = try Child(["run", "--config", path, "--listen", "127.0.0.1:0", "--log-format", "logfmt"])
        let found = await child.await(30, in: { child.stderr }, metricsURL)
        let base = String(try #require(found).dropLast("/metrics".count))
        // Every resource has had its first round.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !String(decoding: try await get(base + "/status.json").body, as: UTF8.self).contains(#""result":"failure""#) {
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .milliseconds(1500))

        let screenshot = NSTemporaryDirectory() + "status-page-" + UUID().uuidString + ".png"
        defer { try? FileManager.default.removeItem(atPath: screenshot) }
        let shot = try await chromium(["--window-size=1280,900", "--screenshot=\(screenshot)", base + "/"])
        #expect(shot.status == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "not a PNG")
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 1280 && height == 900)
        #expect(png.count > 20_000, "a blank page compresses to almost nothing")

        // At a phone's width (375 px) nothing needs a horizontal scroll. Headless Chromium keeps its
        // window at least 500 px wide, so the page, as served, is laid out in a 375 px frame beside
        // a measuring script, which writes into the DOM what is wider than the frame.
        let served = String(decoding: try await get(base + "/").body, as: UTF8.self)
        let escaped = served.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
        let wrapper = """
            <!DOCTYPE html><html><body style="margin:0">
            <iframe id="phone" style="width:375px;height:812px;border:0" srcdoc="\(escaped)"></iframe>
            <script>
            document.getElementById('phone').addEventListener('load', () => {
              const page = document.getElementById('phone').contentDocument;
              const width = page.documentElement.clientWidth;
              const wide = [...page.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1)
                .map(e => e.tagName + (e.dataset.label ? '[' + e.dataset.label + ']' : ''));
              const labels = [...new Set([...page.querySelectorAll('td[data-label]')]
                .filter(e => e.getBoundingClientRect().width > 0).map(e => e.dataset.label))];
              document.body.setAttribute('data-measured', JSON.stringify({width, scroll: page.documentElement.scrollWidth, wide, labels}));
            });
            </script></body></html>
            """
        let phonePage = NSTemporaryDirectory() + "status-phone-" + UUID().uuidString + ".html"
        defer { try? FileManager.default.removeItem(atPath: phonePage) }
        try wrapper.write(toFile: phonePage, atomically: true, encoding: .utf8)
        let phoneDOM = try await chromium(["--window-size=500,900", "--virtual-time-budget=3000", "--dump-dom", "file://" + phonePage]).stdout
        let measured = try #require(phoneDOM.firstMatch(of: /data-measured="([^"]*)"/)?.1, "not measured: \(phoneDOM.suffix(400))")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(measured.replacingOccurrences(of: "&quot;", with: "\"").utf8)) as? [String: Any])
        #expect(json["width"] as? Int == 375, "\(json)")
        #expect(json["scroll"] as? Int == 375 && (json["wide"] as? [String])?.isEmpty == true, "wider than a phone: \(json)")
        #expect(Set(json["labels"] as? [String] ?? []).isSuperset(of: ["Last result", "Fix", "Last success"]), "\(json)")
        let phoneShot = NSTemporaryDirectory() + "status-phone-" + UUID().uuidString + ".png"
        defer { try? FileManager.default.removeItem(atPath: phoneShot) }
        let phoneScreenshot = try await chromium(["--window-size=500,900", "--virtual-time-budget=3000", "--screenshot=\(phoneShot)", "file://" + phonePage])
        #expect(phoneScreenshot.status == 0)
        #expect((try? Data(contentsOf: URL(fileURLWithPath: phoneShot)))?.count ?? 0 > 10_000, "the page rendered in the phone's frame")

        // What the browser built from the page: the DOM after parsing.
        let dom = try await chromium(["--dump-dom", base + "/"]).stdout
        child.process.terminate()
        _ = await child.wait(seconds: 5)
        #expect(dom.contains("<h1>aoai-canary status</h1>"))
        #expect(dom.contains("key works, Entra ID fails"))
        #expect(dom.contains("✘ permission_denied"))
        #expect(dom.contains("possibly propagating"))
        #expect(dom.contains("✔ success"))
        #expect(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "resource names are escaped")
        #expect(!dom.contains("<script>alert(1)</script>"))
        #expect(!dom.contains("<script"), "the page needs no JavaScript")
        #expect(dom.contains(Names.object), "the token table shows the object id")
        #expect(!dom.contains(Names.secret) && !dom.contains(Names.key))
    }
}
