#!/usr/bin/env bash
# Load test of `cairn serve` (loopback only, bounded in time; not in CI). Needs a release build
# and wrk (Debian). Three measurements:
#  1. wrk against /api/v1/status and /api/v1/snapshots for $DURATION s (default 60) while a
#     snapshot job and two export downloads run: requests/s, p99 latency, errors;
#  2. 10 concurrent downloads of a $SIZE_MB MiB export (default 1024): the server's peak RSS
#     (VmHWM from /proc/PID/status, reset before the downloads; VmRSS also sampled every 0.2 s);
#  3. one export over HTTP against `cairn export` to a file: wall time of each and the ratio.
# Usage: Scripts/load-serve.sh   (SIZE_MB=256 DURATION=20 for a quick run)
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN="${CAIRN:-$PWD/.build/release/cairn}"
SIZE_MB="${SIZE_MB:-1024}"
DURATION="${DURATION:-60}"
[ -x "$CAIRN" ] || swift build -c release --product cairn
command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
WORK="$(mktemp -d /tmp/cairn-load-XXXXXX)"
. Scripts/serve-fixture.sh
SERVE_WORK="$WORK"; trap serve_cleanup EXIT; trap 'exit 1' INT TERM

echo "== data: $SIZE_MB MiB in 64 MiB files"
mkdir -p "$WORK/big" "$WORK/small"
for i in $(seq 1 $(( (SIZE_MB + 63) / 64 ))); do head -c $((64 << 20)) /dev/urandom > "$WORK/big/f$i.bin"; done
for i in $(seq 1 200); do head -c 4096 /dev/urandom > "$WORK/small/s$i"; done
"$CAIRN" init --repo "$WORK/repo" >/dev/null
"$CAIRN" silo add big "$WORK/big" --repo "$WORK/repo" >/dev/null
"$CAIRN" silo add small "$WORK/small" --repo "$WORK/repo" >/dev/null
"$CAIRN" snapshot --repo "$WORK/repo" >/dev/null
start_serve "$WORK" --connections 16
EXPORT="${URL}api/v1/snapshots/latest/export.zip?compression=store"
SIZE="$(curl -s "${URL}api/v1/snapshots/latest/export-estimate?compression=store" | python3 -c 'import json,sys; print(json.load(sys.stdin)["archiveBytes"])')"
echo "export: $SIZE bytes (store)"

rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

echo "== 1. wrk ${DURATION}s on status and list, with a snapshot job and two downloads running"
head -c $((256 << 20)) /dev/urandom > "$WORK/big/new.bin"
curl -s -X POST -H 'Content-Type: application/json' -d '{"type":"snapshot"}' "${URL}api/v1/jobs" >/dev/null
( for _ in 1 2; do curl -s -o /dev/null --limit-rate 20M "$EXPORT" & done; wait ) &
DL=$!
wrk -t1 -c8 -d"${DURATION}s" --latency "${URL}api/v1/status" > "$WORK/wrk-status.txt" &
W1=$!
wrk -t1 -c8 -d"${DURATION}s" --latency "${URL}api/v1/snapshots" > "$WORK/wrk-list.txt" &
W2=$!
wait $W1 $W2
for f in status list; do
    echo "-- $( [ "$f" = list ] && echo /api/v1/snapshots || echo /api/v1/status )"
    grep -E "Requests/sec|99%|Non-2xx|Socket errors|requests in" "$WORK/wrk-$f.txt" || true
    grep -qE "Non-2xx|Socket errors" "$WORK/wrk-$f.txt" || echo "no errors (no non-2xx responses, no socket errors)"
done
wait $DL || true
curl -s "${URL}api/v1/jobs" | python3 -c 'import json,sys; print("jobs:", [(j["type"], j["state"]) for j in json.load(sys.stdin)])'

echo "== 2. 10 concurrent downloads of the export, server RSS"
echo "server peak RSS so far (phase 1): $(( $(hwm) / 1024 )) MiB"
echo 5 > "/proc/$SERVER_PID/clear_refs" || echo "(cannot reset VmHWM: the figure below includes phase 1)"
PEAK=0
PIDS=()
for i in $(seq 10); do curl -s -o /dev/null "$EXPORT" & PIDS+=($!); done
T0=$(date +%s.%N)
running() { for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do r="$(rss)"; [ "$r" -gt "$PEAK" ] && PEAK=$r; sleep 0.2; done
wait "${PIDS[@]}"
T1=$(date +%s.%N)
python3 -c "print(f'10 downloads of $SIZE bytes in {$T1-$T0:.1f} s')"
echo "peak server RSS during 10 downloads: VmHWM $(( $(hwm) / 1024 )) MiB (sampled VmRSS peak $((PEAK / 1024)) MiB)"

echo "== 3. HTTP export vs cairn export"
T0=$(date +%s.%N); curl -s -o "$WORK/http.zip" "$EXPORT"; T1=$(date +%s.%N)
"$CAIRN" export latest --repo "$WORK/repo" --compression store --output "$WORK/cli.zip" >/dev/null; T2=$(date +%s.%N)
cmp "$WORK/http.zip" "$WORK/cli.zip" && echo "identical bytes"
python3 -c "h=$T1-$T0; c=$T2-$T1; print(f'http {h:.2f} s, cli {c:.2f} s, ratio {h/c:.2f}')"
