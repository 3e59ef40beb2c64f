//! Helpers for the unit tests: robustness loops and small manifests.

/// xorshift64: a small deterministic PRNG, so any failing input replays.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `len` bytes drawn from `alphabet`.
    pub(crate) fn bytes_from(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }

    /// Overwrites `n` random positions of `buf` (non-empty) with random bytes.
    pub(crate) fn mutate(&mut self, buf: &mut [u8], n: usize) {
        for _ in 0..n {
            let i = self.below(buf.len());
            buf[i] = (self.next_u64() >> 32) as u8;
        }
    }
}

/// A package of `backend` listing `paths` as regular files, nothing else
/// known: what the owner-index tests need.
pub(crate) fn package(
    name: &str,
    backend: crate::manifest::Backend,
    paths: &[&str],
) -> crate::manifest::Package {
    use crate::manifest::{FileEntry, FileKind, Package, Source};
    Package {
        name: name.into(),
        epoch: None,
        version: "1".into(),
        release: None,
        arch: None,
        source: Source {
            backend,
            file: "/x".into(),
        },
        install_time: None,
        files: paths
            .iter()
            .map(|p| FileEntry::new(*p, FileKind::File))
            .collect(),
    }
}
