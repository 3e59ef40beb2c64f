# Proposed addition to .ci/run, after `cargo test --locked` (helper F).
# A fuzzing smoke: every libFuzzer target for 20 s on the stable toolchain.
# Measured from an empty fuzz/target on this 2-core machine: 7 min 50 s
# (2 min 28 s of build, then 15 targets x ~21 s). A crash, leak, OOM or hang
# fails CI; the input that did it is left in fuzz/artifacts/<target>/ and
# printed as a hex dump here.
PYVET_CORPUS="${PYVET_CORPUS:-$PWD/../shared/corpus}" fuzz/run 20 || {
    for f in fuzz/artifacts/*/*; do
        [ -f "$f" ] && { echo "== $f"; head -c 4096 "$f" | od -A x -t x1z | head -64; }
    done
    exit 1
}
