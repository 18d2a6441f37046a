#!/usr/bin/env bash
# Runs the Python conformance suite against a fresh `aoai-canary simulate`.
#   AOAI_CANARY_BIN=.build/debug/aoai-canary Tests/Conformance/run.sh [unittest options]
# Creates .build/conformance-venv on first use, and again when requirements.txt changes. Exit status is the suite's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${AOAI_CANARY_BIN:-$root/.build/debug/aoai-canary}"
venv="$root/.build/conformance-venv"

[ -x "$bin" ] || { echo "run.sh: no simulator binary at $bin (set AOAI_CANARY_BIN)" >&2; exit 2; }

# The venv keeps a copy of the pins it was made from: changed pins make it again, so a checkout
# never runs the suite against the clients of an older requirements.txt.
# shellcheck source=../venv.sh
. "$here/../venv.sh"
ensure_venv "$venv" "$here/requirements.txt" || exit 2

tmp="$(mktemp -d)"
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
        kill "$sim_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$sim_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$bin" simulate --listen 127.0.0.1:0 --tls-dir "$tmp/tls" --info-file "$tmp/info.json" >"$tmp/simulator.log" 2>&1 &
sim_pid=$!

# The info file appears once the simulator listens; wait at most 30 s.
for _ in $(seq 1 300); do
    [ -s "$tmp/info.json" ] && "$venv/bin/python" -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/info.json" 2>/dev/null && break
    if ! kill -0 "$sim_pid" 2>/dev/null; then
        echo "run.sh: the simulator exited early:" >&2; cat "$tmp/simulator.log" >&2; exit 2
    fi
    sleep 0.1
done
if [ ! -s "$tmp/info.json" ]; then
    echo "run.sh: no info file after 30 s:" >&2; cat "$tmp/simulator.log" >&2; exit 2
fi

status=0
"$venv/bin/python" "$here/conformance.py" "$tmp/info.json" "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- simulator log ---" >&2; tail -n 50 "$tmp/simulator.log" >&2
fi
exit "$status"
