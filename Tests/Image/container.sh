#!/usr/bin/env bash
# Runs a command from an image's root filesystem as a container runtime would, where podman
# cannot (this sandbox refuses the rlimits crun sets) and buildah's chroot isolation will not
# (it writes /run/.containerenv into a read-only root):
#   container.sh ROOTFS [-v SOURCE:TARGET]... [-e NAME=VALUE]... [-h HOSTNAME] [-u UID:GID] -- COMMAND...
# In new mount, UTS and PID namespaces (COMMAND is PID 1), on the host's network: the image's
# tree bound read-only at /, /proc of the new PID namespace, the host's /dev, each SOURCE bound
# read-only at TARGET (made first, as a runtime makes mount points), only the -e environment,
# and the user (default the image's 65532:65532). Needs root. Exits with COMMAND's status.
set -euo pipefail

if [ "${1:-}" != --inside ]; then
    exec unshare --mount --uts --pid --fork --kill-child --propagation private "$0" --inside "$@"
fi
shift
rootfs=$1
shift
mounts=() environment=() hostname=container user=65532:65532
while [ $# -gt 0 ]; do
    case "$1" in
        -v) mounts+=("$2"); shift 2 ;;
        -e) environment+=("$2"); shift 2 ;;
        -h) hostname=$2; shift 2 ;;
        -u) user=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "container.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

root=$(mktemp -d "${TMPDIR:-/tmp}/container-root.XXXXXX")
mount --bind "$rootfs" "$root"
for dir in proc dev; do mkdir -p "$root/$dir"; done
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
for pair in ${mounts[@]+"${mounts[@]}"}; do
    source=${pair%%:*} target=${pair#*:}
    if [ -d "$source" ]; then mkdir -p "$root$target"; else mkdir -p "$(dirname "$root$target")"; touch "$root$target"; fi
    mount --bind "$source" "$root$target"
    mount -o remount,bind,ro "$root$target"
done
mount -o remount,bind,ro "$root"
hostname "$hostname"
exec env -i ${environment[@]+"${environment[@]}"} "$(command -v chroot)" --userspec="$user" "$root" "$@"
