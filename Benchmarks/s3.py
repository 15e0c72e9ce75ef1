#!/usr/bin/env python3
"""S3 benchmark (issue 13): Cairn on SeaweedFS over loopback against Cairn on a local folder,
and `cairn copy` to S3 against `restic copy` to S3. Not a test: it prints a Markdown table of
wall times and ratios (Docs/Backends.md, "Measured") and changes nothing else.

    s3.py --cairn BIN --endpoint http://127.0.0.1:PORT/BUCKET --work DIR [--scale S] [--rounds N]

Scenarios, each timed `--rounds` times (best and median kept):
    snapshot-local / snapshot-s3   the corpus (Benchmarks/corpus.py) into a fresh repository
    nochange-s3                    a second snapshot of the unchanged corpus on S3
    restore-local / restore-s3     the snapshot restored with --to into a fresh folder
    copy-cairn                     `cairn copy latest --to s3:...` from the local repository
    copy-restic                    `restic copy` of the same corpus from a local restic repository
                                   to one on the same SeaweedFS (restic's S3 backend)
SeaweedFS started without an identities file accepts any key; both tools get the same dummy
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(argv, env):
    """Runs one child to completion; returns its wall time in seconds (exits on failure)."""
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    if p.returncode not in (0, 3):
        sys.exit(f"s3.py: {' '.join(argv)} failed with {p.returncode}:\n{p.stderr.decode(errors='replace')[-2000:]}")
    return wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cairn", required=True)
    ap.add_argument("--restic", default=shutil.which("restic"))
    ap.add_argument("--endpoint", required=True, help="http://HOST:PORT/BUCKET of a SeaweedFS S3 gateway")
    ap.add_argument("--work", default="/tmp/cairn-bench-s3")
    ap.add_argument("--scale", type=float, default=0.1, help="corpus scale (1: ~1.7 GB)")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()

    os.makedirs(a.work, exist_ok=True)
    corpus = os.path.join(a.work, "corpus")
    if not os.path.isdir(corpus):
        subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "generate", corpus, "--scale", str(a.scale)], check=True)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret", AWS_DEFAULT_REGION="us-east-1",
               RESTIC_PASSWORD="bench", CAIRN_PROGRESS_AFTER="1000")
    cairn, times = a.cairn, {}

    def note(name, wall):
        times.setdefault(name, []).append(wall)
        print(f"{name:16s} {wall:8.2f} s", file=sys.stderr)

    def fresh_s3():
        return f"s3:{a.endpoint}/bench-{uuid.uuid4().hex[:12]}"

    def init_with_silos(repo):
        subprocess.run([cairn, "init", "--repo", repo], env=env, check=True, stdout=subprocess.DEVNULL)
        for name in sorted(os.listdir(corpus)):
            subprocess.run([cairn, "silo", "add", name, os.path.join(corpus, name), "--repo", repo], env=env, check=True, stdout=subprocess.DEVNULL)

    for r in range(a.rounds):
        local = os.path.join(a.work, f"local-{r}")
        shutil.rmtree(local, ignore_errors=True)
        init_with_silos(local)
        note("snapshot-local", timed([cairn, "snapshot", "--repo", local], env))
        s3 = fresh_s3()
        init_with_silos(s3)
        note("snapshot-s3", timed([cairn, "snapshot", "--repo", s3], env))
        note("nochange-s3", timed([cairn, "snapshot", "--repo", s3], env))
        for where, repo in (("local", local), ("s3", s3)):
            out = os.path.join(a.work, f"out-{where}")
            shutil.rmtree(out, ignore_errors=True)
            note(f"restore-{where}", timed([cairn, "restore", "latest", "--to", out, "--repo", repo], env))
            shutil.rmtree(out, ignore_errors=True)
        target = fresh_s3()
        subprocess.run([cairn, "init", "--repo", target], env=env, check=True, stdout=subprocess.DEVNULL)
        note("copy-cairn", timed([cairn, "copy", "latest", "--to", target, "--repo", local], env))
        shutil.rmtree(local, ignore_errors=True)
        if a.restic:
            rlocal = os.path.join(a.work, f"restic-{r}")
            shutil.rmtree(rlocal, ignore_errors=True)
            subprocess.run([a.restic, "-r", rlocal, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([a.restic, "-r", rlocal, "backup", corpus], env=env, check=True, stdout=subprocess.DEVNULL)
            rs3 = fresh_s3()
            renv = dict(env, RESTIC_FROM_PASSWORD="bench")
            subprocess.run([a.restic, "-r", rs3, "init"], env=renv, check=True, stdout=subprocess.DEVNULL)
            note("copy-restic", timed([a.restic, "-r", rs3, "copy", "--from-repo", rlocal], renv))
            shutil.rmtree(rlocal, ignore_errors=True)

    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(corpus) for f in fs)
    print(f"\ncorpus: {size / 2**20:.0f} MiB (scale {a.scale}), {a.rounds} rounds, load average before: {os.getloadavg()[0]:.1f}\n")
    print("| scenario | best (s) | median (s) |")
    print("|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {min(v):.2f} | {statistics.median(v):.2f} |")
    best = {k: min(v) for k, v in times.items()}
    print()
    for num, den, goal in (("snapshot-s3", "snapshot-local", "<= 1.5"), ("restore-s3", "restore-local", "<= 2"), ("copy-cairn", "copy-restic", "")):
        if num in best and den in best and best[den] > 0:
            print(f"- {num} / {den}: {best[num] / best[den]:.2f}{' (goal ' + goal + ')' if goal else ''}")
    if "nochange-s3" in best:
        print(f"- no-change snapshot on S3: {best['nochange-s3']:.2f} s (goal < 0.5 s)")


if __name__ == "__main__":
    main()
