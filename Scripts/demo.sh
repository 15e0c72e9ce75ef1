#!/usr/bin/env bash
# Cairn's main job on a local repository: builds cairn, generates sample silos
# (chat logs, a live SQLite database, a vector file), snapshots them, changes
# something, snapshots again, and shows list / show / diff-ready stats.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/bootstrap.sh
swift build -c release
CAIRN="$(swift build -c release --show-bin-path)/cairn"
# The manual page, generated from the argument parser (`man cairn`), where the system lets us.
MAN1=/usr/local/share/man/man1
if mkdir -p "$MAN1" 2>/dev/null && [ -w "$MAN1" ]; then
    "$CAIRN" --generate-manual > "$MAN1/cairn.1" && echo "installed the manual page: $MAN1/cairn.1 (man cairn)"
else
    echo "manual page not installed ($MAN1 is not writable); read it with: $CAIRN --generate-manual | man -l -"
fi
WORK="${CAIRN_DEMO_DIR:-$(mktemp -d /tmp/cairn-demo.XXXXXX)}"
export CAIRN_REPO="$WORK/repo"
mkdir -p "$WORK/app/chats" "$WORK/app/vectors"
python3 - "$WORK/app" <<'PY'
import os, random, sqlite3, struct, sys
root = sys.argv[1]; rnd = random.Random(42)
for i in range(50):
    with open(f"{root}/chats/session-{i:03}.jsonl", "w") as f:
        for j in range(200):
            f.write('{"role":"user","turn":%d,"text":"message %d of session %d: %s"}\n' % (j, j, i, " ".join(rnd.choice(["alpha","beta","gamma","delta","cairn","silo"]) for _ in range(12))))
db = sqlite3.connect(f"{root}/notes.db"); db.execute("pragma journal_mode=wal")
db.execute("create table if not exists notes(id integer primary key, body text)")
db.executemany("insert into notes(body) values(?)", [("note %d %s" % (k, "x" * rnd.randint(10, 400)),) for k in range(20000)]); db.commit(); db.close()
with open(f"{root}/vectors/embeddings.f32", "wb") as f:
    for _ in range(4096): f.write(struct.pack("<384f", *(rnd.random() for _ in range(384))))
PY
rm -rf "$CAIRN_REPO"
"$CAIRN" init
"$CAIRN" silo add chats "$WORK/app/chats"
"$CAIRN" silo add notes "$WORK/app/notes.db"
"$CAIRN" silo add vectors "$WORK/app/vectors"
"$CAIRN" snapshot --tag demo --message "first snapshot"
python3 - "$WORK/app" <<'PY'
import sqlite3, sys
root = sys.argv[1]
with open(f"{root}/chats/session-007.jsonl", "a") as f: f.write('{"role":"assistant","text":"appended"}\n')
db = sqlite3.connect(f"{root}/notes.db"); db.execute("insert into notes(body) values('changed')"); db.commit(); db.close()
with open(f"{root}/vectors/embeddings.f32", "r+b") as f: f.seek(4096 * 100); f.write(b"\0" * 4096)
PY
"$CAIRN" snapshot --message "after a change"
"$CAIRN" list
"$CAIRN" show latest
FIRST="$("$CAIRN" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
"$CAIRN" diff "$FIRST" latest                      # what changed, with the bytes really new
"$CAIRN" restore "$FIRST" --dry-run                # what restoring the first snapshot would change
"$CAIRN" stats
"$CAIRN" check
echo "demo repository: $CAIRN_REPO (CAIRN_REPO=$CAIRN_REPO $CAIRN list)"
