#!/usr/bin/env bash
# Cache rebuild benchmark (issue 12): how long a format-3 repository's index cache takes to
# rebuild from scratch (`cairn list` after deleting the cache) as the number of index objects and
# the bytes of the packs grow independently. Rebuilding reads only the index objects and snapshot
# records, never pack data, so the time follows the index objects (and their entries), not the
# pack bytes.
#
#   bash Scripts/bench-cache.sh [--cairn PATH] [--work DIR] [--rounds N]
#
# Default binary: .build/release/cairn if present, else .build/debug/cairn (say which in the
# figures). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import argparse, json, os, shutil, statistics, subprocess, sys, time
ap = argparse.ArgumentParser()
ap.add_argument("--cairn", default=next((p for p in [".build/release/cairn", ".build/debug/cairn"] if os.path.exists(p)), "cairn"))
ap.add_argument("--work", default="/tmp/cairn-bench-cache")
ap.add_argument("--rounds", type=int, default=3)
a = ap.parse_args()
cairn = os.path.abspath(a.cairn)
shutil.rmtree(a.work, ignore_errors=True)
os.makedirs(a.work)
# (label, pack target size, data bytes): pack count ~ data / target.
cases = [("64 KiB packs, 2 MiB", 64 << 10, 2 << 20), ("64 KiB packs, 8 MiB", 64 << 10, 8 << 20),
         ("64 KiB packs, 32 MiB", 64 << 10, 32 << 20), ("2 MiB packs, 32 MiB", 2 << 20, 32 << 20),
         ("16 MiB packs, 128 MiB", 16 << 20, 128 << 20)]
def run(env, *args):
    r = subprocess.run([cairn, *args], env=env, capture_output=True, text=True)
    if r.returncode != 0: sys.exit(f"cairn {' '.join(args)} failed: {r.stderr}")
    return r.stdout
rows = []
for label, target, size in cases:
    d = os.path.join(a.work, str(len(rows)))
    repo, silo = os.path.join(d, "repo"), os.path.join(d, "silo")
    os.makedirs(silo)
    env = dict(os.environ, CAIRN_REPO=repo, CAIRN_CACHE_DIR=os.path.join(d, "cache"), CAIRN_STATE_DIR=os.path.join(d, "state"))
    run(env, "init")
    cfg = os.path.join(repo, "config.json")  # a benchmark-only change before any data: smaller packs
    c = json.load(open(cfg)); c["packTargetSize"] = target
    os.chmod(cfg, 0o644); open(cfg, "w").write(json.dumps(c, indent=2, sort_keys=True) + "\n")
    with open(os.path.join(silo, "data.bin"), "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20); f.write(os.urandom(n)); left -= n
    run(env, "silo", "add", "s", silo)
    run(env, "snapshot")
    packs = sum(len(fs) for r, _, fs in os.walk(os.path.join(repo, "packs")) if fs and not r.endswith("tmp"))
    idx_dir = os.path.join(repo, "index")
    idx_files = [os.path.join(r, f) for r, _, fs in os.walk(idx_dir) for f in fs]
    idx_bytes = sum(os.path.getsize(p) for p in idx_files)
    pack_bytes = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(repo, "packs")) for f in fs)
    blocks = (idx_bytes - 48 * len(idx_files)) // 64
    times = []
    for _ in range(a.rounds):
        shutil.rmtree(os.path.join(d, "cache"), ignore_errors=True)
        t0 = time.perf_counter(); run(env, "list"); times.append(time.perf_counter() - t0)
    warm = []
    for _ in range(a.rounds):
        t0 = time.perf_counter(); run(env, "list"); warm.append(time.perf_counter() - t0)
    rows.append((label, len(idx_files), blocks, pack_bytes, idx_bytes, statistics.median(times), statistics.median(warm)))
    shutil.rmtree(silo)
print(f"binary: {cairn}\n")
print("| case | index objects | blocks | pack bytes | index object bytes | rebuild (`list`, empty cache) | `list`, warm cache |")
print("|---|---|---|---|---|---|---|")
for l, n, b, pb, ib, t, w in rows:
    print(f"| {l} | {n} | {b} | {pb / 2**20:.1f} MiB | {ib / 2**10:.0f} KiB | {t * 1000:.0f} ms | {w * 1000:.0f} ms |")
shutil.rmtree(a.work, ignore_errors=True)
PY
