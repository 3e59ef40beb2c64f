# Proposed addition to .ci/run, after `cargo test --locked` (helper F).
# A fuzzing smoke: every libFuzzer target for 20 s on the stable toolchain.
# Cold, this costs about 3 min of build plus 15 x ~21 s of fuzzing (measured:
# see fuzz/README.md); a crash, leak, OOM or hang fails CI, and the input that
# did it is left in fuzz/artifacts/<target>/ and printed as a hex dump here.
PYVET_CORPUS="${PYVET_CORPUS:-$PWD/../shared/corpus}" fuzz/run 20 || {
    for f in fuzz/artifacts/*/*; do
        [ -f "$f" ] && { echo "== $f"; head -c 4096 "$f" | od -A x -t x1z | head -64; }
    done
    exit 1
}
