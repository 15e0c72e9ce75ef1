#!/usr/bin/env bash
# S3 benchmark (issue 13; not a test): builds cairn in release mode, starts a SeaweedFS of its own
# on loopback (Scripts/seaweedfs.sh, stopped by pid at the end, also on failure), and runs
# Benchmarks/s3.py: snapshot and restore on S3 against a local folder, a no-change snapshot on
# S3, and `cairn copy` to S3 against `restic copy` (restic from Debian, its S3 backend).
#
#   bash Scripts/bench-s3.sh [--scale S] [--rounds N] [--work DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh --bench
swift build -c release --product cairn >&2
bin="$(swift build -c release --show-bin-path)"
state="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-weed.XXXXXX")"
trap 'bash Scripts/seaweedfs.sh stop "$state"' EXIT
endpoint="$(bash Scripts/seaweedfs.sh start "$state")"
python3 Benchmarks/s3.py --cairn "$bin/cairn" --endpoint "$endpoint" "$@"
