#!/usr/bin/env bash
# The libFuzzer harness (every parser of outside input), built with AddressSanitizer.
#   make fuzz: explores for FUZZ_SECONDS per target (default 60) from a random seed, growing
#              .build/fuzz/corpus/<target>; a crash is copied to Tests/Fuzz/Regressions/<target>/
#              (commit it with the fix: make test replays every file there) and fails.
#   make test: FUZZ_RUNS inputs per target from seed 1 and a fresh corpus, so the same tree gives
#              the same run on every machine: CI is never red because a search got lucky.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift=${SWIFT:-swift}
toolchain=$(dirname "$(command -v "$swift")")
build=.build/fuzz
mkdir -p "$build"
AOAI_CANARY_FUZZ=1 "$swift" build -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address \
    --product CanaryFuzz --scratch-path "$build" >"$build/build.log" 2>&1 \
    || { cat "$build/build.log"; exit 1; }
runtime=$(dirname "$toolchain")/lib/swift/linux
# ld.gold warns about ASan's local helper symbols; those warnings are noise, real errors still fail.
"$toolchain/clang" -fsanitize=fuzzer,address -o "$build/aoai-canary-fuzz" -L"$build/debug" -lCanaryFuzz \
    -Wl,-rpath,"$PWD/$build/debug" -Wl,-rpath,"$runtime" 2>"$build/link.log" \
    || { cat "$build/link.log"; exit 1; }
if [ -n "${FUZZ_RUNS:-}" ]; then
    budget=(-runs="$FUZZ_RUNS" -seed=1)
    # Running a configuration (an agent, a round, a stop) costs milliseconds, not microseconds.
    agent_budget=(-runs="${FUZZ_AGENT_RUNS:-300}" -seed=1)
    corpora=$(mktemp -d)
    trap 'rm -rf "$corpora"' EXIT
else
    budget=(-max_total_time="${FUZZ_SECONDS:-60}")
    agent_budget=("${budget[@]}")
    corpora=$build/corpus
fi
status=0
for target in config jwt token cli classifier endpoint agent; do
    corpus="$corpora/$target"
    crashes="$build/crashes/$target"
    mkdir -p "$corpus" "$crashes" "Tests/Fuzz/Regressions/$target"
    log="$build/$target.log"
    runs=("${budget[@]}")
    if [ "$target" = agent ]; then runs=("${agent_budget[@]}"); fi
    if AOAI_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$build/aoai-canary-fuzz" "${runs[@]}" -max_len=8192 -timeout=10 \
        -artifact_prefix="$crashes/" "$corpus" "Tests/Fuzz/Corpus/$target" "Tests/Fuzz/Regressions/$target" >"$log" 2>&1; then
        echo "fuzz $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1), no crash"
    else
        status=1
        cp "$crashes"/* "Tests/Fuzz/Regressions/$target/" 2>/dev/null || true
        echo "fuzz $target: CRASH; inputs copied to Tests/Fuzz/Regressions/$target/; log: $log"
        grep -m 5 -E 'ERROR|Fatal|crash' "$log" || true
    fi
done
exit $status
