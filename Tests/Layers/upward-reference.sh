#!/usr/bin/env bash
# The compiler holds Canary's layers: in a throwaway copy of the package, a layer that names one
# above it must fail `swift build`, and the copy must build without it. Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
SWIFT=${SWIFT:-swift}
copy=$(mktemp -d /tmp/aoai-canary-layers.XXXXXX)
trap 'rm -rf "$copy"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$copy"
cd "$copy"

build() { "$SWIFT" build --target "$1" --scratch-path "$copy/.build" "${@:2}" >"$copy/build.log" 2>&1; }

# Each case: the file it changes, the lines appended, the target built, and what the error says.
check() {
    local file=$1 lines=$2 target=$3 expected=$4 flags=${5:-}
    cp "$file" "$copy/saved"
    printf '\n%s\n' "$lines" >>"$file"
    if build "$target" $flags; then
        echo "FAIL: $file compiled with an upward reference:"; echo "$lines"; exit 1
    fi
    if ! grep -qF "$expected" "$copy/build.log"; then
        echo "FAIL: building $target failed, but not with \"$expected\":"; cat "$copy/build.log"; exit 1
    fi
    cp "$copy/saved" "$file"
    echo "ok: $target refuses $(echo "$lines" | tr '\n' ';')"
}

# The copy builds as it is, and a reference down the layers compiles: the harness can pass.
build Log || { echo "FAIL: the unchanged copy does not build:"; cat "$copy/build.log"; exit 1; }
cp Sources/Canary/Log/EventLogger.swift "$copy/saved"
printf '\nlet downward = Redaction.self\n' >>Sources/Canary/Log/EventLogger.swift
build Log || { echo "FAIL: a reference down the layers does not compile:"; cat "$copy/build.log"; exit 1; }
cp "$copy/saved" Sources/Canary/Log/EventLogger.swift
echo "ok: Log may name Support"

# A name from a layer above, without an import: the layer cannot see it.
check Sources/Canary/Log/EventLogger.swift 'let upward = CanaryConfig.self' Log "cannot find 'CanaryConfig' in scope"
# Importing a layer above, even once its module is built: SwiftPM refuses the undeclared dependency.
build Config
check Sources/Canary/Support/Numbers.swift $'import Config\nlet upward = CanaryConfig.self' Support \
    "Target Support imports another target (Config) in the package without declaring it a dependency" \
    "--explicit-target-dependency-import-check error"
# And from the top: the lowest layer importing the agent.
check Sources/Canary/Support/Numbers.swift $'import Agent\nlet upward = Supervisor.self' Support "no such module 'Agent'"
