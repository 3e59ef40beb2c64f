#!/usr/bin/env bash
# Builds a Fedora-size rpmdb.sqlite for benchmarks (not a test fixture):
# the corpus's real CBL-Mariner 2.0 rpmdb with its Packages rows copied
# COPIES times under new hnum keys (129 headers x 40 = 5,160 packages,
# 290,760 files). Only `Packages` is multiplied: `rpm -qa` and pyvet read
# nothing else; the index tables keep pointing at the first copy.
#
#   bench/make-big-rpmdb.sh OUT_DIR [COPIES]   # writes OUT_DIR/rpmdb.sqlite
#
# The corpus file is never opened by SQLite (that would leave -wal/-shm
# files beside it): it is copied first and only the copy is touched.
set -euo pipefail
out=${1:?usage: make-big-rpmdb.sh OUT_DIR [COPIES]}
copies=${2:-40}
corpus=${PYVET_CORPUS:-/work/shared/corpus}
src=$corpus/rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite
mkdir -p "$out"
db=$out/rpmdb.sqlite
rm -f "$db" "$db-wal" "$db-shm"
cp "$src" "$db"
chmod u+w "$db"
python3 - "$db" "$copies" <<'PY'
import sqlite3, sys
db, copies = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
rows = con.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
step = max(h for h, _ in rows) + 1
with con:
    for k in range(1, copies):
        con.executemany("INSERT INTO Packages (hnum, blob) VALUES (?, ?)",
                        [(h + k * step, b) for h, b in rows])
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.execute("PRAGMA journal_mode=DELETE")
con.execute("VACUUM")
n, = con.execute("SELECT count(*) FROM Packages").fetchone()
con.close()
print(f"{db}: {n} headers ({len(rows)} x {copies})")
PY
rm -f "$db-wal" "$db-shm"
