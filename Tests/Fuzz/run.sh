#!/usr/bin/env bash
# make fuzz: builds the libFuzzer harness (swift build --sanitize=fuzzer) and runs every target
# for FUZZ_SECONDS each, from the seeds in Tests/Fuzz/Corpus. A crash is copied to
# Tests/Fuzz/Regressions/<target>/ (commit it: make test replays every file there) and fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
swift=${SWIFT:-swift}
toolchain=$(dirname "$(command -v "$swift")")
build=.build/fuzz
mkdir -p "$build"
AOAI_CANARY_FUZZ=1 "$swift" build --sanitize=fuzzer --product CanaryFuzz --scratch-path "$build" >"$build/build.log" 2>&1 \
    || { cat "$build/build.log"; exit 1; }
runtime=$(dirname "$toolchain")/lib/swift/linux
"$toolchain/clang" -fsanitize=fuzzer -o "$build/aoai-canary-fuzz" -L"$build/debug" -lCanaryFuzz \
    -Wl,-rpath,"$PWD/$build/debug" -Wl,-rpath,"$runtime"
status=0
for target in config jwt token cli classifier endpoint; do
    corpus="$build/corpus/$target"
    crashes="$build/crashes/$target"
    mkdir -p "$corpus" "$crashes"
    log="$build/$target.log"
    if AOAI_FUZZ_TARGET=$target "$build/aoai-canary-fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
        -artifact_prefix="$crashes/" "$corpus" "Tests/Fuzz/Corpus/$target" >"$log" 2>&1; then
        echo "fuzz $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1), no crash"
    else
        status=1
        mkdir -p "Tests/Fuzz/Regressions/$target"
        cp "$crashes"/* "Tests/Fuzz/Regressions/$target/" 2>/dev/null || true
        echo "fuzz $target: CRASH; inputs copied to Tests/Fuzz/Regressions/$target/; log: $log"
        grep -m 5 -E 'ERROR|Fatal|crash' "$log" || true
    fi
done
exit $status
