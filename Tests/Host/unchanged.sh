#!/usr/bin/env bash
# Runs a command (make test's suites) and fails if the host is not as it was before: its users,
# groups, dpkg's view of the packages, /etc/aoai-canary, and the files the package would install.
# Tests change such things only inside a sandbox they make (packaging/systemd-sandbox.sh).
#
#   unchanged.sh CMD...   exit status: CMD's, or 1 when CMD passed but the host changed
#
# AOAI_CANARY_HOST_PATHS (space-separated) replaces the watched paths; the script's own test uses it.
set -uo pipefail

paths=${AOAI_CANARY_HOST_PATHS:-/etc/aoai-canary /etc/default/aoai-canary /usr/bin/aoai-canary /lib/systemd/system/aoai-canary.service /etc/systemd/system/aoai-canary.service.d /var/lib/aoai-canary}

snapshot() {
    echo "## users"; getent passwd | sort
    echo "## groups"; getent group | sort
    echo "## packages"
    dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' 2>/dev/null | sort
    echo "## files"
    for path in $paths; do
        if [ -e "$path" ] || [ -L "$path" ]; then
            find "$path" -printf '%p %y %m %u %g %s\n' | sort
            find "$path" -type f -exec md5sum {} + 2>/dev/null | sort -k 2
        else
            echo "$path absent"
        fi
    done
}

before=$(mktemp) && after=$(mktemp) || exit 1
trap 'rm -f "$before" "$after"' EXIT
snapshot >"$before"
"$@"
status=$?
snapshot >"$after"
if ! diff -u --label "host before" --label "host after" "$before" "$after" >&2; then
    echo "unchanged.sh: the tests changed this host (above); tests must change users, groups, packages and files outside their temporary folders only inside a sandbox they make" >&2
    [ "$status" = 0 ] && status=1
fi
exit "$status"
