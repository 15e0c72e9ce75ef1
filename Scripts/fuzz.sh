#!/usr/bin/env bash
# Fuzzes Cairn's parsers with libFuzzer (AddressSanitizer on). Not part of `swift build` or CI:
# CairnCore's sources and Fuzz/main.swift are compiled here with `swiftc -sanitize=fuzzer,address`
# into .build-fuzz/cairn-fuzz (one executable; CAIRN_FUZZ_TARGET picks the harness).
#
#   bash Scripts/fuzz.sh [--seconds N] [--jobs 1] [harness...]     (default: all, 300 s each)
#
# Harnesses (bodies in Sources/CairnCore/Fuzzing/FuzzTargets.swift): zip manifest pack-trailer
# tree index-rows journal json. Seeds and crashers live in Tests/Fixtures/fuzz/<harness>/ (the
# replay test FuzzReplayTests runs them all); new corpus entries go to .build-fuzz/corpus/<harness>/,
# new crashers are copied into Tests/Fixtures/fuzz/<harness>/ as crash-*. Runs one fuzzer at a
# time under `nice -n 10`; a summary line per harness (execs, exec/s, cov, ft) goes to
# .build-fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=300
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --build-only) seconds=0; shift ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(zip manifest pack-trailer tree index-rows journal json)

out=.build-fuzz
bin=$out/cairn-fuzz
mkdir -p "$out/obj" "$out/modules/CCairnSys"
newest=$(find Sources/CairnCore Sources/CCairnSys Fuzz -newer "$bin" -type f 2>/dev/null | head -1 || true)
if [ ! -x "$bin" ] || [ -n "$newest" ]; then
    echo "building $bin (swiftc -O -sanitize=fuzzer,address)..."
    rm -f "$bin"
    cat > "$out/modules/CCairnSys/module.modulemap" <<MAP
module CCairnSys { header "$PWD/Sources/CCairnSys/include/cairn_sys.h" export * }
MAP
    clang -O1 -g -fsanitize=address,fuzzer-no-link -I Sources/CCairnSys/include -c Sources/CCairnSys/cairn_sys.c -o "$out/obj/cairn_sys.o"
    # shellcheck disable=SC2046
    nice -n 10 swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name CairnCore -swift-version 6 \
        -I Sources/CLZ4 -I Sources/CSQLite -I Sources/CCrypto -I Sources/CZlib -I "$out/modules/CCairnSys" \
        $(find Sources/CairnCore -name '*.swift' | sort) Fuzz/main.swift "$out/obj/cairn_sys.o" \
        -llz4 -lsqlite3 -lcrypto -lz -o "$bin" 2>&1 | grep -v "Cannot export local symbol" || true
    [ -x "$bin" ] || { echo "fuzz build failed" >&2; exit 1; }
fi
[ "$seconds" -gt 0 ] || exit 0

export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
for t in "${targets[@]}"; do
    seeds=Tests/Fixtures/fuzz/$t
    corpus=$out/corpus/$t
    mkdir -p "$corpus" "$seeds" "$out/crashes/$t"
    echo "== $t: ${seconds}s"
    log=$out/$t.log
    CAIRN_FUZZ_TARGET=$t nice -n 10 "$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" "$corpus" "$seeds" >"$log" 2>&1 || true
    for c in "$out/crashes/$t"/crash-* "$out/crashes/$t"/timeout-* "$out/crashes/$t"/oom-*; do
        [ -f "$c" ] && [ ! -f "$seeds/$(basename "$c")" ] && cp "$c" "$seeds/" && echo "   new crasher: $seeds/$(basename "$c")"
    done
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' || true)
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' || true)
    line="$t: ${seconds}s, $execs execs, $speed exec/s, $cov, $ft, corpus $(ls "$corpus" | wc -l)"
    echo "   $line"
    echo "$(date -u +%FT%TZ) $line" >> "$out/summary.txt"
done
