#!/usr/bin/env bash
# Benchmark (not a test): the whole `pyvet audit` beside the tools users
# already trust, on the same trees, page cache warm.
#
# 1. A status-quo CPython stdlib rpm (Fedora's python3-libs split) installed
#    with rpm --root by ../shared/bench/make-layouts.sh: `pyvet audit --root`
#    vs `rpm --root R -V` (which checks less: no unowned files, no bytecode),
#    with `examples/hash_floor` (pyvet's SHA-256 over every file on every
#    core, nothing else: the floor under any audit that hashes every owned
#    file), `openssl dgst -sha256` on every core, `sha256sum` and `cat` over
#    the same files as the read limits.
# 2. This host's Python packages: `pyvet audit` vs `dpkg --verify` and
#    `debsums -s` on the packages pyvet audits (skipped without dpkg).
#
# 3. Where the time goes: `PYVET_TIMINGS=1` makes pyvet print when each
#    phase ended (databases read, hashing started, trees walked, owned files
#    verified, other families checked, report written), and the audit is
#    timed again with `PYVET_NO_PREFETCH=1` (owned files hashed only when
#    the owned check reaches them, not ahead on threads of their own) to
#    show what the pipeline buys.
#
#   bench/audit.sh [LAYOUTS_DIR]    (default: build into a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release --bin pyvet --example hash_floor
pyvet=$PWD/$target/release/pyvet
floor=$PWD/$target/release/examples/hash_floor
layouts=${1:-}
if [ -z "$layouts" ]; then
    layouts=$(mktemp -d)
    trap 'rm -rf "$layouts"' EXIT
    bash ../shared/bench/make-layouts.sh python3.11 "$layouts" >/dev/null
fi
root=$layouts/root
pkg=$(rpm --root "$root" --dbpath /var/lib/rpm -qa | head -1)
files=$(find "$root/usr" -type f | wc -l)
echo "== status-quo root: $pkg, $files files, $(du -sh "$root/usr" | cut -f1)"
"$pyvet" audit --root "$root" --format json --fail-on never | python3 -c '
import json,sys; r=json.load(sys.stdin); s=r["summary"]
print("pyvet checked", s["files_checked"], "files,", s["bytes_hashed"], "bytes hashed,", s["pycs_judged"], "pycs judged,", s["findings"], "findings")'
list=$(mktemp)
find "$root/usr" -type f -print0 >"$list"
# The read limit on every core: OpenSSL's SHA-256 (SHA-NI, as fast as
# pyvet's) over the same files in one process per core, doing nothing else.
# rpm -V is single-threaded; `taskset -c 0` puts pyvet on one core too.
cores=$(nproc)
per_core=$(( ($(tr -cd '\0' <"$list" | wc -c) + cores - 1) / cores ))
hyperfine --warmup 3 --min-runs 10 -i --output=null \
    -n "pyvet audit --root" "$pyvet audit --root $root --format json --fail-on never --no-progress" \
    -n "pyvet audit --root (one core)" "taskset -c 0 $pyvet audit --root $root --format json --fail-on never --no-progress" \
    -n "pyvet audit --root, no hashing ahead" "env PYVET_NO_PREFETCH=1 $pyvet audit --root $root --format json --fail-on never --no-progress" \
    -n "rpm -V" "rpm --root $root --dbpath /var/lib/rpm -V --nodeps --noscripts $pkg || true" \
    -n "hash_floor (pyvet's SHA-256, all files, all cores, nothing else)" "$floor $root/usr" \
    -n "openssl dgst -sha256 (all files, $cores processes)" "xargs -0 -P$cores -n$per_core openssl dgst -sha256 <$list" \
    -n "sha256sum (all files)" "xargs -0 sha256sum <$list" \
    -n "cat (all files)" "xargs -0 cat <$list"
rm -f "$list"
echo "== phases of one audit (PYVET_TIMINGS, after a warm run)"
"$pyvet" audit --root "$root" --format json --fail-on never --no-progress >/dev/null
PYVET_TIMINGS=1 "$pyvet" audit --root "$root" --format json --fail-on never --no-progress 2>&1 >/dev/null |
    sed -n 's/^pyvet: timing: */  /p'

if command -v dpkg >/dev/null && [ -d /var/lib/dpkg ]; then
    # The packages pyvet audits: those owning a path in a Python tree it found.
    pkgs=$(python3 - "$pyvet" <<'PY'
import json, subprocess, sys
pyvet = sys.argv[1]
audit = json.loads(subprocess.run([pyvet, "audit", "--format", "json", "--fail-on", "never", "--no-progress"],
                                  capture_output=True, check=True).stdout)
trees = audit["summary"]["python_trees"]
manifest = json.loads(subprocess.run([pyvet, "manifest", "--db", "dpkg", "--format", "json"],
                                     capture_output=True, check=True).stdout)
names = {p["name"] + (":" + p["arch"] if p["arch"] not in (None, "all", "amd64") else "")
         for p in manifest["packages"]
         if any(any(f["path"] == t or f["path"].startswith(t + "/") for t in trees) for f in p["files"])}
print(" ".join(sorted(names)))
PY
)
    echo "== this host: $(echo "$pkgs" | wc -w) dpkg packages with files in Python trees"
    anchors=(-n "dpkg --verify" "dpkg --verify $pkgs")
    if command -v debsums >/dev/null; then
        anchors+=(-n "debsums -s" "debsums -s $pkgs")
    else
        echo "(debsums not installed: apt-get install debsums to add it)"
    fi
    # The MD5 floor: pyvet's MD5 (the md-5 crate) over every file of the
    # host's Python trees on every core, nothing else, beside OpenSSL's.
    hostlist=$(mktemp)
    find /usr/lib/python3 /usr/lib/python3.* -type f -print0 2>/dev/null >"$hostlist"
    hostper=$(( ($(tr -cd '\0' <"$hostlist" | wc -c) + cores - 1) / cores ))
    hyperfine -N --warmup 2 --min-runs 5 -i --output=null \
        -n "pyvet audit (host)" "$pyvet audit --format json --fail-on never --no-progress" \
        -n "pyvet audit (host), no hashing ahead" "env PYVET_NO_PREFETCH=1 $pyvet audit --format json --fail-on never --no-progress" \
        "${anchors[@]}" \
        -n "hash_floor md5 (/usr/lib/python3*)" "bash -c '$floor /usr/lib/python3 md5; for d in /usr/lib/python3.*; do $floor \$d md5; done'" \
        -n "openssl md5 (/usr/lib/python3*, $cores processes)" "bash -c 'xargs -0 -P$cores -n$hostper openssl md5 <$hostlist'"
    rm -f "$hostlist"
    echo "== phases of the host audit (PYVET_TIMINGS)"
    PYVET_TIMINGS=1 "$pyvet" audit --format json --fail-on never --no-progress 2>&1 >/dev/null |
        sed -n 's/^pyvet: timing: */  /p'
fi
