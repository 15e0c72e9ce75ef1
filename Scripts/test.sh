#!/usr/bin/env bash
# The whole test suite: installs missing system packages, builds in release mode
# (the suite pushes gigabytes through the chunker; debug builds are ~20x slower), runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh
swift build -c release
swift test -c release "$@"
bash Scripts/test-page.sh release
