//! File digests: the algorithms package managers record, and streaming
//! hashing of files on disk.
//!
//! `sha2` picks SHA-NI at run time where the CPU has it, so hashing is
//! usually bounded by I/O, not by the hash.

use std::fmt;
use std::io::Read;

use serde::Serialize;

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
    /// Hashes everything `r` yields, streaming in 128 KiB blocks.
    pub fn hash_reader(self, r: &mut dyn Read) -> std::io::Result<Digest> {
        use sha2::Digest as _;
        fn run<D: sha2::Digest>(mut d: D, r: &mut dyn Read) -> std::io::Result<Box<[u8]>> {
            let mut buf = vec![0u8; 128 * 1024];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => return Ok(d.finalize().to_vec().into_boxed_slice()),
                    Ok(n) => d.update(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let bytes = match self {
            Algo::Md5 => run(md5::Md5::new(), r)?,
            Algo::Sha1 => run(sha1::Sha1::new(), r)?,
            Algo::Sha224 => run(sha2::Sha224::new(), r)?,
            Algo::Sha256 => run(sha2::Sha256::new(), r)?,
            Algo::Sha384 => run(sha2::Sha384::new(), r)?,
            Algo::Sha512 => run(sha2::Sha512::new(), r)?,
        };
        Ok(Digest { algo: self, bytes })
    }
    pub fn hash_bytes(self, data: &[u8]) -> Digest {
        let mut r = data;
        self.hash_reader(&mut r)
            .expect("reading a slice cannot fail")
    }
}

/// A digest value with its algorithm. Serialises as `"algo:hex"`.
///
/// `bytes` is a boxed slice, not a `Vec`: a manifest holds one digest per
/// file, and the spare capacity word adds up over a few hundred thousand.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algo: Algo,
    pub bytes: Box<[u8]>,
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
            let (hi, lo) = (HEX_VALUE[usize::from(pair[0])], HEX_VALUE[usize::from(pair[1])]);
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
}
