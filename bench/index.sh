#!/usr/bin/env bash
# Benchmark (not a test): pyvet loading an rpmdb and building its
# path -> owners index, beside `rpm -qa --qf '[%{FILENAMES}\n]'` on a private
# copy of the same database. Uses hyperfine when installed
# (`apt-get install -y hyperfine`), else a plain timing loop.
#
#   PYVET_CORPUS=/work/shared/corpus bench/index.sh
#
# For a Fedora-size database (5,160 packages, 290,760 files) and peak memory
# per file, see bench/manifest-big.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${PYVET_CORPUS:-../shared/corpus}
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release --example rpmdb_index
bin=$target/release/examples/rpmdb_index
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# relative path, pyvet kind, rpm backend, file name rpm expects
dbs=(
    "rpmdb/bdb/rhel-scancode/Packages bdb bdb_ro Packages"
    "rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite sqlite sqlite rpmdb.sqlite"
)
for entry in "${dbs[@]}"; do
    read -r rel kind backend name <<<"$entry"
    db=$corpus/$rel
    copy=$tmp/$kind
    mkdir -p "$copy"
    cp "$db" "$copy/$name"
    echo "== $rel ($(stat -c %s "$db") bytes)"
    "$bin" "$db" "$kind" 3 extract
    "$bin" "$db" "$kind" 3
    echo "rpm lists $(rpm --dbpath "$copy" --define "_db_backend $backend" -qa --qf '[%{FILENAMES}\n]' 2>/dev/null | wc -l) file names"
    pyvet_cmd="$bin $db $kind"
    rpm_cmd="rpm --dbpath $copy --define '_db_backend $backend' -qa --qf '[%{FILENAMES}\n]'"
    if command -v hyperfine >/dev/null; then
        hyperfine --warmup 3 --min-runs 20 --output=null \
            -n "pyvet load+index ($kind)" "$pyvet_cmd" \
            -n "rpm -qa FILENAMES ($backend)" "$rpm_cmd"
    else
        for cmd in "$pyvet_cmd" "$rpm_cmd"; do
            echo "$cmd"
            time (for _ in $(seq 20); do bash -c "$cmd" >/dev/null 2>&1; done)
        done
    fi
done
