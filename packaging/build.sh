#!/usr/bin/env bash
# Builds pyvet's rpm and deb from this source tree:
#   packaging/build.sh [OUTDIR]     (default: target/packages)
# The source tarball is the tree's tracked files (git ls-files, or the tree
# without target/ when it is not a git checkout) plus `cargo vendor` output
# made from cargo's local cache. Both builds compile with `cargo --offline`
# and share one CARGO_TARGET_DIR and source path, so the deb's build reuses
# the pure-Rust crates (the C -sys crates and pyvet are rebuilt: the
# environment dpkg-buildpackage sets differs).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/target/packages}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -1)
work=$out/work
rm -rf "$work"
mkdir -p "$work/src/pyvet-$version" "$out"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}/pkg

# The source tree, as a tarball.
cd "$repo"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done |
        tar --null -T - -cf - | tar -xf - -C "$work/src/pyvet-$version"
else
    tar --exclude=./target -cf - . | tar -xf - -C "$work/src/pyvet-$version"
fi
# The crates, vendored from cargo's local cache (no network), so that the
# package builds need neither the network nor the builder's ~/.cargo. A
# cache filled by `cargo build` on Linux may lack crates only other
# platforms use (cargo vendor copies every crate of Cargo.lock): then they
# are fetched.
(
    cd "$work/src/pyvet-$version" && mkdir -p .cargo
    cargo vendor --offline --locked --quiet vendor > .cargo/config.toml 2>/dev/null || {
        rm -rf vendor
        cargo vendor --locked --quiet vendor > .cargo/config.toml
    }
)
tar -C "$work/src" -czf "$work/pyvet-$version.tar.gz" "pyvet-$version"

# rpm: --nodeps because cargo and rustc come from rustup, not from rpms.
mkdir -p "$work/rpmbuild/SOURCES"
cp "$work/pyvet-$version.tar.gz" "$work/rpmbuild/SOURCES/"
# Both builds unpack to $work/build/pyvet-VERSION: same path, same mtimes.
rpmbuild -ba --nodeps --define "_topdir $work/rpmbuild" --define "_builddir $work/build" \
    "$repo/pyvet.spec"
cp "$work"/rpmbuild/RPMS/*/pyvet-"$version"-*.rpm "$work"/rpmbuild/SRPMS/*.src.rpm "$out/"

# deb, from the same tarball; -d for the same reason as --nodeps.
rm -rf "$work/build/pyvet-$version"
tar -C "$work/build" -xzf "$work/pyvet-$version.tar.gz"
(cd "$work/build/pyvet-$version" && dpkg-buildpackage -b -us -uc -d)
cp "$work"/build/pyvet_"$version"_*.deb "$out/"
rm -rf "$work"
ls -l "$out"
