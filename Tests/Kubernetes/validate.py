"""Validates the rendered manifests in the folder given (see run.sh)."""
import os, subprocess, sys, tempfile
import kubernetes_validate
import yaml

KUBERNETES = "1.37.0"
folder = sys.argv[1]
failures = []

def fail(where, message):
    failures.append(f"{where}: {message}")

def documents(name):
    with open(os.path.join(folder, name + ".yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d]

# The Prometheus Operator's objects, by the required fields of its API reference
# (monitoring.coreos.com/v1): kubernetes-validate knows the core API only.
def check_operator(where, doc):
    spec = doc.get("spec") or {}
    if doc["kind"] == "ServiceMonitor":
        if "selector" not in spec:
            fail(where, "ServiceMonitor needs spec.selector")
        for endpoint in spec.get("endpoints", []):
            if not ("port" in endpoint or "targetPort" in endpoint):
                fail(where, "a ServiceMonitor endpoint needs port or targetPort")
    elif doc["kind"] == "PrometheusRule":
        groups = spec.get("groups")
        if not groups:
            fail(where, "PrometheusRule needs spec.groups")
        for group in groups or []:
            if "name" not in group:
                fail(where, "a rule group needs a name")
            for rule in group.get("rules", []):
                if "expr" not in rule or not ("alert" in rule or "record" in rule):
                    fail(where, f"a rule needs expr and alert or record: {rule}")
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            yaml.safe_dump({"groups": groups}, f)
        checked = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
        os.unlink(f.name)
        if checked.returncode != 0:
            fail(where, "promtool check rules: " + checked.stdout + checked.stderr)

# The `restricted` Pod Security Standard (kubernetes.io/docs/concepts/security/pod-security-standards).
def check_restricted(where, pod):
    context = pod.get("securityContext") or {}
    if (context.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        fail(where, "restricted: seccompProfile RuntimeDefault or Localhost")
    for volume in pod.get("volumes", []):
        allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
        if not set(volume) - {"name"} <= allowed:
            fail(where, f"restricted: volume type {set(volume) - {'name'}}")
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        own = container.get("securityContext") or {}
        name = f"{where} container {container['name']}"
        if own.get("allowPrivilegeEscalation") is not False:
            fail(name, "restricted: allowPrivilegeEscalation false")
        if own.get("runAsNonRoot", context.get("runAsNonRoot")) is not True:
            fail(name, "restricted: runAsNonRoot true")
        if own.get("runAsUser", context.get("runAsUser")) == 0:
            fail(name, "restricted: runAsUser not 0")
        drop = (own.get("capabilities") or {}).get("drop") or []
        if "ALL" not in drop:
            fail(name, "restricted: capabilities drop ALL")
        if set((own.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}:
            fail(name, "restricted: only NET_BIND_SERVICE may be added")
        # Beyond restricted, what the issue asks: a read-only root filesystem.
        if own.get("readOnlyRootFilesystem") is not True:
            fail(name, "readOnlyRootFilesystem true")
        if "privileged" in own and own["privileged"]:
            fail(name, "restricted: not privileged")
        if container.get("ports") and any(p.get("hostPort") for p in container["ports"]):
            fail(name, "restricted: no hostPort")

def shard_count(where, docs):
    sets = [d for d in docs if d["kind"] == "StatefulSet"]
    maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    if len(sets) != 1:
        fail(where, "one StatefulSet")
        return None
    statefulset = sets[0]
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    shard = args[args.index("--shard") + 1]
    count = maps["aoai-canary-shards"]["data"]["count"]
    if shard != f"ordinal/{count}" or statefulset["spec"]["replicas"] != int(count):
        fail(where, f"the shard count is not in one place: count {count}, replicas {statefulset['spec']['replicas']}, --shard {shard}")
    return int(count)

for name in ["base", "workload-identity", "prometheus-operator", "prod"]:
    docs = documents(name)
    for doc in docs:
        where = f"{name} {doc['kind']}/{doc['metadata']['name']}"
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            check_operator(where, doc)
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            fail(where, f"{error.message} at {'.'.join(str(p) for p in error.path)}")
        except Exception as error:  # an unknown kind or version is a failure too
            fail(where, str(error))
        if doc["kind"] == "StatefulSet":
            check_restricted(where, doc["spec"]["template"]["spec"])
    count = shard_count(name, docs)
    if name == "prod":
        if count != 3:
            fail(name, f"an overlay's count=3 gave {count}")
        if any(d["metadata"].get("namespace") != "monitoring" for d in docs):
            fail(name, "every object is in the overlay's namespace")
        if not any(d["kind"] == "Secret" and d["metadata"]["name"] == "aoai-canary-secrets" for d in docs):
            fail(name, "the overlay's secretGenerator makes aoai-canary-secrets, which the pods mount")
    if name in ("workload-identity", "prod"):
        account = next(d for d in docs if d["kind"] == "ServiceAccount")
        pod = next(d for d in docs if d["kind"] == "StatefulSet")["spec"]["template"]
        if "azure.workload.identity/client-id" not in (account["metadata"].get("annotations") or {}):
            fail(name, "the ServiceAccount names the identity's client id")
        if (pod["metadata"].get("labels") or {}).get("azure.workload.identity/use") != "true":
            fail(name, "the pods carry azure.workload.identity/use: \"true\"")
    if name in ("prometheus-operator", "prod"):
        kinds = {d["kind"] for d in docs}
        for kind in ["ServiceMonitor", "PrometheusRule"]:
            if kind not in kinds:
                fail(name, f"no {kind}")
        if not any(d["kind"] == "ConfigMap" and (d["metadata"].get("labels") or {}).get("grafana_dashboard") == "1" for d in docs):
            fail(name, "no dashboard ConfigMap labelled for Grafana's sidecar")
    print(f"{name}: {len(docs)} objects checked")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("Tests/Kubernetes: OK")
