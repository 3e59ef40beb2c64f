#!/usr/bin/env bash
# Benchmark (not a test): `pyvet audit --image` on a container image beside
# `pyvet audit --root` on the same image unpacked by `umoci unpack`, page
# cache warm. The target is --image within 1.5x of --root (issue 15); the
# anchors show what reading and verifying the layers alone costs (which
# --root never pays: it reads only the files it checks), down to the floor
# of examples/layer_floor (inflate and the two sha256, nothing else).
#
# The image is the one tests/image.rs builds: Debian's python3.11-minimal,
# libpython3.11-minimal and libpython3.11-stdlib (apt-get download,
# maintainer scripts stripped, dpkg --root --unpack) as one layer, a second
# layer adding a pyc, a whiteout and a .pth; packed by umoci (gzip layers).
# A docker archive of it (skopeo; uncompressed layers) is timed too.
#
#   bench/image.sh [WORKDIR]    (default: a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release --bin pyvet --example layer_floor
pyvet=$(cd "$target/release" && pwd)/pyvet
floor=$(cd "$target/release/examples" && pwd)/layer_floor
work=${1:-}
if [ -z "$work" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
cd "$work"
if [ ! -d oci ]; then
    mkdir -p debs stripped base/var/lib/dpkg/updates base/var/lib/dpkg/info
    (cd debs && apt-get download -q python3.11-minimal libpython3.11-minimal libpython3.11-stdlib 2>/dev/null)
    for d in debs/*.deb; do
        n=$(basename "$d" .deb)
        dpkg-deb -R "$d" "stripped/$n"
        rm -f "stripped/$n/DEBIAN/"{preinst,postinst,prerm,postrm,triggers}
        dpkg-deb --root-owner-group -b "stripped/$n" "stripped/$n.deb" >/dev/null
    done
    : >base/var/lib/dpkg/status
    dpkg --root "$PWD/base" --force-not-root --force-depends --no-triggers --unpack stripped/*.deb >/dev/null 2>&1
    umoci init --layout oci
    umoci new --image oci:base
    umoci unpack --rootless --image oci:base b1 >/dev/null
    cp -a base/. b1/rootfs/
    umoci repack --image oci:base --history.created_by install b1
    umoci unpack --rootless --image oci:base b2 >/dev/null
    python3.11 -m compileall -q b2/rootfs/usr/lib/python3.11 >/dev/null || true
    rm b2/rootfs/usr/lib/python3.11/bisect.py
    mkdir -p b2/rootfs/usr/local/lib/python3.11/dist-packages
    echo "import os" >b2/rootfs/usr/local/lib/python3.11/dist-packages/evil.pth
    umoci repack --image oci:base --history.created_by "RUN tamper" b2
    umoci unpack --rootless --image oci:base unpacked >/dev/null
    skopeo copy --quiet oci:oci:base docker-archive:docker.tar:pyvet/bench:base
fi
echo "== image: $(du -sh oci | cut -f1) OCI layout, $(du -sh docker.tar | cut -f1) docker archive," \
    "$(find unpacked/rootfs -type f | wc -l) files, $(du -sh unpacked/rootfs | cut -f1) unpacked"
"$pyvet" audit --image oci --format json --fail-on never --no-progress 2>/dev/null | python3 -c '
import json,sys; r=json.load(sys.stdin); s=r["summary"]
print("pyvet checked", s["files_checked"], "files,", s["bytes_hashed"], "bytes hashed,", s["pycs_judged"], "pycs judged,", s["findings"], "findings")'
# The floor of reading an image at all: each layer blob's sha256 and its
# decompressed stream's (the diff_id), with CPython's zlib and hashlib
# (system zlib, OpenSSL), one process per layer, nothing else.
cat >verify-layers.py <<'PY'
import hashlib, json, multiprocessing, sys, zlib
def verify(blob):
    data = open(blob, "rb").read()
    raw = zlib.decompress(data, 47)  # gzip or zlib header
    return hashlib.sha256(data).hexdigest(), hashlib.sha256(raw).hexdigest()
index = json.load(open("oci/index.json"))
manifest = json.load(open("oci/blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
blobs = ["oci/blobs/sha256/" + l["digest"].split(":")[1] for l in manifest["layers"]]
with multiprocessing.Pool(len(blobs)) as pool:
    pool.map(verify, blobs)
PY
blobs=$(python3 -c '
import json
index = json.load(open("oci/index.json"))
manifest = json.load(open("oci/blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
print(" ".join("oci/blobs/sha256/" + l["digest"].split(":")[1] for l in manifest["layers"]))')
hyperfine --warmup 2 --min-runs 10 --output=null \
    -n "layer_floor: inflate + blob sha256 + diff_id sha256, a thread per layer (pyvet's zlib-rs, sha2)" "$floor $blobs" \
    -n "verify every layer (python3 zlib + sha256, one process per layer)" "python3 verify-layers.py" \
    -n "pyvet manifest --image (OCI: every layer read and verified, no checks)" "$pyvet manifest --image oci --format json" \
    -n "pyvet audit --root (umoci unpack)" "$pyvet audit --root unpacked/rootfs --format json --fail-on never --no-progress" \
    -n "pyvet audit --image (OCI, gzip)" "$pyvet audit --image oci --format json --fail-on never --no-progress" \
    -n "pyvet audit --image (docker archive)" "$pyvet audit --image docker.tar --format json --fail-on never --no-progress" \
    -n "umoci unpack + pyvet audit --root" --prepare "rm -rf again" \
    "umoci unpack --rootless --image oci:base again >/dev/null && $pyvet audit --root again/rootfs --format json --fail-on never --no-progress"
