#!/usr/bin/env bash
# Builds the container image offline from Debian's packages (`make image` runs this):
# build/aoai-canary_<version>_<arch>.oci.tar, an OCI archive for `podman load`,
# `skopeo copy oci-archive:...` or `buildah pull`.
#
# The root filesystem holds the release binary, the shared libraries it links (taken from the
# Debian packages that mmdebstrap extracts, found by walking the binary's DT_NEEDED entries), the
# packages' copyright files, the CA certificates and a passwd/group naming the numeric user
# 65532. No shell, no package manager, no apt lists. buildah assembles the image from that tree.
#
# Reproducible: the same binary and the same Debian package versions give the same layer and
# image digests. Every file's time is SOURCE_DATE_EPOCH (default: the commit's time), the layer
# is written sorted with numeric owners, and buildah commits with that time.
#
# Environment: SWIFT (default swift), SKIP_SWIFT_BUILD=1 to use the release binary already
# built, SWIFT_SCRATCH_PATH (default .build), DEBIAN_SUITE (default this host's codename),
# DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR (default deb.debian.org), IMAGE_SOURCE (the source
# label; default git's origin URL), IMAGE_OUT (default the path above).
# Prints the archive's path on its last line.
set -euo pipefail
umask 022

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
swift=${SWIFT:-swift}
scratch=${SWIFT_SCRATCH_PATH:-.build}

fail() { echo "build-image: $*" >&2; exit 1; }

for tool in mmdebstrap buildah readelf strip tar sha256sum; do
    command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install mmdebstrap buildah binutils (make deps does it)"
done

# 1. The release binary, built as the Debian package builds it.
linker=()
if [ -x "$(dirname "$(command -v "$swift")")/ld.lld" ]; then linker=(-Xswiftc -use-ld=lld); fi
if [ "${SKIP_SWIFT_BUILD:-}" != 1 ]; then
    AOAI_CANARY_REVISION=${AOAI_CANARY_REVISION:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)} \
        "$swift" build -c release --scratch-path "$scratch" --static-swift-stdlib "${linker[@]}" \
        -Xlinker -z -Xlinker now -Xlinker -z -Xlinker relro >&2
fi
binary=$scratch/release/aoai-canary
[ -x "$binary" ] || fail "$binary was not built"
version=$("$binary" --version | awk '{ print $2 }')
revision=$("$binary" --version | sed -n 's/.*(revision \([^)]*\)).*/\1/p')
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
# The source label: IMAGE_SOURCE, else git's origin when it is a URL (a clone of a clone names a
# folder on the build host, which says nothing to whoever pulls the image).
origin=$(git remote get-url origin 2>/dev/null || true)
case "$origin" in *://* | git@*) ;; *) origin=unknown ;; esac
source_url=${IMAGE_SOURCE:-$origin}
out=${IMAGE_OUT:-build/aoai-canary_${version}_${arch}.oci.tar}

work=$(mktemp -d "${TMPDIR:-/tmp}/aoai-canary-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 2. The Debian packages the binary's libraries come from, with their dependencies, extracted
# (no maintainer script runs, so no chroot and no root is needed for this step).
suite=${DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
packages=libc6,libcrypt1,libgcc-s1,libstdc++6,libcurl4,libsystemd0,libmicrohttpd12,libyaml-0-2,zlib1g,ca-certificates
mmdebstrap --quiet --variant=extract --skip=cleanup/apt/cache --include="$packages" "$suite" "$work/debian" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main" >&2 ||
    fail "mmdebstrap could not fetch $packages from $mirror ($suite)"

# 3. The image's tree: the binary and the closure of the libraries it needs, from Debian's tree.
rootfs=$work/rootfs
mkdir -p "$rootfs/usr/bin" "$rootfs/etc/ssl/certs" "$rootfs/etc/aoai-canary" "$rootfs/tmp" "$rootfs/usr/share/doc"
install -m 0755 "$binary" "$rootfs/usr/bin/aoai-canary"
strip --remove-section=.comment --remove-section=.note "$rootfs/usr/bin/aoai-canary"

# Copies a path of Debian's tree into the image, following symbolic links and keeping them.
copy_path() {
    local path=$1
    while :; do
        [ -e "$rootfs$path" ] || [ -L "$rootfs$path" ] && return 0
        mkdir -p "$rootfs$(dirname "$path")"
        cp -a "$work/debian$path" "$rootfs$path" || fail "$path is not in the extracted packages"
        [ -L "$work/debian$path" ] || return 0
        local target
        target=$(readlink "$work/debian$path")
        case "$target" in /*) path=$target ;; *) path=$(dirname "$path")/$target ;; esac
    done
}
library_dirs=(/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib /usr/lib)
case "$arch" in amd64) ;; *) library_dirs=(/lib/"$(dpkg-architecture -qDEB_HOST_MULTIARCH)" /usr/lib/"$(dpkg-architecture -qDEB_HOST_MULTIARCH)" /lib /usr/lib) ;; esac
interpreter=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -n "$interpreter" ] || fail "$binary names no program interpreter"
queue=("$rootfs/usr/bin/aoai-canary")
seen=" "
while [ ${#queue[@]} -gt 0 ]; do
    file=${queue[0]}
    queue=("${queue[@]:1}")
    for soname in $(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        case "$seen" in *" $soname "*) continue ;; esac
        seen="$seen$soname "
        found=""
        for dir in "${library_dirs[@]}"; do
            if [ -e "$work/debian$dir/$soname" ]; then found=$dir/$soname; break; fi
        done
        [ -n "$found" ] || fail "no package in '$packages' provides $soname, which $(basename "$file") needs: add its package"
        copy_path "$found"
        queue+=("$rootfs$(readlink -f "$work/debian$found" | sed "s|^$work/debian||")")
    done
done
# The interpreter the binary names (/lib64/ld-linux-x86-64.so.2), as Debian lays it out.
copy_path "$interpreter"
[ -e "$rootfs$interpreter" ] || fail "the program interpreter $interpreter is not in the extracted packages"

# The copyright file of every package a file was taken from.
for deb in "$work"/debian/var/cache/apt/archives/*.deb; do
    package=$(dpkg-deb --field "$deb" Package)
    while read -r path; do
        path=${path#.}
        if [ -f "$rootfs$path" ] || [ -L "$rootfs$path" ]; then
            install -D -m 0644 "$work/debian/usr/share/doc/$package/copyright" "$rootfs/usr/share/doc/$package/copyright"
            break
        fi
    done < <(dpkg-deb --fsys-tarfile "$deb" | tar --list | grep -v '/$')
done
install -D -m 0644 packaging/debian/copyright "$rootfs/usr/share/doc/aoai-canary/copyright"

# The CA bundle update-ca-certificates would write (it is made by the package's maintainer
# script, which an extraction does not run): every certificate ca-certificates ships, in order.
(
    cd "$work/debian/usr/share/ca-certificates"
    find . -name '*.crt' | LC_ALL=C sort | while read -r certificate; do
        cat "$certificate"
        [ -z "$(tail -c 1 "$certificate")" ] || echo
    done
) >"$rootfs/etc/ssl/certs/ca-certificates.crt"
[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || fail "ca-certificates shipped no certificate"

# The numeric non-root user the image runs as, named so that tools can show it.
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\naoai-canary:x:65532:65532:aoai-canary:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\naoai-canary:x:65532:\n' >"$rootfs/etc/group"
chmod -R go-w "$rootfs"
chmod 1777 "$rootfs/tmp"

# The binary runs in the tree it will run in, through its own interpreter and libraries only.
"$rootfs$interpreter" --library-path "$rootfs/lib/x86_64-linux-gnu:$rootfs/usr/lib/x86_64-linux-gnu" --inhibit-cache \
    "$rootfs/usr/bin/aoai-canary" --version >/dev/null || fail "the binary does not run with the image's libraries"

# 4. One layer, written reproducibly: sorted, numeric owners 0, every time SOURCE_DATE_EPOCH.
find "$rootfs" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
layer=$work/layer.tar
tar --create --file "$layer" --directory "$rootfs" --sort=name --numeric-owner --owner=0 --group=0 \
    --mtime="@$SOURCE_DATE_EPOCH" --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime .

# 5. The image: buildah, in a storage of its own under the work directory (nothing of the host's).
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
container=$(buildah "${storage[@]}" from --quiet scratch)
buildah "${storage[@]}" add --quiet "$container" "$layer" / >&2
buildah "${storage[@]}" config \
    --entrypoint '["/usr/bin/aoai-canary"]' \
    --cmd 'run --config /etc/aoai-canary/config.yaml --config.watch' \
    --user 65532:65532 \
    --workingdir / \
    --port 9725/tcp \
    --stop-signal SIGTERM \
    --env PATH=/usr/bin \
    --os linux --arch "$arch" \
    --created-by "packaging/image/build.sh" \
    --label org.opencontainers.image.title=aoai-canary \
    --label "org.opencontainers.image.description=Azure OpenAI authentication canary: paired API key and Entra ID probes, Prometheus metrics" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.source=$source_url" \
    --label org.opencontainers.image.licenses=MIT \
    --label "org.opencontainers.image.created=$created" \
    "$container" >&2
mkdir -p "$(dirname "$out")"
rm -f "$out"
buildah "${storage[@]}" commit --quiet --format oci --timestamp "$SOURCE_DATE_EPOCH" --rm \
    "$container" "oci-archive:$out:aoai-canary:$version" >/dev/null
buildah "${storage[@]}" rm --all >/dev/null 2>&1 || true
chmod -R u+w "$work" 2>/dev/null || true

size=$(du -sb --apparent-size "$rootfs" | cut -f1)
echo "build-image: aoai-canary:$version, $((size / 1000000)) MB uncompressed ($(du -b --apparent-size "$rootfs/usr/bin/aoai-canary" | cut -f1 | awk '{ printf "%.1f", $1 / 1e6 }') MB the binary), $(stat -c %s "$out" | awk '{ printf "%.1f", $1 / 1e6 }') MB archive" >&2
(cd "$rootfs" && find . -type f -printf '%s %p\n' | sort -rn | head -n 5 | awk '{ printf "build-image:   %6.1f MB %s\n", $1 / 1e6, substr($2, 2) }') >&2
echo "$out"
