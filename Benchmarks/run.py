#!/usr/bin/env python3
"""Cairn vs restic vs borg on one deterministic corpus, in the same run (issue 7).

Owns: the benchmark scenarios, the measurements and Docs/Performance.md. Run it through
Scripts/bench.sh, which installs the peers and builds cairn first. Each command is a child
process measured with os.wait4: wall time, CPU (user + sys) and peak RSS of that child.
Repository sizes are apparent bytes of every file under the repository folder.
Caches are warm (the corpus was just written; dropping the page cache needs root).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1 << 20


class Step:
    def __init__(self, tool, scenario, argv, wall, user, sys_, rss_kb, rc, note=""):
        self.tool, self.scenario, self.argv = tool, scenario, argv
        self.wall, self.cpu, self.rss = wall, user + sys_, rss_kb * 1024
        self.rc, self.note = rc, note
        self.repo_size = None
        self.load = os.getloadavg()[0]
        self.growth = None
        self.out_size = None


def run(argv, env, cwd=None, stdout=None, check=True):
    """Runs one child; returns (wall, user, sys, maxrss_kb, rc, stderr tail)."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    errf = open(os.path.join(WORK, "last-stderr"), "w+b")
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=errf, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if stdout:
        out.close()
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    errf.close()
    if check and p.returncode != 0 and not (argv[0].endswith("cairn") and p.returncode == 3) and not (argv[0] == "borg" and p.returncode == 1):
        sys.exit(f"bench: {' '.join(argv)} failed with {p.returncode}:\n{err[-2000:]}")
    return wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, p.returncode, err


def capture(argv, env, cwd=None):
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True).stdout


def tree_bytes(path):
    total = 0
    for d, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(d, n)).st_size
            except FileNotFoundError:
                pass
    return total


def fmt_s(v):
    return "-" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def fmt_mb(v):
    if v is None:
        return "-"
    return f"{v / 1e6:.1f}" if abs(v) >= 1e6 or v == 0 else f"{v / 1e6:.3f}"


def has_subcommand(cairn, name, env):
    r = subprocess.run([cairn, name, "--help"], env=env, capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


class Bench:
    def __init__(self, a):
        self.a = a
        self.cairn = os.path.abspath(a.cairn)
        self.steps = []
        self.notes = []
        self.corpus = os.path.join(WORK, "corpus")
        self.repos = {"cairn": os.path.join(WORK, "repo-cairn"), "restic": os.path.join(WORK, "repo-restic"), "borg": os.path.join(WORK, "repo-borg")}
        env = dict(os.environ)
        env.setdefault("RESTIC_PASSWORD", "cairn-bench")
        env["RESTIC_CACHE_DIR"] = os.path.join(WORK, "restic-cache")
        env["BORG_BASE_DIR"] = os.path.join(WORK, "borg-base")
        env["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "yes"
        env["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "yes"
        env["CAIRN_REPO"] = self.repos["cairn"]
        env["LC_ALL"] = "C.UTF-8"
        self.env = env
        self.tools = ["cairn"] + ([] if a.skip_peers else ["restic", "borg"])
        self.borg_archives = []
        self.restic_ids = []
        self.cairn_ids = []

    def measure(self, tool, scenario, argv, cwd=None, stdout=None, note=""):
        wall, u, s, rss, rc, err = run(argv, self.env, cwd=cwd, stdout=stdout)
        st = Step(tool, scenario, argv, wall, u, s, rss, rc, note)
        if tool in self.repos and os.path.exists(self.repos[tool]):
            st.repo_size = tree_bytes(self.repos[tool])
        if stdout and os.path.exists(stdout):
            st.out_size = os.path.getsize(stdout)
        prev = [x for x in self.steps if x.tool == tool and x.repo_size is not None]
        if st.repo_size is not None and prev:
            st.growth = st.repo_size - prev[-1].repo_size
        elif st.repo_size is not None:
            st.growth = st.repo_size
        self.steps.append(st)
        print(f"  {tool:7} {scenario:28} wall {wall:7.2f}s cpu {u + s:7.2f}s rss {rss / 1024:7.1f}MB"
              + (f" repo {st.repo_size / 1e6:9.1f}MB (+{st.growth / 1e6:.1f})" if st.repo_size is not None else "")
              + (f" out {st.out_size / 1e6:.1f}MB" if st.out_size is not None else ""), flush=True)
        return st

    # --- set-up and snapshots -------------------------------------------------------

    def setup(self):
        run([self.cairn, "init"], self.env)
        run([self.cairn, "silo", "add", "corpus", self.corpus], self.env)
        if "restic" in self.tools:
            run(["restic", "-r", self.repos["restic"], "init"], self.env)
        if "borg" in self.tools:
            run(["borg", "init", "-e", "none", self.repos["borg"]], self.env)

    def snapshot(self, scenario):
        for tool in self.tools:
            if tool == "cairn":
                self.measure(tool, scenario, [self.cairn, "snapshot"])
            elif tool == "restic":
                self.measure(tool, scenario, ["restic", "-r", self.repos["restic"], "backup", "--quiet", self.corpus])
            else:
                name = f"s{len(self.borg_archives) + 1}"
                self.borg_archives.append(name)
                self.measure(tool, scenario, ["borg", "create", "--compression", "lz4", f"{self.repos['borg']}::{name}", self.corpus])

    def ids(self):
        self.cairn_ids = [s["id"] for s in json.loads(capture([self.cairn, "list", "--json"], self.env))]
        if "restic" in self.tools:
            snaps = json.loads(capture(["restic", "-r", self.repos["restic"], "snapshots", "--json"], self.env))
            self.restic_ids = [s["id"] for s in sorted(snaps, key=lambda s: s["time"])]

    # --- scenarios ------------------------------------------------------------------

    def restore(self):
        ok, _ = has_subcommand(self.cairn, "restore", self.env)
        for tool in self.tools:
            dst = os.path.join(WORK, f"restore-{tool}")
            shutil.rmtree(dst, ignore_errors=True)
            os.makedirs(dst)
            if tool == "cairn":
                if not ok:
                    self.notes.append("restore: `cairn restore` is not in this build; row skipped.")
                    continue
                self.measure(tool, "4 restore latest", [self.cairn, "restore", "latest", "--to", dst])
            elif tool == "restic":
                self.measure(tool, "4 restore latest", ["restic", "-r", self.repos["restic"], "restore", "latest", "--target", dst])
            else:
                self.measure(tool, "4 restore latest", ["borg", "extract", f"{self.repos['borg']}::{self.borg_archives[-1]}"], cwd=dst)
            restored = tree_bytes(dst)
            self.steps[-1].out_size = restored
            shutil.rmtree(dst, ignore_errors=True)

    def export(self):
        ok, help_text = has_subcommand(self.cairn, "export", self.env)
        zdir = os.path.join(WORK, "zips")
        os.makedirs(zdir, exist_ok=True)
        if ok:
            store, deflate = self.export_flags(help_text)
            every = ["--compression", "deflate"] if deflate and deflate[0] == "--compression" and "deflate" in help_text else None
            for label, flags in (("5 ZIP stored", store), ("5 ZIP compressed", deflate), ("5 ZIP deflate every file", every)):
                if flags is None:
                    if label != "5 ZIP deflate every file":
                        self.notes.append(f"{label}: no matching `cairn export` option found in its --help; row skipped.")
                    continue
                f = os.path.join(zdir, "cairn.zip")
                st = self.measure("cairn", label, [self.cairn, "export", "latest", *flags, "--output", f])
                st.out_size = os.path.getsize(f) if os.path.exists(f) else None
                os.unlink(f)
        else:
            self.notes.append("ZIP export: `cairn export` is not in this build; rows skipped.")
        if "restic" in self.tools:
            f = os.path.join(zdir, "restic.zip")
            # restic 0.14 writes every entry stored (method 0): it belongs with the stored archives.
            self.measure("restic", "5 ZIP stored", ["restic", "-r", self.repos["restic"], "dump", "--archive", "zip", "latest", self.corpus], stdout=f)
            os.unlink(f)
        parent, base = os.path.split(self.corpus)
        for level, label in (("-0", "5 ZIP stored"), ("-1", "5 ZIP compressed")):
            f = os.path.join(zdir, f"zip{level}.zip")
            st = self.measure(f"zip {level}", label, ["zip", "-q", level, "-r", "-y", f, base], cwd=parent)
            st.out_size = os.path.getsize(f)
            os.unlink(f)

    def export_flags(self, h):
        """Maps the export command's documented options to (stored, compressed) flag lists."""
        if re.search(r"--method\b", h):
            store = ["--method", "store"]
            deflate = ["--method", "auto"] if "auto" in h else ["--method", "deflate"]
        elif re.search(r"--compression\b", h):
            store = ["--compression", "store"] if "store" in h else (["--compression", "none"] if "none" in h else None)
            deflate = ["--compression", "auto"] if "auto" in h else ["--compression", "deflate"]
        elif re.search(r"--store\b", h):
            store, deflate = ["--store"], []
        else:
            store, deflate = None, []
        return store, deflate

    def diff(self):
        self.ids()
        ok, _ = has_subcommand(self.cairn, "diff", self.env)
        if ok and len(self.cairn_ids) >= 2:
            self.measure("cairn", "6 diff last two", [self.cairn, "diff", self.cairn_ids[-2], self.cairn_ids[-1]], stdout=os.path.join(WORK, "diff-cairn.txt"))
        else:
            self.notes.append("diff: `cairn diff` is not in this build; row skipped.")
        if "restic" in self.tools:
            self.measure("restic", "6 diff last two", ["restic", "-r", self.repos["restic"], "diff", self.restic_ids[-2], self.restic_ids[-1]],
                         stdout=os.path.join(WORK, "diff-restic.txt"))
        if "borg" in self.tools:
            self.measure("borg", "6 diff last two", ["borg", "diff", f"{self.repos['borg']}::{self.borg_archives[-2]}", self.borg_archives[-1]],
                         stdout=os.path.join(WORK, "diff-borg.txt"))

    def million(self):
        root = os.path.join(WORK, "million")
        repo = os.path.join(WORK, "repo-million")
        if not os.path.exists(root):
            t0 = time.monotonic()
            subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "million", root, "--files", str(self.a.million_files)], check=True)
            self.notes.append(f"million: generating {self.a.million_files} files took {time.monotonic() - t0:.0f} s.")
        shutil.rmtree(repo, ignore_errors=True)
        env = dict(self.env, CAIRN_REPO=repo)
        save, self.env = self.env, env
        n = 0
        try:
            run([self.cairn, "init"], env)
            run([self.cairn, "silo", "add", "small", root], env)
            k = f"{self.a.million_files:,} files"
            self.measure("cairn", f"M1 first snapshot, {k}", [self.cairn, "snapshot"])
            self.measure("cairn", f"M2 no-change snapshot, {k}", [self.cairn, "snapshot"])
            # Append to 1,000 files spread over the tree (10 x 10 folders x 10 files), then snapshot and diff.
            for d in sorted(os.listdir(root))[:10]:
                for sub in sorted(os.listdir(os.path.join(root, d)))[:10]:
                    for i in range(10):
                        with open(os.path.join(root, d, sub, f"f{i:04d}.txt"), "ab") as f:
                            f.write(b"x")
                        n += 1
            self.measure("cairn", f"M3 snapshot, {k}, {n} changed", [self.cairn, "snapshot"])
            ids = [s["id"] for s in json.loads(capture([self.cairn, "list", "--json"], env))]
            ok, _ = has_subcommand(self.cairn, "diff", env)
            if ok:
                self.measure("cairn", f"M4 diff, {k}, {n} changed", [self.cairn, "diff", ids[-2], ids[-1]], stdout=os.path.join(WORK, "diff-million.txt"))
                self.measure("cairn", f"M5 diff, {k}, identical", [self.cairn, "diff", ids[-3], ids[-2]], stdout=os.path.join(WORK, "diff-million0.txt"))
            else:
                self.notes.append("million: `cairn diff` is not in this build; diff rows skipped.")
        finally:
            self.env = save
            for st in self.steps:
                if st.scenario.startswith("M"):
                    st.repo_size = st.growth = None
            self.notes.append(f"million: the M rows use their own repository ({tree_bytes(repo) / 1e6:.0f} MB after three snapshots); "
                              f"{n} files were appended to before M3.")
            shutil.rmtree(repo, ignore_errors=True)

    # --- report ---------------------------------------------------------------------

    def get(self, tool, scenario):
        xs = [s for s in self.steps if s.tool == tool and s.scenario == scenario]
        return xs[-1] if xs else None

    def ratio_rows(self):
        """(target name, cairn figure, best peer figure, ratio, target, met?) rows."""
        out = []
        peers = [t for t in self.tools if t != "cairn"]

        def best(scenario, attr):
            vals = [(getattr(self.get(p, scenario), attr), p) for p in peers if self.get(p, scenario) is not None]
            vals = [v for v in vals if v[0] is not None]
            return min(vals) if vals else (None, None)

        def add(name, c, b, target, unit, who, cpu=None):
            if c is None or b is None or b == 0:
                out.append((name, c, b, None, target, None, unit, who, cpu))
            else:
                r = c / b
                out.append((name, c, b, r, target, r <= target, unit, who, cpu))

        def cpu_ratio(scenario, who, peer_scenario=None):
            c, p = self.get("cairn", scenario), self.get(who, peer_scenario or scenario) if who else None
            return c.cpu / p.cpu if c and p and p.cpu > 0 else None

        c = self.get("cairn", "1 first snapshot")
        b, who = best("1 first snapshot", "wall")
        add("first snapshot: wall", c and c.wall, b, 0.4, "s", who, cpu_ratio("1 first snapshot", who))
        bg = self.get("borg", "1 first snapshot")
        add("first snapshot: repo size vs borg (same LZ4)", c and c.repo_size, bg and bg.repo_size, 1.0, "B", "borg")
        c = self.get("cairn", "2 no change")
        b, who = best("2 no change", "wall")
        add("no-change snapshot: wall", c and c.wall, b, 0.2, "s", who, cpu_ratio("2 no change", who))
        for r in range(1, self.a.rounds + 1):
            sc = f"3 round {r}"
            c = self.get("cairn", sc)
            b, who = best(sc, "wall")
            add(f"round {r}: wall", c and c.wall, b, 0.35, "s", who, cpu_ratio(sc, who))
            b, who = best(sc, "growth")
            add(f"round {r}: repo growth", c and c.growth, b, 0.1, "B", who)
        for k in range(2, self.a.releases + 1):
            sc = f"7 source release {k}"
            c = self.get("cairn", sc)
            if c is None:
                continue
            b, who = best(sc, "wall")
            add(f"source release {k}: wall (no target)", c.wall, b, float("inf"), "s", who, cpu_ratio(sc, who))
            b, who = best(sc, "growth")
            add(f"source release {k}: repo growth", c.growth, b, 1.0, "B", who)
        c = self.get("cairn", "4 restore latest")
        b, who = best("4 restore latest", "wall")
        add("restore: wall", c and c.wall, b, 0.6, "s", who, cpu_ratio("4 restore latest", who))
        z0, z1 = self.get("zip -0", "5 ZIP stored"), self.get("zip -1", "5 ZIP compressed")
        c = self.get("cairn", "5 ZIP stored")
        add("stored ZIP export vs zip -0: wall", c and c.wall, z0 and z0.wall, 0.4, "s", "zip -0", cpu_ratio("5 ZIP stored", "zip -0"))
        c = self.get("cairn", "5 ZIP compressed")
        add("compressed ZIP export vs zip -1: wall", c and c.wall, z1 and z1.wall, 0.3, "s", "zip -1", cpu_ratio("5 ZIP compressed", "zip -1"))
        add("compressed ZIP export vs zip -1: size", c and c.out_size, z1 and z1.out_size, 1.05, "B", "zip -1")
        c = self.get("cairn", "6 diff last two")
        b, who = best("6 diff last two", "wall")
        add("diff of two snapshots: wall (no target)", c and c.wall, b, float("inf"), "s", who, cpu_ratio("6 diff last two", who))
        return out

    def report(self, micro, ceilings, cmdline, started, elapsed):
        L = []
        L.append("# Cairn performance\n")
        L.append("Generated by `Benchmarks/run.py` (through `bash Scripts/bench.sh`); do not edit by hand: the")
        L.append("analysis at the end comes from `Benchmarks/analysis.md`.\n")
        L.append(f"- Date: {started} (whole run {elapsed / 60:.1f} min)")
        L.append(f"- Command: `{cmdline}`")
        L.append(f"- Machine: {machine()}")
        L.append(f"- Tools: {'; '.join(versions(self.env, self.cairn))}")
        L.append(f"- Corpus (after the mutation rounds): {corpus_summary(self.corpus)}; scale {self.a.scale}; {self.a.rounds} mutation rounds (Benchmarks/corpus.py, fixed seed)")
        L.append("- Cache: warm. The corpus was just written and every tool reads it from the page cache; dropping caches needs root,")
        L.append("  so no tool pays for disk reads of the source. Repository writes go to the same disk for every tool.")
        L.append("- restic: repository password from `RESTIC_PASSWORD` (encrypted, as restic always is), its default compression (auto).")
        L.append("  borg: `borg init -e none`, `borg create --compression lz4`. Cairn: one silo on the corpus folder.")
        L.append("- Figures: wall = elapsed; CPU = user + sys of the process and its waited children (os.wait4); RSS = peak resident")
        L.append("  set of the process; repo = apparent bytes of all files in the repository; growth = change since the tool's")
        L.append("  previous step; load = the 1-minute load average when the step ended. The machine is shared: other builds")
        L.append("  raise wall times, so compare tools within a scenario, which run back to back.\n")
        L.append("## Targets\n")
        L.append("Cairn / best peer in the same run (peer named; best = lowest wall time, or lowest growth). Target met when the")
        L.append("ratio is at most the target. CPU ratio = Cairn's CPU seconds / that peer's, less sensitive to other load on the machine.\n")
        L.append("| target | Cairn | best peer | ratio | target | met | CPU ratio |")
        L.append("|---|---|---|---|---|---|---|")
        for name, c, b, r, target, met, unit, who, cpu in self.ratio_rows():
            conv = (lambda v: fmt_s(v) + " s") if unit == "s" else (lambda v: fmt_mb(v) + " MB")
            tgt = "-" if target == float("inf") else f"≤ {target}×"
            L.append(f"| {name} | {conv(c) if c is not None else 'not run'} | {conv(b) + ' (' + str(who) + ')' if b is not None else '-'} | "
                     f"{'-' if r is None else f'{r:.3f}'} | {tgt} | {'-' if met is None or target == float('inf') else ('yes' if met else '**no**')} | {'-' if cpu is None else f'{cpu:.3f}'} |")
        rss = [s for s in self.steps if s.tool == "cairn"]
        worst = max(rss, key=lambda s: s.rss) if rss else None
        if worst:
            L.append(f"| peak RSS, every Cairn step | {worst.rss / 1e6:.1f} MB ({worst.scenario}) | - | - | ≤ 100 MB | {'yes' if worst.rss <= 100e6 else '**no**'} | - |")
        L.append("")
        L.append("## Every step\n")
        L.append("| scenario | tool | wall s | CPU s | peak RSS MB | repo MB | growth MB | output MB | load |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for s in self.steps:
            L.append(f"| {s.scenario} | {s.tool} | {fmt_s(s.wall)} | {fmt_s(s.cpu)} | {s.rss / 1e6:.1f} | {fmt_mb(s.repo_size)} | {fmt_mb(s.growth)} | {fmt_mb(s.out_size)} | {s.load:.1f} |")
        L.append("")
        if self.notes:
            L.append("Notes from this run:\n")
            L.extend(f"- {n}" for n in self.notes)
            L.append("")
        L.append("Exact commands (paths shortened to the work folder):\n")
        seen = set()
        L.append("```")
        for s in self.steps:
            key = (s.tool, re.sub(r"round \d+", "round N", s.scenario))
            if key in seen:
                continue
            seen.add(key)
            L.append(" ".join(a.replace(WORK, "$W").replace(self.cairn, "cairn") for a in s.argv))
        L.append("```\n")
        L.append(f"`$W` is the work folder; cairn finds its repository through `CAIRN_REPO=$W/repo-cairn`.\n")
        if micro:
            L.append("## Micro-benchmarks (`cairn-microbench`)\n")
            L.append(micro.strip() + "\n")
        if ceilings:
            L.append("## Physical limits of this machine, measured in the same run\n")
            L.append("What one core (or the disk) can do at most; the analysis below bounds each figure by them.\n")
            L.append("| limit | rate |")
            L.append("|---|---|")
            L.extend(f"| {k} | {v} |" for k, v in ceilings)
            L.append("")
        analysis = os.path.join(HERE, "analysis.md")
        if os.path.exists(analysis):
            L.append(open(analysis).read().strip() + "\n")
        return "\n".join(L)

    def console_table(self):
        print("\nCairn / best peer:")
        for name, c, b, r, target, met, unit, who, cpu in self.ratio_rows():
            rr = "-" if r is None else f"{r:.3f}"
            tgt = "" if target == float("inf") else f"target <= {target}"
            flag = "" if met is None or target == float("inf") else ("met" if met else "MISSED")
            cr = "" if cpu is None else f"cpu ratio {cpu:.3f}"
            print(f"  {name:42} cairn {fmt_s(c) if unit == 's' else fmt_mb(c):>9} best {fmt_s(b) if unit == 's' else fmt_mb(b):>9} ({who})  ratio {rr:>7}  {cr:17} {tgt:16} {flag}")


def machine():
    model = "unknown CPU"
    flags = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                fl = line.split(":", 1)[1].split()
                flags = ", ".join(f for f in ("sha_ni", "avx2", "avx512f") if f in fl)
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    disk = capture(["df", "-h", "--output=source,fstype,size", WORK], os.environ).strip().splitlines()[-1:]
    return f"{model} ({flags}), {os.cpu_count()} cores (nproc), {mem}, {platform.system()} {platform.release()}, work folder on {' '.join(disk[0].split()) if disk else '?'}"


def versions(env, cairn):
    out = []
    for argv in ([cairn, "--version"], ["restic", "version"], ["borg", "--version"], ["swift", "--version"], ["python3", "--version"]):
        try:
            r = subprocess.run(argv, env=env, capture_output=True, text=True)
            out.append(((r.stdout or r.stderr).strip().splitlines() or ["?"])[0].replace(" compiled with go", ", go"))
        except OSError:
            out.append(f"{argv[0]}: not installed")
    z = subprocess.run(["zip", "-v"], capture_output=True, text=True).stdout.splitlines()
    out.append(next((l.strip() for l in z if l.startswith("This is Zip")), "zip ?").split(" by ")[0].rstrip(",").replace("This is Zip", "Info-ZIP zip"))
    if shutil.which("cairn") is None:
        out[0] = "cairn " + out[0] if not out[0].startswith("cairn") else out[0]
    return out


def corpus_summary(root):
    parts = []
    for sub in ("app/chats", "app/db", "app/vectors", "app/graph.json", "bin", "src"):
        p = os.path.join(root, sub)
        if not os.path.exists(p):
            continue
        size = tree_bytes(p) if os.path.isdir(p) else os.path.getsize(p)
        files = sum(len(n) for _, _, n in os.walk(p)) if os.path.isdir(p) else 1
        parts.append(f"{sub} {size / 1e6:.0f} MB / {files} files")
    return ", ".join(parts)


def ceilings(sample, corpus, dd_mib):
    """Physical limits: SHA-256 and LZ4 on one core, reading the corpus from the page cache,
    and durable write throughput (dd with fsync) on the work folder's disk."""
    out = []
    r = subprocess.run(["openssl", "speed", "-seconds", "2", "-evp", "sha256", "-bytes", "65536"], capture_output=True, text=True)
    m = re.search(r"^sha256\s+.*?([\d.]+)k\s*$", r.stdout, re.M)
    if m:
        out.append(("`openssl speed -evp sha256 -bytes 65536` (one core)", f"{float(m.group(1)) * 1000 / 1e6:.0f} MB/s"))
    if shutil.which("lz4") and sample:
        r = subprocess.run(["lz4", "-b1", "-i2", sample], capture_output=True, text=True)
        text = (r.stdout + r.stderr).replace("\r", "\n").strip().splitlines()
        last = [l for l in text if "MB/s" in l]
        if last:
            m = re.search(r"\(\s*([\d.]+)\s*\),\s*([\d.]+) MB/s\s*,\s*([\d.]+) MB/s", last[-1])
            if m:
                mb = os.path.getsize(sample) / 1e6
                out.append((f"`lz4 -b1` on {os.path.basename(sample)} ({mb:.0f} MB, ratio {m.group(1)}): compress, one core", f"{m.group(2)} MB/s"))
                out.append((f"`lz4 -b1` on {os.path.basename(sample)}: decompress, one core", f"{m.group(3)} MB/s"))
    size = tree_bytes(corpus)
    cat = ["sh", "-c", 'find "$0" -type f -print0 | xargs -0 cat > /dev/null', corpus]
    run(cat, os.environ)  # warm the page cache
    wall, u, sy, _, _, _ = run(cat, os.environ)
    out.append((f"`cat` of the whole corpus ({size / 1e6:.0f} MB) from the page cache (CPU {u + sy:.2f} s)", f"{size / 1e6 / wall:.0f} MB/s"))
    f = os.path.join(WORK, "dd-fsync")
    wall, u, sy, _, _, _ = run(["dd", "if=/dev/zero", f"of={f}", "bs=1M", f"count={dd_mib}", "conv=fsync"], os.environ)
    os.unlink(f)
    out.append((f"`dd bs=1M count={dd_mib} conv=fsync` to the work folder (write + fsync)", f"{dd_mib * MiB / 1e6 / wall:.0f} MB/s"))
    return out


def main():
    global WORK
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cairn", required=True, help="the cairn binary (release build)")
    ap.add_argument("--microbench", help="the cairn-microbench binary")
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "cairn-bench"), help="scratch folder (emptied first, except a generated million-file tree)")
    ap.add_argument("--scale", type=float, default=1, help="corpus size factor (1: ~1.7 GB; fractions allowed)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--releases", type=int, default=3, help="source releases snapshotted one after another (1-3)")
    ap.add_argument("--smoke", action="store_true",
                    help="quick check of the harness: --scale 0.02 --rounds 1, report written to the work folder, kept")
    ap.add_argument("--million", action="store_true", help="also time a no-change snapshot and a diff over one million small files")
    ap.add_argument("--million-files", type=int, default=1_000_000)
    ap.add_argument("--skip-peers", action="store_true", help="run Cairn only (quick checks)")
    ap.add_argument("--output", default=os.path.join(ROOT, "Docs", "Performance.md"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--command-line", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.smoke:
        a.scale, a.rounds, a.million, a.keep = min(a.scale, 0.02), min(a.rounds, 1), False, True
        if a.output == ap.get_default("output"):
            a.output = os.path.join(os.path.abspath(a.work), "Performance-smoke.md")
    WORK = os.path.abspath(a.work)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    keep_million = os.path.join(WORK, "million")
    if os.path.exists(WORK):
        for n in os.listdir(WORK):
            if n != "million":
                p = os.path.join(WORK, n)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    os.makedirs(WORK, exist_ok=True)
    b = Bench(a)
    print(f"bench: generating the corpus (scale {a.scale}) in {b.corpus}", flush=True)
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "generate", b.corpus, "--scale", str(a.scale)], check=True)
    b.setup()
    print("bench: 1 first snapshot", flush=True)
    b.snapshot("1 first snapshot")
    print("bench: 2 snapshot with nothing changed", flush=True)
    b.snapshot("2 no change")
    for r in range(1, a.rounds + 1):
        subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "mutate", b.corpus, str(r), "--scale", str(a.scale)], check=True)
        b.snapshot(f"3 round {r}")
    for k in range(2, a.releases + 1):
        r = subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "release", b.corpus, str(k)], check=True, capture_output=True, text=True)
        print(r.stdout.strip(), flush=True)
        if "no release" in r.stdout:
            b.notes.append(f"source releases: {r.stdout.strip()}; rows skipped.")
            break
        b.snapshot(f"7 source release {k}")
    print("bench: 4 restore", flush=True)
    b.restore()
    print("bench: 5 ZIP export", flush=True)
    b.export()
    print("bench: 6 diff", flush=True)
    b.diff()
    if a.million:
        print("bench: one million small files", flush=True)
        b.million()
    micro, ceil = "", []
    sample = os.path.join(WORK, "bin-sample")
    with open(sample, "wb") as out:  # the first 64 MiB of the binaries tree, in path order
        left = 64 * MiB
        for d, dirs, names in sorted(os.walk(os.path.join(b.corpus, "bin"))):
            dirs.sort()
            for n in sorted(names):
                if left <= 0:
                    break
                with open(os.path.join(d, n), "rb") as f:
                    chunk = f.read(left)
                out.write(chunk)
                left -= len(chunk)
    if a.microbench:
        print("bench: micro-benchmarks", flush=True)
        vec = os.path.join(WORK, "vectors-sample")
        with open(os.path.join(b.corpus, "app", "vectors", "embeddings.f32"), "rb") as f, open(vec, "wb") as out:
            out.write(f.read(64 * MiB))
        r = subprocess.run([a.microbench, sample, vec], capture_output=True, text=True)
        micro = r.stdout if r.returncode == 0 else f"cairn-microbench failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}"
        print(micro)
    ceil = ceilings(sample, b.corpus, max(32, min(1024, int(512 * a.scale))))
    for k, v in ceil:
        print(f"  ceiling: {k}: {v}")
    b.console_table()
    cmdline = a.command_line or " ".join(["python3", "Benchmarks/run.py"] + sys.argv[1:])
    text = b.report(micro, ceil, cmdline, started, time.monotonic() - t0)
    with open(a.output, "w") as f:
        f.write(text)
    print(f"bench: wrote {a.output}")
    if not a.keep:
        for n in os.listdir(WORK):
            if n != "million" or not os.path.exists(keep_million):
                p = os.path.join(WORK, n)
                shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else os.unlink(p)


WORK = ""
if __name__ == "__main__":
    main()
