#!/usr/bin/env bash
# Benchmark (not a test): pyvet on a Fedora-size rpmdb.sqlite (the corpus's
# CBL-Mariner headers x COPIES, see make-big-rpmdb.sh) beside
# `rpm -qa --qf '[%{FILENAMES}\n]'` on a private copy of the same database.
#
# Reports, for the same database:
#   - wall time of `pyvet manifest --db rpm --root R --format text` and of
#     rpm, with hyperfine (`apt-get install -y hyperfine`);
#   - peak RSS (`/usr/bin/time -v`, median of RUNS runs) of that command and
#     of `examples/rpmdb_index` (load + path -> owners index, what an audit
#     builds), in bytes per file entry.
#
#   PYVET_CORPUS=/work/shared/corpus bench/manifest-big.sh [COPIES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-40}
runs=${2:-5}
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release --bin pyvet --example rpmdb_index
pyvet=$target/release/pyvet
index=$target/release/examples/rpmdb_index
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# pyvet reads the database from a root; rpm gets its own copy (it may
# create -shm/-wal files next to it).
db_dir=$tmp/root/var/lib/rpm
bench/make-big-rpmdb.sh "$db_dir" "$copies"
mkdir -p "$tmp/rpm"
cp "$db_dir/rpmdb.sqlite" "$tmp/rpm/"
db=$db_dir/rpmdb.sqlite
rpm_cmd="rpm --dbpath $tmp/rpm --define '_db_backend sqlite' -qa --qf '[%{FILENAMES}\n]'"
pyvet_cmd="$pyvet manifest --db rpm --root $tmp/root --format text"

files=$(bash -c "$rpm_cmd" | wc -l)
ours=$($pyvet_cmd | awk '{n += $2} END {print n}')
echo "rpm lists $files file names; pyvet manifest counts $ours file entries"
[ "$files" = "$ours" ] || { echo "file counts differ" >&2; exit 1; }
"$index" "$db" sqlite 1

hyperfine -N --warmup 3 --min-runs 20 --output=null \
    -n "pyvet manifest" "$pyvet_cmd" \
    -n "rpm -qa FILENAMES" "$rpm_cmd"

# Median peak RSS in KiB over $runs runs of a command.
median_rss() {
    for _ in $(seq "$runs"); do
        /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $NF}'
    done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
report() {
    local name=$1 kib=$2
    awk -v n="$name" -v k="$kib" -v f="$files" \
        'BEGIN {printf "%-34s peak RSS %7.1f MiB = %4.0f bytes per file\n", n, k / 1024, k * 1024 / f}'
}
report "pyvet manifest" "$(median_rss $pyvet_cmd)"
report "rpmdb_index (load + owners index)" "$(median_rss "$index" "$db" sqlite 1)"
report "rpm -qa FILENAMES" "$(median_rss rpm --dbpath "$tmp/rpm" --define '_db_backend sqlite' -qa --qf '[%{FILENAMES}\n]')"
