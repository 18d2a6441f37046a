#!/usr/bin/env bash
# Builds build/aoai-canary_<version>_<arch>.deb with Debian's own tools (`make deb` runs this).
#
# Environment: SWIFT (default swift), AOAI_CANARY_REVISION (default: git's short HEAD),
# DASHBOARDS_DIR (default dashboards: its *.yml and *.json go to /usr/share/aoai-canary/),
# SWIFT_SCRATCH_PATH (default .build; the tests use another, since `swift test` locks .build),
# SKIP_SWIFT_BUILD=1 to package the release binary already built there as it is.
# Prints the .deb's path on its last line.
set -euo pipefail
umask 022

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
packaging=packaging
swift=${SWIFT:-swift}
dashboards=${DASHBOARDS_DIR:-dashboards}
scratch=${SWIFT_SCRATCH_PATH:-.build}
work=build/deb
root=$work/debian/aoai-canary

fail() { echo "build-deb: $*" >&2; exit 1; }

for tool in dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-parsechangelog strip gzip; do
    command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install dpkg-dev binutils (make deb-deps does it)"
done
[ -d "$dashboards" ] || fail "$dashboards/ is missing: it holds the alert rules and dashboard the package ships"

# 1. The release binary: Swift runtime linked in, full RELRO and immediate binding. Linked with
# the toolchain's lld: GNU ld warns about the mktemp() inside the static Foundation it links in,
# a warning about code this binary never calls and nobody can fix here.
linker=()
if [ -x "$(dirname "$(command -v "$swift")")/ld.lld" ]; then linker=(-Xswiftc -use-ld=lld); fi
if [ "${SKIP_SWIFT_BUILD:-}" != 1 ]; then
    AOAI_CANARY_REVISION=${AOAI_CANARY_REVISION:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)} \
        "$swift" build -c release --scratch-path "$scratch" --static-swift-stdlib "${linker[@]}" \
        -Xlinker -z -Xlinker now -Xlinker -z -Xlinker relro
fi
binary=$scratch/release/aoai-canary
[ -x "$binary" ] || fail "$binary was not built"

version=$("$binary" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
changelog_version=$(dpkg-parsechangelog -l "$packaging/debian/changelog" -S Version)
[ "$version" = "$changelog_version" ] ||
    fail "the binary is version $version but $packaging/debian/changelog's latest entry is $changelog_version: add an entry (dch -v $version)"
changelog_date=$(dpkg-parsechangelog -l "$packaging/debian/changelog" -S Date)
# Timestamps in the package come from the changelog, so the same tree gives the same .deb.
export SOURCE_DATE_EPOCH=$(date -u -d "$changelog_date" +%s)
man_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

# 2. The package tree.
rm -rf "$work"
mkdir -p "$root/DEBIAN" "$work/debian"
cp "$packaging/debian/control" "$packaging/debian/changelog" "$work/debian/"

install -D -m 0755 "$binary" "$root/usr/bin/aoai-canary"
# As dh_strip does for executables: no symbols, no .comment or .note sections.
strip --remove-section=.comment --remove-section=.note "$root/usr/bin/aoai-canary"
"$root/usr/bin/aoai-canary" --version >/dev/null || fail "the stripped binary does not run"

install -D -m 0644 "$packaging/aoai-canary.service" "$root/lib/systemd/system/aoai-canary.service"
install -D -m 0644 config/config.yaml "$root/etc/aoai-canary/config.yaml"
install -D -m 0644 "$packaging/default" "$root/etc/default/aoai-canary"
"$binary" check-config --config "$root/etc/aoai-canary/config.yaml" >/dev/null ||
    fail "config/config.yaml does not pass check-config"

mkdir -p "$root/usr/share/man/man1"
"$binary" manpage "$man_date" | gzip -9n >"$root/usr/share/man/man1/aoai-canary.1.gz"

shopt -s nullglob
extras=("$dashboards"/*.yml "$dashboards"/*.json)
shopt -u nullglob
if [ ${#extras[@]} -gt 0 ]; then
    install -d -m 0755 "$root/usr/share/aoai-canary"
    install -m 0644 "${extras[@]}" "$root/usr/share/aoai-canary/"
else
    echo "build-deb: note: $dashboards/ has no *.yml or *.json yet; /usr/share/aoai-canary/ is left out" >&2
fi

doc=$root/usr/share/doc/aoai-canary
install -D -m 0644 README.md "$doc/README.md"
# The reference the README links to (docs/NAME.md), beside it as in the repository.
install -d -m 0755 "$doc/docs"
install -m 0644 docs/metrics.md docs/configuration.md docs/operations.md docs/security.md docs/performance.md docs/azure-answers.md docs/status-page.png "$doc/docs/"
install -m 0644 "$packaging/debian/copyright" "$doc/copyright"
# A native package (its packaging lives upstream, the version has no Debian revision): policy
# 12.7 names its changelog changelog.gz, not changelog.Debian.gz.
gzip -9n <"$packaging/debian/changelog" >"$doc/changelog.gz"

# 3. Control area: maintainer scripts, conffiles, md5sums, and control with Depends from
# dpkg-shlibdeps and Installed-Size from dpkg-gencontrol.
install -m 0755 "$packaging/debian/postinst" "$packaging/debian/prerm" "$packaging/debian/postrm" "$root/DEBIAN/"
install -m 0644 "$packaging/debian/conffiles" "$root/DEBIAN/conffiles"
(
    cd "$work"
    dpkg-shlibdeps -Tdebian/aoai-canary.substvars -edebian/aoai-canary/usr/bin/aoai-canary
    dpkg-gencontrol -paoai-canary -ldebian/changelog -cdebian/control -Tdebian/aoai-canary.substvars \
        -Pdebian/aoai-canary -fdebian/files
)
(
    cd "$root"
    # Conffiles are left out, as dh_md5sums does: dpkg keeps their sums in its status.
    find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | LC_ALL=C sort -z |
        xargs -0 md5sum >DEBIAN/md5sums
)
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"
find "$root" -type d -exec chmod 0755 {} +
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

deb=build/aoai-canary_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
installed_size=$(dpkg-deb -f "$deb" Installed-Size)
echo "build-deb: $deb: $(stat -c %s "$deb") bytes, Installed-Size $installed_size KiB, Depends: $(dpkg-deb -f "$deb" Depends)" >&2
echo "$deb"
