#!/usr/bin/env bash
# Installs the packages packaging/build.sh made into two scratch roots
# (`rpm --root`, `dpkg --root`), runs each installed binary, and has it audit
# its own root: the package's files must verify clean, and a changed one not.
#   packaging/check-installed.sh [PKGDIR]     (default: target/packages)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pkgs=${1:-$repo/target/packages}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pyvet-installed.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

check() { # ROOT: run the installed pyvet and audit the root it is in
    local root=$1 bin=$1/usr/bin/pyvet
    "$bin" --version
    "$bin" --version | grep -q '^supported CPython versions: 2.7 '
    "$bin" manifest --root "$root" --format json | grep -q '"/usr/bin/pyvet"'
    "$bin" policy show fedora >/dev/null
    [ -f "$root/usr/share/pyvet/policies/fedora.toml" ]
    [ -d "$root/etc/pyvet/policies" ]
    # Its own files, as trees: every one owned and verified, nothing found.
    "$bin" audit --root "$root" --no-progress --fail-on info /usr /etc/pyvet
    # ... and the audit is not vacuous: a changed packaged file fails it.
    echo '# changed' >> "$root/usr/share/pyvet/policies/generic.toml"
    if "$bin" audit --root "$root" --no-progress --format json /usr >"$root.json"; then
        echo "a changed packaged file went unnoticed" >&2
        exit 1
    fi
    grep -q '"rule": *"digest-mismatch"' "$root.json"
}

rpmroot=$scratch/rpm
mkdir -p "$rpmroot"
rpm --root "$rpmroot" --dbpath /var/lib/rpm --initdb
rpm --root "$rpmroot" --dbpath /var/lib/rpm -i --nodeps --noscripts \
    "$(ls "$pkgs"/pyvet-*.rpm | grep -v '\.src\.rpm$')" 2>&1 | grep -v 'Alien' || true
rpm --root "$rpmroot" --dbpath /var/lib/rpm -q pyvet
check "$rpmroot"
[ -f "$rpmroot/usr/share/man/man1/pyvet-audit.1.gz" ] || [ -f "$rpmroot/usr/share/man/man1/pyvet-audit.1" ]

debroot=$scratch/deb
mkdir -p "$debroot/var/lib/dpkg/info" "$debroot/var/lib/dpkg/updates"
touch "$debroot/var/lib/dpkg/status"
dpkg --root "$debroot" --force-depends --force-script-chrootless -i "$pkgs"/pyvet_*.deb
check "$debroot"
[ -f "$debroot/usr/share/man/man1/pyvet-audit.1.gz" ]
echo "installed packages check out"
