#!/usr/bin/env bash
# Benchmarks Cairn against restic and borg on a generated corpus (issue 7) and writes
# Docs/Performance.md. Installs restic and borg when missing (Debian packages), builds
# cairn and cairn-microbench in release mode, then runs Benchmarks/run.py.
#
#   bash Scripts/bench.sh [--scale S] [--rounds N] [--releases N] [--million] [--skip-peers] [--work DIR] [--keep]
#   bash Scripts/bench.sh --smoke       # harness check: scale 0.02 (~50 MB), 1 round; report in the work folder
#
# Default: a ~1.7 GB corpus (1 GiB of toolchain binaries, app silos, three source releases),
# about 10 minutes on 2 idle cores after the build. --million adds a
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
