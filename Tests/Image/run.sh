#!/usr/bin/env bash
# The container image: built twice by `make image`'s script (the same layer and image digests
# both times), then run as a cluster node would run it (image_test.py).
#   Tests/Image/run.sh   (AOAI_CANARY_BIN: the simulator, default .build/debug/aoai-canary)
# Skips, saying why, only where a Debian package it needs is missing or Debian's mirror cannot
# be reached; needs root for the containers' namespaces.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${AOAI_CANARY_BIN:-$root/.build/debug/aoai-canary}"
skip() { echo "Tests/Image: skipped: $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip "running containers needs root (mount and PID namespaces)"
for tool in mmdebstrap buildah podman skopeo unshare chroot; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (make deps installs it)"
done
[ -x "$bin" ] || { echo "Tests/Image: no simulator binary at $bin (set AOAI_CANARY_BIN)" >&2; exit 2; }

# buildah, podman and skopeo keep a blob cache in /var/lib/containers/cache when run as root,
# whatever storage they are given: the test runs in a mount namespace of its own with a tmpfs
# there, and takes away the mount point if it made it.
if [ "${AOAI_CANARY_IMAGE_SANDBOX:-}" != 1 ]; then
    made=""
    [ -d /var/lib/containers ] || { mkdir /var/lib/containers; made=1; }
    status=0
    AOAI_CANARY_IMAGE_SANDBOX=1 unshare --mount --propagation private \
        bash -c 'mount -t tmpfs tmpfs /var/lib/containers && exec "$0" "$@"' "$0" "$@" || status=$?
    [ -z "$made" ] || rmdir /var/lib/containers
    exit "$status"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Built twice: the release build (skipped the second time) and the image from Debian's packages.
if ! IMAGE_OUT="$tmp/first.oci.tar" "$root/packaging/image/build.sh" 2>"$tmp/build.log" >/dev/null; then
    if grep -q "could not fetch" "$tmp/build.log"; then skip "$(grep "could not fetch" "$tmp/build.log")"; fi
    cat "$tmp/build.log" >&2
    exit 1
fi
grep "^build-image:" "$tmp/build.log"
SKIP_SWIFT_BUILD=1 IMAGE_OUT="$tmp/second.oci.tar" "$root/packaging/image/build.sh" >/dev/null 2>"$tmp/build2.log" || { cat "$tmp/build2.log" >&2; exit 1; }

# Reproducible: the same manifest (so the same config and layer digests) both times.
digests() { mkdir -p "$tmp/$1" && tar -xf "$tmp/$1.oci.tar" -C "$tmp/$1" && (cd "$tmp/$1/blobs/sha256" && ls | sort); }
first=$(digests first) second=$(digests second)
if [ "$first" != "$second" ]; then
    echo "Tests/Image: two builds of one tree differ:" >&2
    diff <(echo "$first") <(echo "$second") >&2 || true
    exit 1
fi
echo "ok    two builds give the same blobs: $(echo $first | tr '\n' ' ')"
python3 "$here/image_test.py" "$tmp/first.oci.tar" "$bin"
