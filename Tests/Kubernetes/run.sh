#!/usr/bin/env bash
# Renders every kustomization under packaging/kubernetes with kubectl's kustomize and validates
# what it gives: the Kubernetes objects against the OpenAPI schemas of Kubernetes 1.37, strictly
# (kubernetes-validate, pinned in requirements.txt), the Prometheus Operator's objects against
# its API's required fields, the pod against the `restricted` Pod Security Standard, the rules
# with promtool, and the shard count set in one place. Part of `make test`.
# Skipped, saying why, when kubectl is not on this machine (Debian 12's kubernetes-client is
# kubectl 1.20, whose kustomize has no components or replacements).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.build/kubernetes-venv"

if ! command -v kubectl >/dev/null || ! kubectl kustomize --help 2>/dev/null | grep -q "kustomization"; then
    echo "Tests/Kubernetes: SKIPPED: no kubectl with kustomize on this machine (Debian 12's kubectl 1.20 cannot render components)"
    exit 0
fi
# shellcheck source=../venv.sh
. "$here/../venv.sh"
ensure_venv "$venv" "$here/requirements.txt" || exit 2

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# A copy, so that an overlay of the user's own can sit beside base (kustomize takes relative paths).
cp -r "$root/packaging/kubernetes" "$tmp/kubernetes"
kubernetes="$tmp/kubernetes"
for overlay in base workload-identity prometheus-operator; do
    kubectl kustomize "$kubernetes/$overlay" >"$tmp/$overlay.yaml"
done
# The README's overlay of a user's own, as it stands there: both components, count=3, the
# user's configuration, key and identity.
mkdir -p "$kubernetes/prod"
awk '/^# packaging\/kubernetes\/prod\/kustomization.yaml$/ { on = 1 } on && /^```$/ { exit } on' "$root/README.md" >"$kubernetes/prod/kustomization.yaml"
grep -q "kind: Kustomization" "$kubernetes/prod/kustomization.yaml" || { echo "Tests/Kubernetes: no overlay in README.md's Kubernetes section" >&2; exit 1; }
cp "$root/packaging/kubernetes/base/config.yaml" "$kubernetes/prod/config.yaml"
echo "not-a-real-key" >"$kubernetes/prod/prod-eastus.key"
kubectl kustomize "$kubernetes/prod" >"$tmp/prod.yaml"

"$venv/bin/python" "$here/validate.py" "$tmp"
