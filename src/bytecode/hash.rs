//! `importlib.util.source_hash` in Rust: the hash PEP 552 hash-based pycs
//! carry in their header.
//!
//! CPython's `_imp.source_hash(key, source)` hashes the raw source bytes
//! with SipHash keyed with `k0 = key`, `k1 = 0`, where `key` is the 4-byte
//! magic number read as a little-endian integer, and returns the 64-bit
//! result as 8 little-endian bytes. 3.7–3.10 use SipHash-2-4; 3.11 switched
//! `_Py_KeyedHash` to SipHash-1-3.

use std::hash::Hasher;

use siphasher::sip::{SipHasher13, SipHasher24};

use crate::bytecode::magic::PyVersion;

/// First version whose `_Py_KeyedHash` is SipHash-1-3.
const SIPHASH13_SINCE: PyVersion = PyVersion::new(3, 11);

/// The source hash CPython `version` writes into a pyc with `magic`.
pub fn source_hash(magic: [u8; 4], version: PyVersion, source: &[u8]) -> [u8; 8] {
    let k0 = u64::from(u32::from_le_bytes(magic));
    let value = if version >= SIPHASH13_SINCE {
        let mut h = SipHasher13::new_with_keys(k0, 0);
        h.write(source);
        h.finish()
    } else {
        let mut h = SipHasher24::new_with_keys(k0, 0);
        h.write(source);
        h.finish()
    };
    value.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values printed by the real interpreters:
    // python3.X -c 'import importlib.util as u; print(u.source_hash(b"x = 1\n").hex())'
    #[test]
    fn known_values() {
        let m310 = [0x6f, 0x0d, 0x0d, 0x0a];
        let m311 = [0xa7, 0x0d, 0x0d, 0x0a];
        assert_eq!(
            hex(&source_hash(m310, PyVersion::new(3, 10), b"x = 1\n")),
            KNOWN_310
        );
        assert_eq!(
            hex(&source_hash(m311, PyVersion::new(3, 11), b"x = 1\n")),
            KNOWN_311
        );
    }

    const KNOWN_310: &str = "d94aade28c8cbebf";
    const KNOWN_311: &str = "4c0372aa93f75252";

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
