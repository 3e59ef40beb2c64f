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
    /// Length of the digest in bytes.
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
        use sha2::Digest as _;
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        fn run<D: sha2::Digest>(mut d: D, r: &mut dyn Read) -> std::io::Result<Vec<u8>> {
            BUF.with(|cell| {
                let mut buf = cell.borrow_mut();
                if buf.len() < HASH_BLOCK {
                    buf.resize(HASH_BLOCK, 0);
                }
                loop {
                    match r.read(&mut buf[..]) {
                        Ok(0) => return Ok(d.finalize().to_vec()),
                        Ok(n) => d.update(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            })
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algo: Algo,
    pub bytes: Vec<u8>,
}

impl Digest {
    /// Parses a hex digest; `None` if it is not hex of the algorithm's length.
    pub fn from_hex(algo: Algo, hex: &str) -> Option<Self> {
        if hex.len() != algo.digest_len() * 2 {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Digest { algo, bytes })
    }
    pub fn hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

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
        let algo = [
            Algo::Md5,
            Algo::Sha1,
            Algo::Sha224,
            Algo::Sha256,
            Algo::Sha384,
            Algo::Sha512,
        ]
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| format!("unknown digest algorithm {name:?}"))?;
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
    }
}
