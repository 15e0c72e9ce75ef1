#!/usr/bin/env python3
"""Deterministic benchmark corpus for Cairn, restic and borg (issue 7).

Owns: the bytes the benchmark harness snapshots. Everything is derived from a fixed
seed, so two runs (or two machines with the same Swift toolchain) produce the same
corpus and the same "one hour of app use" mutations.

    corpus.py generate DIR [--scale S]     create DIR (must not exist); S may be a fraction (0.02: smoke test)
    corpus.py mutate DIR ROUND [--scale S] apply mutation round ROUND (1, 2, ...)
    corpus.py release DIR K                replace src/ with source release K (1, 2, 3) of a real repository
    corpus.py million DIR [--files N]      one silo of N small files of 32-400 bytes (default 1,000,000)

Layout of DIR (scale 1, about 1.7 GB):
    app/chats/YYYY-MM/conv-NNNN.jsonl  400 JSONL chat logs (~24 MB)
    app/db/notes-K.sqlite              3 SQLite databases with an FTS5 index (~8 MB each)
    app/vectors/embeddings.f32         float32 embeddings, 384 dims (192 MiB)
    app/graph.json                     a JSON knowledge graph (~3 MB)
    bin/lib/..., bin/bin/...           real binaries: the installed Swift toolchain's usr/lib and
                                       usr/bin, files taken alternately from both in path order up to
                                       1 GiB x scale, contents unchanged, source mtimes kept; copied in
                                       batches with pauses so their ctimes are spread (borg re-reads
                                       every file whose ctime equals the newest one it saw)
    src/swift-syntax/...               one tagged release of swiftlang/swift-syntax from the local
                                       package mirror (git archive of the tag, ~10 MB); `release`
                                       replaces it by the next release, as upgrading a checkout does
"""

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time

SEED = 20240707
DIMS = 384
MiB = 1 << 20

WORDS = """the a an of to in and or but for with on at by from about into over after before under between
through during without within along across behind beyond near this that these those it its we you they he she
i me my your our their his her them us what which who whom whose when where why how all any both each few more
most other some such no nor not only own same so than too very can will just should now is are was were be been
being have has had do does did say says said get gets got make makes made go goes went know knows knew think
thought take took see saw come came want wanted look looked use used find found give gave tell told work worked
call called try tried ask asked need needed feel felt become left put mean keep let begin seem help talk turn
start show hear play run move like live believe hold bring happen write provide sit stand lose pay meet include
continue set learn change lead understand watch follow stop create speak read allow add spend grow open walk win
offer remember love consider appear buy wait serve die send expect build stay fall cut reach kill remain suggest
raise pass sell require report decide pull time year people way day man thing woman life child world school state
family student group country problem hand part place case week company system program question government number
night point home water room mother area money story fact month lot right study book eye job word business issue
side kind head house service friend father power hour game line end member law car city community name president
team minute idea kid body information back parent face others level office door health person art war history
party result morning reason research girl guy moment air teacher force education database snapshot vector index
memory model embedding query cluster server backup restore archive schedule release version feature bug patch
deploy config token session message channel thread user assistant prompt answer summary context window agent tool
graph node edge weight score rank search filter cache latency throughput storage chunk block hash compress""".split()


def sentence_pool(rng, n):
    pool = []
    for _ in range(n):
        k = rng.randint(5, 22)
        s = " ".join(rng.choice(WORDS) for _ in range(k))
        pool.append(s[0].upper() + s[1:] + rng.choice(".?!."))
    return pool


def message_text(rng, pool):
    return " ".join(rng.choice(pool) for _ in range(rng.randint(1, 6)))


def float_bytes(rng, nbytes):
    """Little-endian float32 values of magnitude 2^-8..2^-6 with random signs, like
    normalised embedding components: random mantissas, a narrow exponent range."""
    b = bytearray(rng.randbytes(nbytes))
    # byte 3 of each float: sign + high exponent bits; byte 2's top bit is the low exponent bit.
    table = bytes((0x3C | (v & 0x80)) for v in range(256))
    b[3::4] = b[3::4].translate(table)
    return b


def chat_line(rng, pool, conv, i, ts):
    role = "user" if i % 2 == 0 else "assistant"
    text = message_text(rng, pool)
    return json.dumps({"id": f"{conv:05d}-{i:06d}", "ts": ts, "role": role, "content": text,
                       "tokens": len(text) // 4, "model": "local-7b" if role == "assistant" else None},
                      separators=(",", ":")) + "\n"


def scaled(n, scale, least=1):
    """n x scale as a whole number, at least `least` (the corpus scales down for smoke tests)."""
    return max(least, int(n * scale))


def chat_paths(root, scale):
    n = scaled(400, scale, 4)
    return [os.path.join(root, "app", "chats", f"2024-{1 + c % 12:02d}", f"conv-{c:04d}.jsonl") for c in range(n)]


def create_db(path, rng, pool, rows):
    db = sqlite3.connect(path)
    db.executescript("""
        PRAGMA page_size=4096;
        CREATE TABLE messages(id INTEGER PRIMARY KEY, conv INTEGER NOT NULL, ts INTEGER NOT NULL, role TEXT NOT NULL, body TEXT NOT NULL);
        CREATE INDEX messages_conv ON messages(conv, ts);
        CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id');
        CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
          INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
        END;
    """)
    insert_rows(db, rng, pool, rows, 1_700_000_000)
    db.close()


def insert_rows(db, rng, pool, rows, ts0):
    with db:
        db.executemany("INSERT INTO messages(conv, ts, role, body) VALUES (?, ?, ?, ?)",
                       ((rng.randrange(2000), ts0 + i * 7, rng.choice(("user", "assistant")), message_text(rng, pool))
                        for i in range(rows)))


def graph(scale, rounds):
    """The JSON graph after `rounds` mutation rounds (each round adds and rewrites a little)."""
    rng = random.Random(SEED + 7)
    n = scaled(5000, scale, 50)
    nodes = [{"id": f"n{i}", "label": " ".join(rng.choice(WORDS) for _ in range(3)), "kind": rng.choice(("person", "topic", "doc", "tool")),
              "score": round(rng.random(), 6), "updated": 0} for i in range(n)]
    edges = [{"from": f"n{rng.randrange(n)}", "to": f"n{rng.randrange(n)}", "rel": rng.choice(("mentions", "cites", "knows", "uses")),
              "w": round(rng.random(), 4)} for _ in range(4 * n)]
    for r in range(1, rounds + 1):
        rr = random.Random(SEED * 100 + r)
        base = len(nodes)
        for i in range(50):
            nodes.append({"id": f"n{base + i}", "label": " ".join(rr.choice(WORDS) for _ in range(3)), "kind": "doc", "score": 0.5, "updated": r})
        for _ in range(200):
            edges.append({"from": f"n{rr.randrange(len(nodes))}", "to": f"n{rr.randrange(len(nodes))}", "rel": "mentions", "w": round(rr.random(), 4)})
        for _ in range(100):
            node = nodes[rr.randrange(len(nodes))]
            node["score"] = round(rr.random(), 6)
            node["updated"] = r
    return {"version": rounds, "nodes": nodes, "edges": edges}


def write_graph(root, scale, rounds):
    path = os.path.join(root, "app", "graph.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(graph(scale, rounds), f, indent=1)
    os.replace(tmp, path)  # a rewrite: new inode, as an app saving its graph would do


def toolchain_usr():
    """The installed Swift toolchain's usr folder (the parent of the folder holding `swift`)."""
    swift = shutil.which("swift")
    if swift:
        usr = os.path.dirname(os.path.dirname(os.path.realpath(swift)))
        if os.path.isdir(os.path.join(usr, "lib")) and os.path.isdir(os.path.join(usr, "bin")):
            return usr
    sys.exit("corpus: no Swift toolchain found (`swift` on PATH) for the binaries tree")


def regular_files(src):
    files = []
    for d, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            p = os.path.join(d, name)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
    files.sort()
    return files


BATCH = 64  # files copied between pauses, so that ctimes (ext4: jiffy granularity) are spread


def copy_binaries(root, cap):
    usr = toolchain_usr()
    lists = [regular_files(os.path.join(usr, "lib")), regular_files(os.path.join(usr, "bin"))]
    order = []
    for i in range(max(len(x) for x in lists)):  # alternate lib and bin so both are represented
        order.extend(x[i] for x in lists if i < len(x))
    total = 0
    copied = 0
    for p in order:
        st = os.stat(p)
        if total + st.st_size > cap:
            continue
        dst = os.path.join(root, "bin", os.path.relpath(p, usr))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(p, dst)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        total += st.st_size
        copied += 1
        if copied % BATCH == 0:
            time.sleep(0.02)
    return usr, total


RELEASE_REPO = "swiftlang/swift-syntax"
RELEASES = ("600.0.1", "602.0.0", "603.0.1")


def release_mirror():
    for base in ("/opt/swift-packages", os.path.expanduser("~/.cache/org.swift.swiftpm/repositories")):
        g = os.path.join(base, RELEASE_REPO + ".git")
        if os.path.isdir(g):
            return g
    return None


def put_release(root, k):
    """Replaces src/swift-syntax by release k (1-based) of RELEASES; returns the tag or None."""
    g = release_mirror()
    if g is None or not 1 <= k <= len(RELEASES):
        return None
    tag = RELEASES[k - 1]
    dst = os.path.join(root, "src", "swift-syntax")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    archive = subprocess.Popen(["git", "-C", g, "archive", "--format=tar", tag], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dst], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        sys.exit(f"corpus: git archive {tag} of {g} failed")
    return tag


def generate(root, scale):
    if os.path.exists(root):
        sys.exit(f"corpus: {root} already exists")
    rng = random.Random(SEED)
    pool = sentence_pool(rng, 20000)
    # Chat logs.
    for c, path in enumerate(chat_paths(root, scale)):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lines = rng.randint(40, 460)
        with open(path, "w") as f:
            f.writelines(chat_line(rng, pool, c, i, 1_700_000_000 + i * 30) for i in range(lines))
    # SQLite databases with FTS5.
    os.makedirs(os.path.join(root, "app", "db"))
    for k in range(3):
        create_db(os.path.join(root, "app", "db", f"notes-{k}.sqlite"), random.Random(SEED + 100 + k), pool, scaled(15000, scale, 100))
    # Vectors: written in 8 MiB pieces to keep memory small.
    vec = os.path.join(root, "app", "vectors", "embeddings.f32")
    os.makedirs(os.path.dirname(vec))
    vrng = random.Random(SEED + 200)
    total = max(1, int(192 * scale)) * MiB
    with open(vec, "wb") as f:
        left = total
        while left > 0:
            n = min(left, 8 * MiB)
            f.write(float_bytes(vrng, n))
            left -= n
    write_graph(root, scale, 0)
    tag = put_release(root, 1)
    src, binbytes = copy_binaries(root, int(1024 * MiB * scale))
    time.sleep(1)  # the first snapshot starts after the newest ctime has passed
    print(f"corpus: generated {root} (scale {scale}; binaries {binbytes / MiB:.0f} MiB from {src}; "
          f"source release {tag or 'none: no mirror of ' + RELEASE_REPO})")


def mutate(root, round_no, scale):
    """One deterministic 'hour of app use'."""
    rng = random.Random(SEED * 1000 + round_no)
    pool = sentence_pool(random.Random(SEED), 20000)  # same vocabulary as the corpus
    logs = chat_paths(root, scale)
    appended = 0
    for path in rng.sample(logs, max(1, len(logs) // 10)):
        with open(path, "a") as f:
            c = logs.index(path)
            for i in range(rng.randint(5, 30)):
                line = chat_line(rng, pool, c, 100000 + round_no * 100 + i, 1_800_000_000 + round_no * 3600 + i)
                f.write(line)
                appended += len(line)
    for k in range(3):
        db = sqlite3.connect(os.path.join(root, "app", "db", f"notes-{k}.sqlite"))
        insert_rows(db, rng, pool, 300, 1_800_000_000 + round_no * 3600)
        db.close()
    vec = os.path.join(root, "app", "vectors", "embeddings.f32")
    size = os.path.getsize(vec)
    blocks = size // 4096
    spots = max(1, blocks * 3 // 1000)
    fd = os.open(vec, os.O_WRONLY)
    try:
        for b in sorted(rng.sample(range(blocks), spots)):
            os.pwrite(fd, float_bytes(rng, 4096), b * 4096)
    finally:
        os.close(fd)
    write_graph(root, scale, round_no)
    print(f"corpus: round {round_no}: appended {appended / 1024:.0f} KiB to {max(1, len(logs) // 10)} logs, 900 rows, "
          f"{spots} vector pages ({spots * 4} KiB), graph rewritten")


def million(root, files):
    if os.path.exists(root):
        sys.exit(f"corpus: {root} already exists")
    rng = random.Random(SEED + 300)
    per = 1000
    for d in range((files + per - 1) // per):
        dd = os.path.join(root, f"d{d // 100:02d}", f"d{d:04d}")
        os.makedirs(dd)
        for i in range(min(per, files - d * per)):
            with open(os.path.join(dd, f"f{i:04d}.txt"), "wb") as f:
                f.write(rng.randbytes(rng.randint(16, 200)).hex().encode())
    print(f"corpus: {files} small files in {root}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate"); g.add_argument("dir"); g.add_argument("--scale", type=float, default=1)
    m = sub.add_parser("mutate"); m.add_argument("dir"); m.add_argument("round", type=int); m.add_argument("--scale", type=float, default=1)
    rl = sub.add_parser("release"); rl.add_argument("dir"); rl.add_argument("k", type=int)
    mm = sub.add_parser("million"); mm.add_argument("dir"); mm.add_argument("--files", type=int, default=1_000_000)
    a = ap.parse_args()
    if a.cmd == "generate":
        generate(a.dir, a.scale)
    elif a.cmd == "mutate":
        mutate(a.dir, a.round, a.scale)
    elif a.cmd == "release":
        tag = put_release(a.dir, a.k)
        print(f"corpus: src/swift-syntax is now release {tag}" if tag else f"corpus: no release {a.k} (no mirror of {RELEASE_REPO})")
    else:
        million(a.dir, a.files)


if __name__ == "__main__":
    main()
