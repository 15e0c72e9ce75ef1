#!/usr/bin/env bash
# Checks Docs/openapi.json against a running `cairn serve` with schemathesis (PyPI, in a venv):
# every operation is called with generated inputs; responses must match the documented status
# codes and schemas, and the server must never answer 5xx (CHECKS=all adds the request-acceptance
# checks, which also flag semantic refusals a schema cannot express). Not in CI: about a minute plus
# the PyPI install.
# Usage: Scripts/schemathesis.sh [debug|release] [extra schemathesis args]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-release}"; shift || true
CAIRN="$PWD/.build/$CONFIG/cairn"
VENV="${SCHEMATHESIS_VENV:-$PWD/.build/schemathesis-venv}"
[ -x "$CAIRN" ] || swift build -c "$CONFIG" --product cairn
"$VENV/bin/schemathesis" --version >/dev/null 2>&1 || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q schemathesis; }

WORK="$(mktemp -d /tmp/cairn-schema-XXXXXX)"
. Scripts/serve-fixture.sh
SERVE_WORK="$WORK"; trap serve_cleanup EXIT; trap 'exit 1' INT TERM
mkdir -p "$WORK/app/sub"
printf 'hello\n' > "$WORK/app/a.txt"; head -c 50000 /dev/urandom > "$WORK/app/sub/b.bin"
"$CAIRN" init --repo "$WORK/repo" >/dev/null
"$CAIRN" silo add app "$WORK/app" --repo "$WORK/repo" >/dev/null
"$CAIRN" snapshot --repo "$WORK/repo" --tag first >/dev/null
TOKEN="$("$CAIRN" serve --add-token schemathesis --token-file "$WORK/tokens" 2>/dev/null)"
start_serve "$WORK" --token-file "$WORK/tokens" --max-upload 1000000
"$VENV/bin/schemathesis" run "${URL}api/v1/openapi.json" --url "${URL%/}" -H "Authorization: Bearer $TOKEN" \
    --checks "${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance}" \
    --max-examples "${MAX_EXAMPLES:-25}" "$@"
