#!/usr/bin/env python3
"""The image, run as a Kubernetes node would run it, against `aoai-canary simulate`.

    image_test.py ARCHIVE SIMULATOR_BINARY

ARCHIVE is what `make image` wrote. Each container is the image's root filesystem (unpacked by
buildah) run by container.sh: read-only root, the image's user, PID 1 of its own namespace, only
the environment and files the AKS workload identity webhook injects (AZURE_CLIENT_ID,
AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST and the projected token under
/var/run/secrets/azure/tokens), the configuration as a kubelet-style ConfigMap mount and the keys
as a Secret mount. The cluster's trust store is the image's CA bundle plus the simulator's CA.
Standard library only; exits 1 with what failed.
"""

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ARGS = ["run", "--config", "/etc/aoai-canary/config.yaml", "--config.watch", "--shard", "ordinal/2", "--log-format", "logfmt"]
TOKEN_DIR = "/var/run/secrets/azure/tokens"
SECRETS_DIR = "/var/run/secrets/aoai-canary"
SIZE_LIMIT = 60_000_000

failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message.splitlines()[0], flush=True)
    if not condition:
        failures.append(message)
    return condition


def run(command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs).stdout


def wait_for(what, seconds, probe):
    """probe() until it returns something truthy, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def samples(text, name):
    """{labels-dict-as-tuple: value} of metric `name` in Prometheus text."""
    found = {}
    for line in text.splitlines():
        match = re.match(name + r"\{([^}]*)\} (\S+)$", line)
        if match:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match.group(1))))
            found[labels] = float(match.group(2))
    return found


def label_values(text, name, label, **where):
    return {
        dict(labels)[label]
        for labels, _ in samples(text, name).items()
        if all(dict(labels).get(key) == value for key, value in where.items())
    }


def children(pid):
    """The pids whose parent is `pid`, from /proc/*/stat."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


class Container:
    """One run of the image under container.sh; its stderr is kept in a file."""

    def __init__(self, name, rootfs, work, command, env, mounts):
        self.name = name
        self.log_path = os.path.join(work, name + ".log")
        options = []
        for source, target in mounts:
            options += ["-v", f"{source}:{target}"]
        for key, value in env.items():
            options += ["-e", f"{key}={value}"]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [os.path.join(HERE, "container.sh"), rootfs, *options, "-h", name, "--", *command],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, TMPDIR=work))
        self.base = None

    def output(self):
        with open(self.log_path) as log:
            return log.read()

    def wait_for_url(self):
        def found():
            match = re.search(r"https?://127\.0\.0\.1:\d+/metrics", self.output())
            return match.group(0)[: -len("/metrics")] if match else None

        self.base = wait_for("metrics URL", 30, found)
        return self.base

    def metrics(self):
        return get(self.base + "/metrics")[1]

    def init_pid(self):
        """The host pid of the container's PID 1 (unshare's child)."""
        return wait_for("PID 1", 10, lambda: (children(self.process.pid) or [None])[0])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def configmap(directory, text, version):
    """Writes `text` as a kubelet writes a ConfigMap volume: a timestamped folder, ..data linking
    to it (swapped atomically by rename), config.yaml linking through ..data."""
    os.makedirs(directory, exist_ok=True)
    data = f"..2026_12_07_00_00_0{version}.{version}"
    os.makedirs(os.path.join(directory, data))
    with open(os.path.join(directory, data, "config.yaml"), "w") as file:
        file.write(text)
    os.symlink(data, os.path.join(directory, "..data_tmp"))
    os.rename(os.path.join(directory, "..data_tmp"), os.path.join(directory, "..data"))
    link = os.path.join(directory, "config.yaml")
    if not os.path.islink(link):
        os.symlink("..data/config.yaml", link)


def config_text(info, names):
    text = 'listen: "127.0.0.1:0"\ninterval: 2s\ntimeout: 2s\ncredentials:\n  aks:\n    type: workload_identity\nresources:\n'
    for resource in info["resources"]:
        if resource["name"] not in names:
            continue
        text += f"  - name: {resource['name']}\n    endpoint: {resource['endpoint']}\n    deployment: {resource['deployment']}\n"
        if resource["api_version"]:
            text += f"    api_version: {resource['api_version']}\n"
        text += f"    api_key_file: {SECRETS_DIR}/api.key\n    credential: aks\n"
    return text


def main():
    archive, simulator_binary = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="aoai-canary-image-test.")
    storage = ["buildah", "--root", f"{work}/storage", "--runroot", f"{work}/run", "--storage-driver", "vfs"]
    containers, simulator = [], None
    try:
        # What the image says about itself, read by skopeo.
        config = json.loads(run(["skopeo", "inspect", "--config", f"oci-archive:{archive}"]))["config"]
        check(config.get("Entrypoint") == ["/usr/bin/aoai-canary"], f"ENTRYPOINT is the binary: {config.get('Entrypoint')}")
        check(config.get("Cmd") == ["run", "--config", "/etc/aoai-canary/config.yaml", "--config.watch"],
              f"the default command runs /etc/aoai-canary/config.yaml, applying it when it changes: {config.get('Cmd')}")
        check(config.get("User") == "65532:65532", f"the user is numeric and not root: {config.get('User')}")
        labels = config.get("Labels", {})
        for label in ["version", "revision", "source", "licenses"]:
            value = labels.get(f"org.opencontainers.image.{label}")
            check(value, f"the label org.opencontainers.image.{label} is set: {value}")
        # The archive is one others accept: podman load and skopeo copy, in storage of our own.
        loaded = subprocess.run(["podman", "--root", f"{work}/podman", "--runroot", f"{work}/podman-run", "--tmpdir", f"{work}/podman-tmp", "--storage-driver", "vfs", "load", "-i", archive],
                                capture_output=True, text=True)
        check(loaded.returncode == 0 and "Loaded image" in loaded.stdout + loaded.stderr, f"podman load accepts the archive: {loaded.stdout}{loaded.stderr}")
        copied = subprocess.run(["skopeo", "copy", "--quiet", f"oci-archive:{archive}", f"oci:{work}/copy:aoai-canary"], capture_output=True, text=True)
        check(copied.returncode == 0, f"skopeo copy accepts the archive: {copied.stderr}")

        # The root filesystems, one per container.
        rootfs = []
        for index in range(3):
            run([*storage, "from", "--quiet", "--name", f"c{index}", f"oci-archive:{archive}"])
            rootfs.append(run([*storage, "mount", f"c{index}"]).strip())
        tree = rootfs[0]
        size = sum(os.lstat(os.path.join(path, name)).st_size for path, _, names in os.walk(tree) for name in names)
        print(f"      the image's files: {size / 1e6:.1f} MB")
        check(size <= SIZE_LIMIT, f"the image holds at most {SIZE_LIMIT / 1e6:.0f} MB: {size / 1e6:.1f} MB")
        for absent in ["bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/apt", "usr/bin/apt-get", "usr/bin/dpkg", "var/lib/apt", "var/lib/dpkg", "var/cache/apt"]:
            check(not os.path.lexists(os.path.join(tree, absent)), f"no {absent} in the image")
        check(os.listdir(os.path.join(tree, "usr/bin")) == ["aoai-canary"], f"the binary is the only program: {os.listdir(os.path.join(tree, 'usr/bin'))}")
        check(os.path.getsize(os.path.join(tree, "etc/ssl/certs/ca-certificates.crt")) > 100_000, "the image carries Debian's CA bundle")

        # The simulator, over HTTPS with its own CA.
        simulator = subprocess.Popen([simulator_binary, "simulate", "--listen", "127.0.0.1:0", "--tls-dir", f"{work}/sim", "--info-file", f"{work}/info.json"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for("simulator", 30, lambda: os.path.exists(f"{work}/info.json")):
            raise RuntimeError("the simulator wrote no info file within 30 s")
        with open(f"{work}/info.json") as file:
            info = json.load(file)
        names = [resource["name"] for resource in info["resources"]]

        # What the node mounts: the trust store, the projected token, the Secret, the ConfigMap.
        os.makedirs(f"{work}/trust")
        with open(f"{work}/trust/ca-certificates.crt", "w") as bundle:
            bundle.write(open(os.path.join(tree, "etc/ssl/certs/ca-certificates.crt")).read() + open(info["ca_file"]).read())
        os.makedirs(f"{work}/tokens")
        shutil.copy(info["federated"]["token_file"], f"{work}/tokens/azure-identity-token")
        os.makedirs(f"{work}/secrets")
        with open(f"{work}/secrets/api.key", "w") as key:
            key.write(info["resources"][0]["api_key"] + "\n")
        for file in ["trust", "tokens", "secrets"]:
            os.chmod(f"{work}/{file}", 0o755)
            for name in os.listdir(f"{work}/{file}"):
                os.chmod(f"{work}/{file}/{name}", 0o644)
        os.chmod(work, 0o755)
        webhook = {
            "AZURE_CLIENT_ID": info["federated"]["client_id"],
            "AZURE_TENANT_ID": info["tenant_id"],
            "AZURE_FEDERATED_TOKEN_FILE": f"{TOKEN_DIR}/azure-identity-token",
            "AZURE_AUTHORITY_HOST": info["authority"] + "/",
        }

        def mounts(config_dir):
            return [(config_dir, "/etc/aoai-canary"), (f"{work}/tokens", TOKEN_DIR), (f"{work}/secrets", SECRETS_DIR),
                    (f"{work}/trust/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt")]

        # Two shards of one StatefulSet: pod 0 knows its ordinal from its host name, pod 1 from
        # the downward API's pod-index label (POD_INDEX), as the manifests give it.
        for index, identity in enumerate([{"HOSTNAME": "aoai-canary-0"}, {"HOSTNAME": "aoai-canary-1", "POD_INDEX": "1"}]):
            configmap(f"{work}/config{index}", config_text(info, names), 1)
            containers.append(Container(f"aoai-canary-{index}", rootfs[index], work, ["/usr/bin/aoai-canary", *ARGS], {**webhook, **identity},
                                        mounts(f"{work}/config{index}")))
        for container in containers:
            if not check(container.wait_for_url(), f"{container.name} serves its metrics: {container.output()}"):
                raise RuntimeError(f"{container.name} did not start")
        for container in containers:
            ready = wait_for("ready", 30, lambda: get(container.base + "/-/ready")[0] == 200)
            check(ready, f"{container.name} is ready: {get(container.base + '/-/ready')}")

        # Each shard probes its own part; together they cover the configuration once.
        parts = [label_values(container.metrics(), "aoai_canary_probes_total", "resource", auth="api_key") for container in containers]
        check(parts[0] and parts[1] and not parts[0] & parts[1] and parts[0] | parts[1] == set(names),
              f"ordinals 0 and 1 probe disjoint halves that cover the {len(names)} resources: {parts}")

        # The token came through the workload identity exchange, and the question's case shows.
        def settled():
            text = "".join(container.metrics() for container in containers)
            denied = samples(text, "aoai_canary_last_failure_reason").get(
                (("auth", "entra_id"), ("reason", "permission_denied"), ("resource", "no-data-role")))
            key_works = samples(text, "aoai_canary_probe_success").get((("auth", "api_key"), ("resource", "no-data-role")))
            token_works = samples(text, "aoai_canary_probe_success").get((("auth", "entra_id"), ("resource", "healthy")))
            return text if denied == 1 and key_works == 1 and token_works == 1 else None

        text = wait_for("the question's case", 30, settled)
        check(text, "healthy's Entra ID canary succeeds; no-data-role's key works and its Entra ID canary fails with permission_denied")
        sources = label_values(text or "", "aoai_canary_token_info", "source", credential="aks")
        check(sources == {"workload_identity"}, f"the token's source is workload_identity: {sources}")

        # As the node runs it: PID 1 is the init, the agent its child, as 65532, on a read-only root.
        init = containers[0].init_pid()
        agent = (children(init) or [None])[0]
        check(agent is not None, f"the agent runs under the container's PID 1 ({init})")
        if agent:
            with open(f"/proc/{agent}/status") as status:
                uids = re.search(r"^Uid:\s+(.*)$", status.read(), re.M).group(1).split()
            check(set(uids) == {"65532"}, f"the agent runs as 65532: {uids}")
            with open(f"/proc/{agent}/mountinfo") as mountinfo:
                root = [line.split() for line in mountinfo if line.split()[4] == "/"]
            check(root and "ro" in root[-1][5].split(","), f"the root is mounted read-only: {root}")
            with open(f"/proc/{agent}/environ") as environ:
                keys = sorted(entry.split("=", 1)[0] for entry in environ.read().split("\0") if entry)
            check(keys == sorted([*webhook, "HOSTNAME"]), f"the agent sees only the injected environment: {keys}")
        lines = [line for line in containers[0].output().splitlines() if line]
        check(lines and all(line.startswith("time=") and " level=" in line for line in lines), f"the log is logfmt on stderr: {lines[:3]}")

        # A ConfigMap swapped under the mount is applied within 10 s, with no restart.
        keep = sorted(parts[0])[0]
        configmap(f"{work}/config0", config_text(info, [keep] + sorted(parts[1])), 2)
        swapped = time.monotonic()
        applied = wait_for("swap", 10, lambda: label_values(containers[0].metrics(), "aoai_canary_probes_total", "resource", auth="api_key") == {keep})
        check(applied, f"the swapped ConfigMap is applied within 10 s ({time.monotonic() - swapped:.1f} s): "
                       f"{label_values(containers[0].metrics(), 'aoai_canary_probes_total', 'resource', auth='api_key')}")
        check(containers[0].process.poll() is None and containers[0].init_pid() == init, "the container was not restarted")

        # The default command, as PID 1: logfmt on stderr, and SIGTERM ends it within 5 s.
        configmap(f"{work}/config2", config_text(info, ["healthy"]).replace("interval: 2s", "interval: 60s"), 1)
        plain = Container("aoai-canary-default", rootfs[2], work, [*config["Entrypoint"], *config["Cmd"]], webhook, mounts(f"{work}/config2"))
        containers.append(plain)
        check(plain.wait_for_url(), f"the default command runs: {plain.output()}")
        first = plain.output().splitlines()[0] if plain.output() else ""
        check(first.startswith("time=") and " level=info " in first, f"logfmt is the default on stderr: {first}")
        stopping = time.monotonic()
        os.kill(plain.init_pid(), signal.SIGTERM)
        try:
            status = plain.process.wait(10)
        except subprocess.TimeoutExpired:
            status = None
        elapsed = time.monotonic() - stopping
        check(status == 0 and elapsed < 5, f"SIGTERM to PID 1 ends it within 5 s with status 0: status {status} after {elapsed:.1f} s")
    finally:
        for container in containers:
            container.stop()
        if simulator:
            simulator.terminate()
            simulator.wait()
        subprocess.run([*storage, "rm", "--all"], capture_output=True)
        subprocess.run(["podman", "--root", f"{work}/podman", "--runroot", f"{work}/podman-run", "--tmpdir", f"{work}/podman-tmp", "--storage-driver", "vfs", "rmi", "--all"],
                       capture_output=True)
        subprocess.run(["chmod", "-R", "u+w", work], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"\n{len(failures)} failed:", *failures, sep="\n- ")
        return 1
    print("\nThe image: every check passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
