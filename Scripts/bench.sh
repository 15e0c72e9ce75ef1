#!/usr/bin/env bash
# Benchmarks Cairn against restic and borg on a generated corpus (issue 7) and writes
# Docs/Performance.md. Installs restic and borg when missing (Debian packages), builds
# cairn and cairn-microbench in release mode, then runs Benchmarks/run.py.
#
#   bash Scripts/bench.sh [--scale N] [--rounds N] [--million] [--skip-peers] [--work DIR] [--keep]
#
# Default: a ~400 MB corpus, about 5 minutes on 2 cores after the build. --million adds a
# one-million-file silo (no-change snapshot and diff): ~5 more minutes and ~4 GB of disk in
# the work folder (default /tmp/cairn-bench), kept so the next run need not generate it again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh --bench
scratch="${CAIRN_BENCH_SCRATCH:-.build-bench}"
swift build -c release --scratch-path "$scratch" --product cairn >&2
swift build -c release --scratch-path "$scratch" --product cairn-microbench >&2
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
exec python3 Benchmarks/run.py --cairn "$bin/cairn" --microbench "$bin/cairn-microbench" \
  --command-line "bash Scripts/bench.sh${*:+ $*}" "$@"
