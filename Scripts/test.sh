#!/usr/bin/env bash
# The whole test suite: installs missing system packages, builds in release mode
# (the suite pushes gigabytes through the chunker; debug builds are ~20x slower), runs every test.
# `swift test -c release` builds every target, the executables included (with testability on),
# so no separate `swift build` runs: it would compile everything a second time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh
# A real SeaweedFS for the S3 tests, stopped by pid when the tests end (also on failure).
sw_state="$(mktemp -d "${TMPDIR:-/tmp}/cairn-seaweedfs.XXXXXX")"
trap 'bash Scripts/seaweedfs.sh stop "$sw_state"' EXIT
CAIRN_TEST_S3="$(bash Scripts/seaweedfs.sh start "$sw_state")"
export CAIRN_TEST_S3
swift test -c release "$@"
bash Scripts/test-page.sh release
