#!/usr/bin/env bash
# Sanitizer campaign: the whole test suite (or the `swift test` arguments given after the kind,
# e.g. `--filter ByteNameTests`) in a debug build instrumented with AddressSanitizer or
# ThreadSanitizer, in its own build path so it never disturbs .build.
#
#   Scripts/sanitizers.sh address [swift test args...]   build path .build-asan
#   Scripts/sanitizers.sh thread  [swift test args...]   build path .build-tsan
#
# Reports go to files, one per process (log_path), never to stderr: the CLI tests run the
# instrumented `cairn` binary and compare its stderr, which a report on stderr would break.
# Logs: BUILD_PATH/sanitizer-logs/STAMP/{test.log,asan.PID|tsan.PID}. The script prints the test
# summary and every report file, and exits 1 when a test failed or any report was written.
# Suppressions (documented in Docs/Reliability.md, "Sanitizers") live in Scripts/tsan.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
case "$kind" in
  address) path=.build-asan; prefix=asan ;;
  thread) path=.build-tsan; prefix=tsan ;;
  *) echo "usage: $0 address|thread [swift test args...]" >&2; exit 64 ;;
esac
shift
bash Scripts/bootstrap.sh
logs="$PWD/$path/sanitizer-logs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$logs"
# Leak checking is off: the Swift runtime keeps metadata and Foundation caches alive to exit by
# design, which LeakSanitizer reports as leaks of the test process, not of Cairn.
export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=0:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0"
# The Swift backtracer would race the sanitizer's own report on a crash (Docs/Reliability.md, "Fuzzing").
export SWIFT_BACKTRACE=enable=no
export TSAN_OPTIONS="log_path=$logs/tsan:halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/Scripts/tsan.supp"
swift build --build-path "$path" --sanitize="$kind" --build-tests
sw_state="$(mktemp -d "${TMPDIR:-/tmp}/cairn-seaweedfs.XXXXXX")"
trap 'bash Scripts/seaweedfs.sh stop "$sw_state"' EXIT
CAIRN_TEST_S3="$(bash Scripts/seaweedfs.sh start "$sw_state")"
export CAIRN_TEST_S3
start=$(date +%s)
set +e
# Under a pseudo-terminal (util-linux `script`) the test runner's output is line-buffered, so the
# log shows every finished test even when a long run is stopped.
cmd=$(printf '%q ' swift test --build-path "$path" --sanitize="$kind" --skip-build "$@")
script -qefc "$cmd" /dev/null </dev/null >"$logs/test.log" 2>&1
rc=$?
set -e
echo "sanitizers: $kind, exit $rc, $(( $(date +%s) - start )) s, log $logs/test.log"
grep -E '^(✔|✘|􁁛|􀢄|Test run|.*Executed|.*with [0-9]+ issues?)' "$logs/test.log" | grep -Ev ' (passed|started)' | tail -n 40 || true
grep -E 'Test run with' "$logs/test.log" || true
reports=("$logs/$prefix".*)
if [ -e "${reports[0]}" ]; then
  echo "sanitizers: ${#reports[@]} report file(s):"
  for f in "${reports[@]}"; do
    echo "== $f"
    grep -E '^(WARNING|ERROR|SUMMARY): ' "$f" | sort | uniq -c
  done
  exit 1
fi
echo "sanitizers: no reports"
exit "$rc"
