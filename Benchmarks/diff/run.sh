#!/usr/bin/env bash
# Benchmark for `cairn diff` (issue 4, acceptance 2): two snapshots of a 100,000-file silo
# (10 x 10 folders of 1,000 small files) that differ in 10 files. Times `cairn diff A B`
# (human and --json output) and, for reference, `cairn diff latest live` (a dry-run walk of
# the 100k files), and prints the trees the diff read. Not a test: nothing is asserted.
#
# Usage: Benchmarks/diff/run.sh [CAIRN_BINARY] [RUNS]
#   CAIRN_BINARY  a release build of cairn (default: `swift build -c release`, then its binary)
#   RUNS          timed runs per command (default 5); the minimum and median are printed
# Needs about 500 MB of free space in $TMPDIR (default /tmp); removes everything it made.
set -euo pipefail

CAIRN=${1:-}
RUNS=${2:-5}
if [ -z "$CAIRN" ]; then
    cd "$(dirname "$0")/../.."
    swift build -c release --product cairn >&2
    CAIRN="$(swift build -c release --show-bin-path)/cairn"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-diff-bench-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export CAIRN_REPO="$WORK/repo"
SILO="$WORK/many"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

t=$(date +%s%N)
for i in $(seq 0 9); do
    for j in $(seq 0 9); do
        d="$SILO/d$i/e$j"
        mkdir -p "$d"
        for k in $(seq 0 999); do printf '%s %s %s\n' "$i" "$j" "$k" > "$d/f$k.txt"; done
    done
done
echo "built 100,000 files in $(ms "$t") ms"

"$CAIRN" init >/dev/null
"$CAIRN" silo add many "$SILO" >/dev/null
t=$(date +%s%N)
"$CAIRN" snapshot >/dev/null
echo "first snapshot: $(ms "$t") ms"
A=$("$CAIRN" list --json | grep -o '"id" : "[0-9a-f]*"' | head -1 | grep -o '[0-9a-f]\{64\}')

for n in $(seq 0 9); do
    echo "changed $n" > "$SILO/d$((n % 5))/e$((n * 3 % 10))/f$((n * 97 % 1000)).txt"
done
t=$(date +%s%N)
"$CAIRN" snapshot >/dev/null
echo "second snapshot (10 files changed): $(ms "$t") ms"

# Prints "min M ms, median D ms" over RUNS runs of the given command (output discarded).
timeit() {
    local times=() i t
    for i in $(seq 1 "$RUNS"); do
        t=$(date +%s%N)
        "$@" >/dev/null
        times+=("$(( ($(date +%s%N) - t) / 1000 ))")
    done
    local sorted
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    local min med
    min=$(echo "$sorted" | head -1)
    med=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
    printf 'min %d.%03d ms, median %d.%03d ms' $((min / 1000)) $((min % 1000)) $((med / 1000)) $((med % 1000))
}

echo "cairn diff A latest:            $(timeit "$CAIRN" diff "$A" latest)"
echo "cairn diff A latest --json:     $(timeit "$CAIRN" diff "$A" latest --json)"
"$CAIRN" diff "$A" latest --stat
echo "trees read: $("$CAIRN" diff "$A" latest --json | grep -o '"treeBlocksRead":[0-9]*' | cut -d: -f2) (of 111 per snapshot)"
echo "for reference, cairn diff latest live (walks 100k files): $(timeit "$CAIRN" diff latest live)"
