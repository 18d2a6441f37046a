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
# The count set in one place, changed in an overlay of the user's own.
mkdir -p "$kubernetes/three"
cat >"$kubernetes/three/kustomization.yaml" <<YAML
resources:
  - ../base
components:
  - ../components/shards
configMapGenerator:
  - name: aoai-canary-shards
    behavior: merge
    literals:
      - count=3
    options:
      disableNameSuffixHash: true
YAML
kubectl kustomize "$kubernetes/three" >"$tmp/three.yaml"

"$venv/bin/python" "$here/validate.py" "$tmp"
