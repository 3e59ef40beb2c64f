//! File digests: the algorithms package managers record, and streaming
//! hashing of files on disk.
//!
//! `sha2` picks SHA-NI at run time where the CPU has it, so hashing is
//! usually bounded by I/O, not by the hash.

use std::fmt;
use std::io::Read;

use serde::Serialize;

/// Bytes read per call while hashing.
const HASH_BLOCK: usize = 128 * 1024;

/// A digest algorithm, numbered as RPM's `PGPHASHALGO_*` (FILEDIGESTALGO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Algo {
    /// Maps RPM's `FILEDIGESTALGO` value; `None` for algorithms pyvet cannot compute.
    pub fn from_rpm(v: u32) -> Option<Self> {
        Some(match v {
            1 => Algo::Md5,
            2 => Algo::Sha1,
            8 => Algo::Sha256,
            9 => Algo::Sha384,
            10 => Algo::Sha512,
            11 => Algo::Sha224,
            _ => return None,
        })
    }
    /// Every algorithm pyvet can compute.
    pub const ALL: [Algo; 6] = [
        Algo::Md5,
        Algo::Sha1,
        Algo::Sha224,
        Algo::Sha256,
        Algo::Sha384,
        Algo::Sha512,
    ];

    /// The algorithm [`Algo::name`] names (also `hashlib`'s names).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Algo::Md5 => "md5",
            Algo::Sha1 => "sha1",
            Algo::Sha224 => "sha224",
            Algo::Sha256 => "sha256",
            Algo::Sha384 => "sha384",
            Algo::Sha512 => "sha512",
        }
    }
    /// Length of the digest in bytes (at most 64).
    pub fn digest_len(self) -> usize {
        match self {
            Algo::Md5 => 16,
            Algo::Sha1 => 20,
            Algo::Sha224 => 28,
            Algo::Sha256 => 32,
            Algo::Sha384 => 48,
            Algo::Sha512 => 64,
        }
    }
    /// Hashes everything `r` yields, streaming in 128 KiB blocks through a
    /// buffer each thread allocates once (a fresh one per file cost more
    /// than hashing a small file).
    pub fn hash_reader(self, r: &mut dyn Read) -> std::io::Result<Digest> {
        self.hash_stream(r, None, &mut []).map(|(d, _)| d)
    }

    /// [`Algo::hash_reader`] for a file whose length `fstat` gave: a read
    /// that asks for one byte more than should remain and comes back short
    /// exactly at `len` is the end, so the usual extra read that returns 0
    /// is saved (one system call per file). A file that grew is still read
    /// to its end. The first bytes read are copied into `head`; returns the
    /// digest and how many bytes `head` got.
    pub fn hash_stream(
        self,
        r: &mut dyn Read,
        len: Option<u64>,
        head: &mut [u8],
    ) -> std::io::Result<(Digest, usize)> {
        use sha2::Digest as _;
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        fn run<D: sha2::Digest>(
            mut d: D,
            r: &mut dyn Read,
            len: Option<u64>,
            head: &mut [u8],
        ) -> std::io::Result<(DigestBytes, usize)> {
            BUF.with(|cell| {
                let mut buf = cell.borrow_mut();
                if buf.len() < HASH_BLOCK {
                    buf.resize(HASH_BLOCK, 0);
                }
                let (mut done, mut head_len) = (0u64, 0usize);
                loop {
                    let want = match len {
                        Some(l) if l >= done => (l - done + 1).min(buf.len() as u64) as usize,
                        _ => buf.len(),
                    };
                    match r.read(&mut buf[..want]) {
                        Ok(0) => break,
                        Ok(n) => {
                            let chunk = &buf[..n];
                            let take = (head.len() - head_len).min(n);
                            head[head_len..head_len + take].copy_from_slice(&chunk[..take]);
                            head_len += take;
                            d.update(chunk);
                            done += n as u64;
                            if n < want && len == Some(done) {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok((d.finalize().as_slice().into(), head_len))
            })
        }
        let (bytes, n) = match self {
            Algo::Md5 => run(md5::Md5::new(), r, len, head)?,
            Algo::Sha1 => run(sha1::Sha1::new(), r, len, head)?,
            Algo::Sha224 => run(sha2::Sha224::new(), r, len, head)?,
            Algo::Sha256 => run(sha2::Sha256::new(), r, len, head)?,
            Algo::Sha384 => run(sha2::Sha384::new(), r, len, head)?,
            Algo::Sha512 => run(sha2::Sha512::new(), r, len, head)?,
        };
        Ok((Digest { algo: self, bytes }, n))
    }
    pub fn hash_bytes(self, data: &[u8]) -> Digest {
        let mut r = data;
        self.hash_reader(&mut r)
            .expect("reading a slice cannot fail")
    }
}

/// A digest value with its algorithm. Serialises as `"algo:hex"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algo: Algo,
    pub bytes: DigestBytes,
}

/// The longest digest stored inline (SHA-256).
const INLINE_LEN: usize = 32;

/// A digest's bytes; derefs to `[u8]`. Digests up to SHA-256 (nearly every
/// file digest rpm, dpkg, apk and pip record) live inline: a manifest holds
/// one per file, and a separate 32-byte allocation costs 48 bytes of heap
/// plus the pointer. SHA-384 and SHA-512 are boxed.
#[derive(Clone)]
pub struct DigestBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_LEN] },
    Boxed(Box<[u8]>),
}

impl DigestBytes {
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Boxed(b) => b,
        }
    }
}

impl From<&[u8]> for DigestBytes {
    fn from(b: &[u8]) -> Self {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE_LEN => {
                let mut buf = [0; INLINE_LEN];
                buf[..b.len()].copy_from_slice(b);
                DigestBytes(Repr::Inline { len, buf })
            }
            _ => DigestBytes(Repr::Boxed(b.into())),
        }
    }
}

impl From<Vec<u8>> for DigestBytes {
    fn from(v: Vec<u8>) -> Self {
        v.as_slice().into()
    }
}

impl std::ops::Deref for DigestBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for DigestBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for DigestBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for DigestBytes {}

impl std::hash::Hash for DigestBytes {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_slice().hash(h);
    }
}

impl fmt::Debug for DigestBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl Digest {
    /// Parses a hex digest (either case); `None` if it is not hex of the
    /// algorithm's length.
    pub fn from_hex(algo: Algo, hex: &str) -> Option<Self> {
        Self::from_hex_bytes(algo, hex.as_bytes())
    }

    /// [`Digest::from_hex`] on raw bytes, as package databases store them.
    pub fn from_hex_bytes(algo: Algo, hex: &[u8]) -> Option<Self> {
        if hex.len() != algo.digest_len() * 2 {
            return None;
        }
        let mut buf = [0u8; MAX_DIGEST_LEN];
        let mut bad = 0;
        for (out, pair) in buf.iter_mut().zip(hex.chunks_exact(2)) {
            let (hi, lo) = (
                HEX_VALUE[usize::from(pair[0])],
                HEX_VALUE[usize::from(pair[1])],
            );
            bad |= hi | lo;
            *out = hi << 4 | lo;
        }
        // Every non-digit maps to 0x80, so one test covers the whole string.
        (bad & NOT_HEX == 0).then(|| Digest {
            algo,
            bytes: buf[..hex.len() / 2].into(),
        })
    }

    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(self.bytes.len() * 2);
        for &b in self.bytes.iter() {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        s
    }
}

/// The longest digest of any [`Algo`] (SHA-512).
const MAX_DIGEST_LEN: usize = 64;
const NOT_HEX: u8 = 0x80;

/// Each byte's value as a hex digit, or [`NOT_HEX`]. A table because a
/// 300,000-file rpmdb has 20 million hex digits to decode.
const HEX_VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo.name(), self.hex())
    }
}

impl std::str::FromStr for Digest {
    type Err = String;

    /// Parses `"algo:hex"`, as [`Digest`] displays.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, hex) = s
            .split_once(':')
            .ok_or_else(|| format!("digest {s:?} is not algo:hex"))?;
        let algo =
            Algo::from_name(name).ok_or_else(|| format!("unknown digest algorithm {name:?}"))?;
        Digest::from_hex(algo, hex).ok_or_else(|| format!("{name} digest {hex:?} is not valid hex"))
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            Algo::Sha256.hash_bytes(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Algo::Md5.hash_bytes(b"").hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(Algo::Sha224.hash_bytes(b"").bytes.len(), 28);
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let d = Digest::from_hex(Algo::Md5, "d41d8cd98f00b204e9800998ecf8427e").unwrap();
        assert_eq!(d.to_string(), "md5:d41d8cd98f00b204e9800998ecf8427e");
        assert!(Digest::from_hex(Algo::Md5, "zz1d8cd98f00b204e9800998ecf8427e").is_none());
        assert!(Digest::from_hex(Algo::Md5, "d41d").is_none());
        assert!(Digest::from_hex(Algo::Md5, "é41d8cd98f00b204e9800998ecf8427").is_none());
        assert!(Digest::from_hex(Algo::Md5, "+41d8cd98f00b204e9800998ecf8427e").is_none());
        let upper = Digest::from_hex(Algo::Md5, "D41D8CD98F00B204E9800998ECF8427E").unwrap();
        assert_eq!(upper, d);
    }

    #[test]
    fn short_digests_inline_long_ones_boxed_same_behaviour() {
        for algo in Algo::ALL {
            let d = algo.hash_bytes(b"abc");
            assert_eq!(d.bytes.len(), algo.digest_len());
            assert_eq!(Digest::from_hex(algo, &d.hex()), Some(d.clone()));
            let from_vec = DigestBytes::from(d.bytes.to_vec());
            assert_eq!(from_vec, d.bytes);
            let inline = matches!(d.bytes.0, Repr::Inline { .. });
            assert_eq!(inline, algo.digest_len() <= INLINE_LEN, "{}", algo.name());
        }
        assert_eq!(
            Algo::Sha512.hash_bytes(b"abc").hex()[..16],
            *"ddaf35a193617aba"
        );
    }

    /// A file as `read(2)` serves one: up to what is asked, at most `step`
    /// bytes a call; counts the calls.
    struct FileLike<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for FileLike<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_stream_of_known_length_ends_without_the_empty_read() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let want = Algo::Sha256.hash_bytes(&data);
        let mut f = FileLike {
            data: &data,
            step: usize::MAX,
            calls: 0,
        };
        let mut head = [0u8; 16];
        let (d, n) = Algo::Sha256
            .hash_stream(&mut f, Some(data.len() as u64), &mut head)
            .unwrap();
        assert_eq!((d, n, head.as_slice()), (want, 16, &data[..16]));
        // 128 KiB, 128 KiB, then the short read that ends it: no fourth.
        assert_eq!(f.calls, 3);
        let mut empty = FileLike {
            data: &[],
            step: 1,
            calls: 0,
        };
        let (d, n) = Algo::Md5
            .hash_stream(&mut empty, Some(0), &mut head)
            .unwrap();
        assert_eq!((d, n, empty.calls), (Algo::Md5.hash_bytes(b""), 0, 1));
    }

    #[test]
    fn short_reads_before_the_end_and_files_that_grew_are_read_whole() {
        let data = b"0123456789abcdef-tail";
        let want = Algo::Sha1.hash_bytes(data);
        let mut head = [0u8; 4];
        // A reader that hands out a byte at a time is not at its end.
        let mut slow = FileLike {
            data,
            step: 1,
            calls: 0,
        };
        let got = Algo::Sha1.hash_stream(&mut slow, Some(data.len() as u64), &mut head);
        assert_eq!(got.unwrap(), (want.clone(), 4));
        assert_eq!(&head, b"0123");
        // fstat said 5 bytes; the file has more by the time it is read.
        let mut grew = FileLike {
            data,
            step: usize::MAX,
            calls: 0,
        };
        let got = Algo::Sha1.hash_stream(&mut grew, Some(5), &mut []);
        assert_eq!(got.unwrap(), (want, 0));
    }
}
