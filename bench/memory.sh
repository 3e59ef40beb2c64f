#!/usr/bin/env bash
# Benchmark (not a test): peak memory and wall time of `pyvet audit` on
# three inputs built to grow one thing each (issue 17, "Memory"):
#
#   dir     200,000 unowned `.py` in one directory of a dpkg root's
#           Python tree: per-directory cost, one finding per entry.
#   list    a 1,000,000-line `.list` of files that are not there: one
#           `missing` finding per line, the manifest as large as the report.
#   status  a 300 MB `status` of 501,443 installed stanzas with no files:
#           the database parser, nothing to verify.
#
# Every root starts as a real dpkg root: a small package (python3.11's
# `os.py`) built with dpkg-deb and installed with `dpkg --root`, so
# `status` and `info/*.list` are dpkg's own. The inputs then grow in
# dpkg's formats: the `.list` gets the extra lines dpkg would write for
# more files, the `status` more stanzas as dpkg writes them (one per
# package, `Status: install ok installed`, a folded `Description`).
#
#   bench/memory.sh [dir|list|status]...   (default: all three)
#
# PYVET=BINARY measures another build (main's, for a before/after);
# BENCH_KEEP=DIR keeps the roots there and reuses them on the next run.
#
# Prints per run the peak RSS, wall, user and system seconds and the
# number of findings, from `/usr/bin/time -f '%M %e %U %S'`.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
[ -n "${PYVET:-}" ] || cargo build --quiet --release --bin pyvet
pyvet=${PYVET:-$PWD/$target/release/pyvet}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
keep=${BENCH_KEEP:-}

# A dpkg root holding one real package that owns /usr/lib/python3.11/os.py.
base_root() {
    local root=$1 pkg=$work/pkg
    rm -rf "$pkg" && mkdir -p "$pkg/DEBIAN" "$pkg/usr/lib/python3.11"
    echo 'import sys' >"$pkg/usr/lib/python3.11/os.py"
    cat >"$pkg/DEBIAN/control" <<'EOF'
Package: bench-python
Version: 1.0-1
Architecture: all
Maintainer: pyvet bench <bench@example.org>
Description: one Python file for pyvet's memory bench
EOF
    SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$work/bench.deb" >/dev/null
    mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
    touch "$root/var/lib/dpkg/status"
    dpkg --root "$root" --force-script-chrootless --force-not-root -i "$work/bench.deb" >/dev/null
}

make_dir() {
    local root=$work/dir
    base_root "$root"
    python3 - "$root/usr/lib/python3.11" <<'EOF'
import os, sys
d = sys.argv[1]
for i in range(200_000):
    open(os.path.join(d, f"mod_{i:06d}.py"), "w").close()
EOF
    echo "$root"
}

make_list() {
    local root=$work/list
    base_root "$root"
    # dpkg lists every directory and file once, absolute, one a line.
    python3 - "$root/var/lib/dpkg/info/bench-python.list" <<'EOF'
import sys
with open(sys.argv[1], "a") as f:
    f.write("/usr/lib/python3.11/gone\n")
    for i in range(999_999):
        f.write(f"/usr/lib/python3.11/gone/module_{i:07d}.py\n")
EOF
    echo "$root"
}

make_status() {
    local root=$work/status
    base_root "$root"
    python3 - "$root/var/lib/dpkg/status" <<'EOF'
import sys
desc = "".join(f" line {i} of a long package description, as dpkg folds it\n" for i in range(5))
with open(sys.argv[1], "a") as f:
    for i in range(501_442):
        f.write(f"""Package: bench-empty-{i:06d}
Status: install ok installed
Priority: optional
Section: python
Installed-Size: {i % 9000 + 1}
Maintainer: pyvet bench <bench@example.org>
Architecture: amd64
Version: 1:{i}.0-1
Depends: libc6 (>= 2.36), python3 (>= 3.11~), python3 (<< 3.12)
Description: empty package {i} for pyvet's memory bench
{desc}
""")
EOF
    # As dpkg writes it: each stanza followed by an empty line.
    echo "$root"
}

measure() {
    local name=$1 root=$2
    local out=$work/$name.json
    /usr/bin/time -f '%M %e %U %S' -o "$work/$name.time" \
        "$pyvet" audit --root "$root" --format json --fail-on never --no-progress >"$out" || true
    local findings
    findings=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["findings"])' "$out" 2>/dev/null || echo '?')
    read -r kib secs user sys <"$work/$name.time"
    printf '%-7s %10s KiB %7s s wall %7s s user %6s s sys %9s findings\n' "$name" "$kib" "$secs" "$user" "$sys" "$findings"
}

cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(dir list status)
for c in "${cases[@]}"; do
    if [ -n "$keep" ] && [ -d "$keep/$c" ]; then
        root=$keep/$c
    else
        root=$("make_$c")
        [ -z "$keep" ] || { mkdir -p "$keep" && mv "$root" "$keep/$c" && root=$keep/$c; }
    fi
    [ "$c" != status ] || ls -l "$root/var/lib/dpkg/status" | awk '{printf "status: %d bytes, ", $5}'
    [ "$c" != status ] || grep -c '^Package:' "$root/var/lib/dpkg/status"
    measure "$c" "$root"
    [ -n "$keep" ] || rm -rf "$root"
done
