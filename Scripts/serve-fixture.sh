# Sourced by the `cairn serve` scripts (test-page.sh, schemathesis.sh, load-serve.sh):
# start_serve WORK [serve options...] starts `$CAIRN serve` on a free loopback port for the
# repository WORK/repo, sets URL (http://127.0.0.1:PORT/) and SERVER_PID, and installs an EXIT
# trap that stops the server by its pid and removes WORK, also when the caller fails.
SERVER_PID=""
serve_cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    [ -n "${SERVE_WORK:-}" ] && rm -rf "$SERVE_WORK"
}
start_serve() {
    SERVE_WORK="$1"; shift
    trap serve_cleanup EXIT; trap 'exit 1' INT TERM
    "$CAIRN" serve --repo "$SERVE_WORK/repo" --listen 127.0.0.1:0 "$@" >"$SERVE_WORK/serve.out" 2>"$SERVE_WORK/serve.log" &
    SERVER_PID=$!
    for _ in $(seq 400); do grep -q 'listening on' "$SERVE_WORK/serve.out" 2>/dev/null && break; sleep 0.05; done
    URL="$(grep -o 'http://[^ ]*/' "$SERVE_WORK/serve.out" | head -1)"
    [ -n "$URL" ] || { echo "cairn serve did not start:"; cat "$SERVE_WORK/serve.log"; exit 1; }
}
