#!/usr/bin/env bash
# End-to-end test of the backup page (Tests/Page/test_page.py) in headless Chromium:
# installs chromium + chromium-driver (Debian) and selenium (PyPI, in a venv) when missing,
# builds a small repository, starts `cairn serve` with a token, runs the test, and stops
# the server by its pid also when the test fails. Screenshots: $SHOTS (default .build/page-screenshots).
# Usage: Scripts/test-page.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-release}"
CAIRN="$PWD/.build/$CONFIG/cairn"
SHOTS="${SHOTS:-$PWD/.build/page-screenshots}"
VENV="${PAGE_VENV:-$PWD/.build/page-venv}"
[ -x "$CAIRN" ] || swift build -c "$CONFIG" --product cairn
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi
if ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q selenium
fi

WORK="$(mktemp -d /tmp/cairn-page-XXXXXX)"
. Scripts/serve-fixture.sh
SERVE_WORK="$WORK"; trap serve_cleanup EXIT; trap 'exit 1' INT TERM

mkdir -p "$WORK/app/data" "$WORK/media"
printf 'first version\n' > "$WORK/app/notes.txt"
head -c 300000 /dev/urandom > "$WORK/app/data/blob.bin"
head -c 120000 /dev/urandom > "$WORK/media/photo.raw"
"$CAIRN" init --repo "$WORK/repo" >/dev/null
"$CAIRN" silo add app "$WORK/app" --repo "$WORK/repo" >/dev/null
"$CAIRN" silo add media "$WORK/media" --repo "$WORK/repo" >/dev/null
TOKEN="$("$CAIRN" serve --add-token page-test --token-file "$WORK/tokens" 2>/dev/null)"

start_serve "$WORK" --token-file "$WORK/tokens"
rm -rf "$SHOTS"
"$VENV/bin/python" Tests/Page/test_page.py "$URL" "$TOKEN" "$WORK" "$SHOTS"
