#!/usr/bin/env python3
"""make bench: aoai-canary against Debian's prometheus-blackbox-exporter on the same loopback target.

For each size (resources), both probe the same neutral target (`aoai-canary bench-target`) at the
same rate: the agent on its own schedule, blackbox_exporter driven the way Prometheus drives it
(/probe?target=...&module=aoai, with the api-key header in the module). Reports CPU seconds per
probe and peak RSS of each, their ratios, the agent's start lag, startup time and /metrics cost.
Reports, not pass/fail: the machines are shared and noisy, so compare the ratios of one run.
"""
import base64, concurrent.futures, http.server, json, os, signal, socket, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request

BIN = os.environ.get("AOAI_CANARY_BIN", ".build/release/aoai-canary")
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "1 100 1000 10000").split()]
RELOAD_SIZE = int(os.environ.get("BENCH_RELOAD_SIZE", "10000"))  # 0 skips the reload run
DISCOVERED = int(os.environ.get("BENCH_DISCOVERED", "100000"))   # 0 skips the discovery run
CONTROL_PLANE_SIZE = int(os.environ.get("BENCH_CONTROL_PLANE_SIZE", "10000"))  # 0 skips the control plane run
WINDOW = float(os.environ.get("BENCH_WINDOW", "20"))
RATE = float(os.environ.get("BENCH_RATE", "200"))  # probes per second at the larger sizes
TICK = os.sysconf("SC_CLK_TCK")
# "both": every resource has both canaries, its Entra ID one with tokens from a fake token endpoint
# (FakeResourceManager below); the floor and blackbox_exporter then make twice the calls, at the
# same rate as the agent's probes. "key" (the default): the key canary only.
AUTH = os.environ.get("BENCH_AUTH", "key")
CANARIES = 2 if AUTH == "both" else 1
AUTHORITY = [""]  # the fake token endpoint, started by main() when AUTH is "both"

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK

def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

def post(url, timeout=120):
    with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=timeout) as response:
        return response.status, response.read()

def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()

def wait_until(check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False

def samples(text, prefix):
    values = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values

def quantile(buckets, q):
    """Prometheus-style quantile from cumulative (upper bound, count) pairs."""
    total = buckets[-1][1]
    if total <= 0:
        return float("nan")
    rank, previous_bound, previous_count = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return previous_bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / max(count - previous_count, 1e-9)
        previous_bound, previous_count = bound, count
    return previous_bound

def lag_buckets(text):
    buckets = []
    for series, value in samples(text, "aoai_canary_round_start_lag_seconds_bucket").items():
        bound = series.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if bound == "+Inf" else float(bound), value))
    return sorted(buckets)

def interval_for(size):
    return max(1.0, size / RATE)

def write_listed(path, names, target, interval):
    """A configuration of listed resources, each with its key (and with BENCH_AUTH=both a
    credential), on `target`."""
    with open(path, "w") as f:
        f.write(f'listen: "127.0.0.1:0"\ninterval: {int(interval * 1000)}ms\ntimeout: 5s\n')
        if AUTH == "both":
            f.write(f'credentials:\n  app: {{type: client_secret, tenant_id: bench.example, client_id: bench, client_secret_file: bench.key, authority: "{AUTHORITY[0]}"}}\n')
        f.write("resources:\n")
        for name in names:
            f.write(f"  - name: {name}\n    endpoint: {target}{name}/\n    deployment: d\n    api_key_file: bench.key\n")
            if AUTH == "both":
                f.write("    credential: app\n")

def bench_agent(size, target, work):
    interval = interval_for(size)
    config = os.path.join(work, f"agent-{size}.yaml")
    write_listed(config, [f"r{i}" for i in range(size)], target, interval)
    port = free_port()
    started = time.time()
    agent = subprocess.Popen([BIN, "run", "--config", config, "--listen", f"127.0.0.1:{port}", "--log-format", "logfmt", "--log-level", "error"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(base + "/-/ready") is not None)
        startup = time.time() - started
        time.sleep(interval + 1)  # every resource has had its first round
        first = get(base + "/metrics").decode()
        cpu0, t0 = cpu_seconds(agent.pid), time.time()
        time.sleep(WINDOW)
        cpu1, t1 = cpu_seconds(agent.pid), time.time()
        last = get(base + "/metrics").decode()
        probes = sum(samples(last, "aoai_canary_probes_total").values()) - sum(samples(first, "aoai_canary_probes_total").values())
        failures = sum(samples(last, "aoai_canary_probe_failures_total").values()) - sum(samples(first, "aoai_canary_probe_failures_total").values())
        lag0, lag1 = dict(lag_buckets(first)), lag_buckets(last)
        window_lags = [(bound, count - lag0.get(bound, 0)) for bound, count in lag1]
        render = []
        for _ in range(5):
            start = time.time()
            body = get(base + "/metrics")
            render.append(time.time() - start)
        request = urllib.request.Request(base + "/metrics", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=10) as response:
            gzipped = len(response.read())
        return {
            "cpu_per_probe": (cpu1 - cpu0) / max(probes, 1), "probes": probes, "failures": failures, "seconds": t1 - t0,
            "rss": peak_rss_mib(agent.pid), "lag_p50": quantile(window_lags, 0.5), "lag_p99": quantile(window_lags, 0.99),
            "startup": startup, "metrics_seconds": sorted(render)[2], "metrics_bytes": len(body), "metrics_gzip_bytes": gzipped,
        }
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)

def bench_blackbox(size, target, work):
    interval = interval_for(size)
    size *= CANARIES  # as many calls as the agent makes
    config = os.path.join(work, "blackbox.yml")
    with open(config, "w") as f:
        f.write("""modules:
  aoai:
    prober: http
    timeout: 5s
    http:
      method: POST
      headers:
        api-key: bench-key
        Content-Type: application/json
      body: '{"messages":[{"role":"user","content":"ping"}],"max_tokens":1}'
      valid_status_codes: [200]
""")
    port = free_port()
    exporter = subprocess.Popen(["/usr/bin/prometheus-blackbox-exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done, failed, stop = [0], [0], threading.Event()
    lock = threading.Lock()
    def probe(i):
        query = urllib.parse.urlencode({"module": "aoai", "target": f"{target}r{i}/openai/deployments/d/chat/completions?api-version=2024-10-21"})
        try:
            ok = b"probe_success 1" in get(f"http://127.0.0.1:{port}/probe?{query}")
        except Exception:
            ok = False
        with lock:
            done[0] += 1
            failed[0] += 0 if ok else 1
    def drive():
        # The same spread as the agent's schedule: resource i at interval * i / size.
        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
            start = time.time()
            round_ = 0
            while not stop.is_set():
                for i in range(size):
                    due = start + round_ * interval + interval * i / size
                    delay = due - time.time()
                    if delay > 0:
                        if stop.wait(delay):
                            return
                    pool.submit(probe, i)
                round_ += 1
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{port}/-/healthy") is not None)
        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        time.sleep(interval + 1)
        with lock:
            probes0 = done[0]
        cpu0 = cpu_seconds(exporter.pid)
        time.sleep(WINDOW)
        cpu1 = cpu_seconds(exporter.pid)
        with lock:
            probes = done[0] - probes0
        stop.set()
        driver.join(timeout=10)
        return {"cpu_per_probe": (cpu1 - cpu0) / max(probes, 1), "probes": probes, "failures": failed[0], "rss": peak_rss_mib(exporter.pid)}
    finally:
        exporter.send_signal(signal.SIGTERM)
        exporter.wait(timeout=30)

FLOOR = os.environ.get("BENCH_FLOOR_BIN", ".build/bench-floor")
DOCS = os.environ.get("BENCH_DOCS", "")  # a markdown file whose bench table for this BENCH_AUTH is rewritten

RUNS = []  # the lines after the table, for the docs' `bench AUTH runs` block

def report(line, **print_options):
    """Prints a measurement and keeps it for the documentation."""
    print(line, flush=True, **{k: v for k, v in print_options.items() if k != "flush"})
    RUNS.append(line)

def replace_block(path, key, lines):
    """Rewrites the lines between `<!-- bench KEY: ... -->` and `<!-- /bench KEY -->` in `path`."""
    text = open(path).read()
    if f"<!-- bench {key}:" not in text:
        print(f"{path} has no <!-- bench {key}: --> block; not written")
        return
    begin = text.index(f"<!-- bench {key}:")
    begin = text.index("\n", begin) + 1
    end = text.index(f"<!-- /bench {key} -->")
    open(path, "w").write(text[:begin] + "\n".join(lines) + "\n" + text[end:])

def write_docs(path, results):
    """Rewrites this BENCH_AUTH's table and the lines after it in `path` with this run's figures,
    so that the documentation's figures are always a real run's."""
    rows = ["| resources | interval | agent CPU ms/probe | agent peak RSS MiB | start lag p50 / p99 | floor CPU ms/request | agent / floor |"
            " blackbox CPU ms/probe | blackbox peak RSS MiB | blackbox / agent CPU | blackbox / agent RSS |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, agent, blackbox, floor in results:
        enough = agent["cpu_per_probe"] * agent["probes"] >= 5 / TICK
        fl = f"{floor['cpu_per_probe']*1000:.3f}" if floor else "n/a"
        flr = f"{agent['cpu_per_probe']/floor['cpu_per_probe']:.2f}x" if floor and floor["cpu_per_probe"] > 0 and enough else "n/a"
        bbr = f"{blackbox['cpu_per_probe']/agent['cpu_per_probe']:.1f}x" if enough else "n/a"
        interval = interval_for(size)
        rows.append(f"| {size:,} | {interval:g} s | {agent['cpu_per_probe']*1000:.3f} | {agent['rss']:.1f} | {agent['lag_p50']*1000:.1f} / {agent['lag_p99']*1000:.1f} ms"
                    f" | {fl} | {flr} | {blackbox['cpu_per_probe']*1000:.3f} | {blackbox['rss']:.1f} | {bbr} | {blackbox['rss']/max(agent['rss'],1e-9):.1f}x |")
    replace_block(path, AUTH, rows)
    day = time.strftime("%Y-%m-%d")
    replace_block(path, f"{AUTH} runs", [f"One run on a {os.cpu_count()}-core machine, {day}:", ""] + [f"- {line}" for line in RUNS])
    print(f"wrote the figures of {path} for BENCH_AUTH={AUTH}")

def bench_floor(size, target):
    """bench/floor.c: a bare libcurl multi client making the same calls at the same rate, the
    floor any prober built on libcurl stands on. It counts its own window and CPU."""
    if not os.access(FLOOR, os.X_OK):
        return None
    interval = interval_for(size)
    out = subprocess.run([FLOOR, target, str(size * CANARIES), str(interval), str(interval + 1), str(WINDOW)],
                         capture_output=True, text=True, timeout=WINDOW + interval + 60)
    requests, cpu, failures = out.stdout.split()
    requests = int(requests)
    return {"cpu_per_probe": float(cpu) / max(requests, 1), "probes": requests, "failures": int(failures)}

def late_rounds(before, after, bound=1.0):
    """Rounds that started more than `bound` seconds late between two scrapes."""
    b, a = dict(lag_buckets(before)), dict(lag_buckets(after))
    total = a.get(float("inf"), 0) - b.get(float("inf"), 0)
    within = a.get(bound, 0) - b.get(bound, 0)
    return total - within, total

def bench_reloads(size, target, work):
    """Issue 17, item 3: reloads at `size` resources, while the schedule runs."""
    interval = interval_for(size)
    config = os.path.join(work, f"reload-{size}.yaml")
    names = [f"r{i}" for i in range(size)]
    write_listed(config, names, target, interval)
    port = free_port()
    agent = subprocess.Popen([BIN, "run", "--config", config, "--listen", f"127.0.0.1:{port}", "--log-format", "logfmt", "--log-level", "error",
                              "--web.enable-lifecycle"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(base + "/-/ready") is not None)
        time.sleep(interval + 1)
        # What resident memory does by itself over the same few seconds, with no reload.
        drift0 = rss_mib(agent.pid)
        time.sleep(5)
        rss0 = rss_mib(agent.pid)
        drift = rss0 - drift0
        before = get(base + "/metrics", timeout=60).decode()
        time.sleep(2)  # the rendering a scrape made is held for its second, then given back
        start = time.time()
        status, _ = post(base + "/-/reload")
        unchanged = time.time() - start
        time.sleep(3)
        after = get(base + "/metrics", timeout=60).decode()
        late, rounds = late_rounds(before, after)
        time.sleep(2)
        rss1 = rss_mib(agent.pid)
        # A change of a tenth: that many removed, as many added.
        tenth = size // 10
        write_listed(config, names[tenth:] + [f"n{i}" for i in range(tenth)], target, interval)
        start = time.time()
        post(base + "/-/reload")
        changed = time.time() - start
        time.sleep(3)
        rss2 = rss_mib(agent.pid)
        report(f"reloads at {size} resources (status {status}): unchanged file applied in {unchanged*1000:.0f} ms, {late:.0f} of {rounds:.0f} rounds started over 1 s late"
              f" meanwhile; {tenth} of {size} changed applied in {changed*1000:.0f} ms; RSS {rss0:.0f} MiB before, {rss1:.0f} after the unchanged reload"
              f" ({(rss1/rss0-1)*100:+.1f}%), {rss2:.0f} after the change ({(rss2/rss0-1)*100:+.1f}%); without a reload it moved {drift:+.1f} MiB in 5 s", flush=True)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)

class FakeResourceManager(http.server.BaseHTTPRequestHandler):
    """Entra ID's token endpoint and Resource Manager for `count` accounts, 1,000 to a page, and a
    data plane for one listed resource whose calls it counts. Answers every other read empty."""
    protocol_version = "HTTP/1.1"
    count, target, listed_hits, authority = 0, "", 0, ""
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def answer(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if "/oauth2/v2.0/token" in self.path:
            now = int(time.time())
            claims = {"aud": "https://cognitiveservices.azure.com", "oid": "bench", "tid": "bench", "iat": now, "exp": now + 3600, "ver": "2.0"}
            part = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
            return self.answer({"token_type": "Bearer", "expires_in": 3600, "access_token": part({"alg": "none"}) + "." + part(claims) + ".c2ln"})
        return self.answer({"value": []})

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path.startswith("/listed/"):
            with FakeResourceManager.lock:
                FakeResourceManager.listed_hits += 1
            return self.answer({"object": "list", "data": []})
        if path.endswith("/providers/Microsoft.CognitiveServices/accounts"):
            skip = int(urllib.parse.parse_qs(query).get("$skiptoken", ["0"])[0])
            page = range(skip, min(skip + 1000, self.count))
            sub = path.split("/")[2]
            body = {"value": [{"id": f"/subscriptions/{sub}/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/d{i}", "name": f"d{i}",
                               "kind": "OpenAI", "properties": {"endpoint": f"{self.target}d{i}/"}} for i in page]}
            if page.stop < self.count:
                body["nextLink"] = f"{self.authority}{path}?api-version=2024-10-01&$skiptoken={page.stop}"
            return self.answer(body)
        return self.answer({"value": []})

def bench_discovery(count, target, work):
    """Issue 17, items 1-3: `count` accounts found by discovery beside one listed resource probed
    every second; how long until they are applied, the memory it takes, and whether the listed
    resource kept its rounds meanwhile."""
    port = free_port()
    FakeResourceManager.count, FakeResourceManager.target = count, target
    FakeResourceManager.authority = f"http://127.0.0.1:{port}"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), FakeResourceManager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    authority = FakeResourceManager.authority
    config = os.path.join(work, "discovery.yaml")
    with open(config, "w") as f:
        f.write(f"""listen: "127.0.0.1:0"
interval: {int(max(60, count / RATE))}s
timeout: 5s
credentials:
  app: {{type: client_secret, tenant_id: bench.example, client_id: bench, client_secret_file: bench.key, authority: "{authority}"}}
control_plane: {{credential: app, endpoint: "{authority}", interval: 1h}}
discovery:
  - {{subscription: 5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b, credential: app, probe: models}}
resources:
  - {{name: listed, endpoint: "{authority}/listed/", probe: models, api_key_file: bench.key, interval: 1s}}
""")
    agent_port = free_port()
    started = time.time()
    agent = subprocess.Popen([BIN, "run", "--config", config, "--listen", f"127.0.0.1:{agent_port}", "--log-format", "logfmt", "--log-level", "info"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    applied = [None]
    lines = []
    def read():
        for line in agent.stderr:
            lines.append(line)
            if applied[0] is None and "discovery changed the resources" in line:
                applied[0] = time.time()
    threading.Thread(target=read, daemon=True).start()
    try:
        wait_until(lambda: applied[0] is not None or agent.poll() is not None, seconds=600)
        if applied[0] is None:
            # An agent that stopped (a configuration the bench no longer writes right) says why.
            why = f"the agent exited ({agent.returncode}): {''.join(lines[-3:]).strip()}" if agent.poll() is not None else "not applied within 600 s"
            report(f"discovery of {count} accounts: {why}")
            return
        hits_at_apply = FakeResourceManager.listed_hits
        time.sleep(5)
        took = applied[0] - started
        hits = FakeResourceManager.listed_hits
        ready = get(f"http://127.0.0.1:{agent_port}/-/ready") is not None
        report(f"discovery of {count} accounts: applied {took:.1f} s after start; peak RSS {peak_rss_mib(agent.pid):.0f} MiB, now {rss_mib(agent.pid):.0f} MiB;"
              f" the listed resource (1 s interval) was probed {hits_at_apply} times until then ({hits_at_apply/max(took,1e-9):.2f}/s) and {hits - hits_at_apply} in the 5 s after;"
              f" /-/ready {'200' if ready else 'not 200'}", flush=True)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
        server.shutdown()

# The demo world `aoai-canary simulate` seeds (Sources/AzureSimulator/DemoWorld.swift).
DEMO_TENANT, DEMO_CLIENT = "8a1f6b3e-0d2c-4c7a-9b5e-2f4d6a8c0e11", "3c9e2a71-5b4d-4e8f-a6c2-7d1b9e0f4a22"
DEMO_SECRET, DEMO_KEY = "demo-client-secret-value", "demo-api-key-0123456789abcdef"
DEMO_SUBSCRIPTION = "5f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"

def bench_control_plane(size, work):
    """Issue 20: what `control_plane:` costs at `size` resources with both canaries, against the
    simulator: the same estate run without and then with it, each over a window longer than the
    control plane's interval (1m), so the window holds a whole pass or more. Reads per second, the
    agent's CPU they add, and the round start lag meanwhile."""
    port = free_port()
    simulator = subprocess.Popen([BIN, "simulate", "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    window = max(WINDOW, 70.0)
    try:
        wait_until(lambda: get(base + "/_simulator/state") is not None)
        names = [f"cp{i}" for i in range(size)]
        post_json = urllib.request.Request(base + "/_simulator/resources/healthy/copies", data=json.dumps({"names": names}).encode(),
                                           headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(post_json, timeout=120) as response:
            response.read()
        for name, value in (("demo.secret", DEMO_SECRET), ("demo.key", DEMO_KEY)):
            with open(os.path.join(work, name), "w") as f:
                f.write(value + "\n")
            os.chmod(os.path.join(work, name), 0o600)
        interval = interval_for(size)
        results = {}
        for with_control_plane in (False, True):
            config = os.path.join(work, f"control-plane-{with_control_plane}.yaml")
            with open(config, "w") as f:
                f.write(f'listen: "127.0.0.1:0"\ninterval: {int(interval * 1000)}ms\ntimeout: 5s\n')
                f.write(f'credentials:\n  app: {{type: client_secret, tenant_id: {DEMO_TENANT}, client_id: {DEMO_CLIENT}, client_secret_file: demo.secret, authority: "{base}"}}\n')
                if with_control_plane:
                    f.write(f'control_plane: {{credential: app, endpoint: "{base}", interval: 1m}}\n')
                f.write("resources:\n")
                for name in names:
                    f.write(f"  - {{name: {name}, endpoint: \"{base}/resources/{name}/\", probe: models, api_key_file: demo.key, credential: app,"
                            f" arm_id: /subscriptions/{DEMO_SUBSCRIPTION}/resourceGroups/rg-canary/providers/Microsoft.CognitiveServices/accounts/{name}}}\n")
            agent_port = free_port()
            agent = subprocess.Popen([BIN, "run", "--config", config, "--listen", f"127.0.0.1:{agent_port}", "--log-format", "logfmt", "--log-level", "error"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            metrics = f"http://127.0.0.1:{agent_port}/metrics"
            try:
                wait_until(lambda: get(f"http://127.0.0.1:{agent_port}/-/ready") is not None)
                time.sleep(interval + 1)
                first = get(metrics).decode()
                cpu0 = cpu_seconds(agent.pid)
                time.sleep(window)
                cpu1 = cpu_seconds(agent.pid)
                last = get(metrics).decode()
                total = lambda text, name: sum(samples(text, name).values())
                probes = total(last, "aoai_canary_probes_total") - total(first, "aoai_canary_probes_total")
                failures = total(last, "aoai_canary_probe_failures_total") - total(first, "aoai_canary_probe_failures_total")
                reads = total(last, "aoai_canary_control_plane_requests_total") - total(first, "aoai_canary_control_plane_requests_total")
                granted = samples(last, "aoai_canary_data_action_granted")
                lag0, lag1 = dict(lag_buckets(first)), lag_buckets(last)
                lags = [(bound, count - lag0.get(bound, 0)) for bound, count in lag1]
                late, rounds = late_rounds(first, last)
                results[with_control_plane] = {"cpu": cpu1 - cpu0, "probes": probes, "failures": failures, "reads": reads,
                                               "lag_p99": quantile(lags, 0.99), "late": late, "rounds": rounds, "rss": peak_rss_mib(agent.pid),
                                               "granted": sum(1 for value in granted.values() if value == 1)}
            finally:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=30)
        off, on = results[False], results[True]
        extra = on["cpu"] - off["cpu"] * on["probes"] / max(off["probes"], 1)
        report(f"control plane at {size} resources, both canaries, interval 1m, against the simulator, {window:.0f} s windows:"
              f" {on['reads'] / window:.0f} Resource Manager reads/s ({on['reads']:.0f} in the window; {on['granted']} resources with data_action_granted 1);"
              f" agent CPU {on['cpu'] / window * 100:.1f}% of a core with it, {off['cpu'] / window * 100:.1f}% without"
              f" ({extra * 1000 / max(on['reads'], 1):.3f} ms per read);"
              f" round start lag p99 {on['lag_p99'] * 1000:.1f} ms with it, {off['lag_p99'] * 1000:.1f} ms without;"
              f" rounds over 1 s late {on['late']:.0f} of {on['rounds']:.0f} with it, {off['late']:.0f} of {off['rounds']:.0f} without;"
              f" failed probes {on['failures']:.0f} of {on['probes']:.0f} with it, {off['failures']:.0f} of {off['probes']:.0f} without;"
              f" peak RSS {on['rss']:.0f} MiB with it, {off['rss']:.0f} without", flush=True)
    finally:
        simulator.send_signal(signal.SIGTERM)
        simulator.wait(timeout=30)

def main():
    work = tempfile.mkdtemp(prefix="aoai-canary-bench-")
    with open(os.path.join(work, "bench.key"), "w") as f:
        f.write("bench-key\n")
    os.chmod(os.path.join(work, "bench.key"), 0o600)
    target_port = free_port()
    target = subprocess.Popen([BIN, "bench-target", f"127.0.0.1:{target_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target_url = f"http://127.0.0.1:{target_port}/"
    if AUTH == "both":
        port = free_port()
        FakeResourceManager.authority = AUTHORITY[0] = f"http://127.0.0.1:{port}"
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), FakeResourceManager)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_until(lambda: get(target_url) is not None)
        canaries = "both canaries" if AUTH == "both" else "the key canary"
        print(f"aoai-canary bench: {canaries}, window {WINDOW:.0f} s per size, up to {RATE * CANARIES:.0f} probes/s, {os.cpu_count()} cores; CPU ms per probe, peak RSS MiB")
        print(f"{'resources':>9} {'interval':>8} | {'agent ms/probe':>14} {'agent RSS':>9} {'lag p50':>8} {'lag p99':>8} | {'floor ms/req':>12} {'agent/floor':>11}"
              f" | {'blackbox ms/probe':>17} {'bb RSS':>7} | {'bb/agent CPU':>12} {'bb/agent RSS':>12}")
        results = []
        for size in SIZES:
            agent = bench_agent(size, target_url, work)
            floor = bench_floor(size, target_url)
            blackbox = bench_blackbox(size, target_url, work)
            results.append((size, agent, blackbox, floor))
            # CPU time is counted in clock ticks: below a few ticks in the window a ratio means nothing.
            enough = agent["cpu_per_probe"] * agent["probes"] >= 5 / TICK
            ratio = f"{blackbox['cpu_per_probe']/agent['cpu_per_probe']:>11.1f}x" if enough else f"{'n/a':>12}"
            floor_ms = f"{floor['cpu_per_probe']*1000:>12.3f}" if floor else f"{'n/a':>12}"
            floor_ratio = f"{agent['cpu_per_probe']/floor['cpu_per_probe']:>10.2f}x" if floor and floor["cpu_per_probe"] > 0 and enough else f"{'n/a':>11}"
            print(f"{size:>9} {interval_for(size):>7.1f}s | {agent['cpu_per_probe']*1000:>14.3f} {agent['rss']:>9.1f} {agent['lag_p50']*1000:>6.1f}ms {agent['lag_p99']*1000:>6.1f}ms |"
                  f" {floor_ms} {floor_ratio} | {blackbox['cpu_per_probe']*1000:>17.3f} {blackbox['rss']:>7.1f} | {ratio} {blackbox['rss']/max(agent['rss'],1e-9):>11.1f}x",
                  flush=True)
            if floor and floor["failures"]:
                report(f"at {size} resources, failed requests of the floor in the window: {floor['failures']} of {floor['probes']}")
            if agent["failures"] or blackbox["failures"]:
                report(f"at {size} resources, failed probes in the window: agent {agent['failures']:.0f} of {agent['probes']:.0f}, blackbox {blackbox['failures']} of {blackbox['probes']}")
        size, agent, _, _ = results[-1]
        report(f"at {size} resources: startup to ready {agent['startup']*1000:.0f} ms; /metrics {agent['metrics_bytes']/1024:.0f} KiB"
              f" ({agent['metrics_gzip_bytes']/1024:.0f} KiB gzip) rendered and served in {agent['metrics_seconds']*1000:.1f} ms")
        if RELOAD_SIZE:
            bench_reloads(RELOAD_SIZE, target_url, work)
        if DISCOVERED:
            bench_discovery(DISCOVERED, target_url, work)
        if CONTROL_PLANE_SIZE:
            bench_control_plane(CONTROL_PLANE_SIZE, work)
        if DOCS:
            write_docs(DOCS, results)
    finally:
        target.send_signal(signal.SIGTERM)
        target.wait(timeout=30)

if __name__ == "__main__":
    sys.exit(main())
