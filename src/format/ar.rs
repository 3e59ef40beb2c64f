//! Unix `ar` archives, the outer container of a `.deb`.
//!
//! Only what dpkg-deb writes and reads is accepted: the `!<arch>\n` magic,
//! then members with a 60-byte header (name, decimal mtime/uid/gid, octal
//! mode, decimal size, `` `\n ``), data padded to an even offset. GNU-style
//! names end in `/`, which is dropped. Long-name tables (`//`, `#1/N`) are
//! not interpreted: dpkg-deb does not use them, so such members keep their
//! raw names and simply match nothing.

use std::ops::Range;

/// The global header every archive starts with.
pub const MAGIC: &[u8; 8] = b"!<arch>\n";
/// Size of one member header.
pub const HEADER_LEN: usize = 60;
/// The two bytes that end every member header.
const HEADER_END: &[u8; 2] = b"`\n";

/// Field positions inside a member header.
const NAME: Range<usize> = 0..16;
const MTIME: Range<usize> = 16..28;
const UID: Range<usize> = 28..34;
const GID: Range<usize> = 34..40;
const MODE: Range<usize> = 40..48;
const SIZE: Range<usize> = 48..58;
const END: Range<usize> = 58..60;

/// One archive member: its name and where its data lies in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub data: std::ops::Range<usize>,
}

/// Why an `ar` archive was refused; `offset` is where the member header starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArError {
    #[error("bad magic: expected \"!<arch>\\n\", found {found:?}")]
    BadMagic { found: Vec<u8> },
    #[error(
        "member header at offset {offset}: {available} bytes left, a header needs {HEADER_LEN}"
    )]
    TruncatedHeader { offset: usize, available: usize },
    #[error("member header at offset {offset}: ends with {found:?}, expected \"`\\n\"")]
    BadHeaderEnd { offset: usize, found: Vec<u8> },
    #[error("member header at offset {offset}: {field} field {value:?} is not a {radix} number")]
    BadNumber {
        offset: usize,
        field: &'static str,
        value: String,
        radix: &'static str,
    },
    #[error("member '{name}' at offset {offset}: {size} data bytes declared, {available} present")]
    TruncatedData {
        offset: usize,
        name: String,
        size: u64,
        available: usize,
    },
    #[error("member header at offset {offset}: padding byte is {found:#04x}, expected '\\n'")]
    BadPadding { offset: usize, found: u8 },
}

/// Lists the members of an `ar` archive held in memory.
pub fn parse(bytes: &[u8]) -> Result<Vec<Member>, ArError> {
    let magic = bytes.get(..MAGIC.len()).unwrap_or(bytes);
    if magic != MAGIC {
        return Err(ArError::BadMagic {
            found: magic.to_vec(),
        });
    }
    let mut members = Vec::new();
    let mut offset = MAGIC.len();
    while offset < bytes.len() {
        let (member, next) = parse_member(bytes, offset)?;
        members.push(member);
        offset = next;
    }
    Ok(members)
}

/// Parses the member whose header starts at `offset`; returns it and the
/// offset of the next header.
fn parse_member(bytes: &[u8], offset: usize) -> Result<(Member, usize), ArError> {
    let rest = &bytes[offset..];
    let header = rest.get(..HEADER_LEN).ok_or(ArError::TruncatedHeader {
        offset,
        available: rest.len(),
    })?;
    if &header[END] != HEADER_END {
        return Err(ArError::BadHeaderEnd {
            offset,
            found: header[END].to_vec(),
        });
    }
    for (field, range) in [("mtime", MTIME), ("uid", UID), ("gid", GID)] {
        number(&header[range], 10, offset, field, true)?;
    }
    number(&header[MODE], 8, offset, "mode", true)?;
    let size = number(&header[SIZE], 10, offset, "size", false)?;
    let name = member_name(&header[NAME]);
    let start = offset + HEADER_LEN;
    let available = bytes.len() - start;
    let end = usize::try_from(size)
        .ok()
        .filter(|&s| s <= available)
        .map(|s| start + s)
        .ok_or_else(|| ArError::TruncatedData {
            offset,
            name: name.clone(),
            size,
            available,
        })?;
    let next = match bytes.get(end) {
        _ if size % 2 == 0 => end,
        // A missing pad byte at the very end is tolerated, as GNU ar does.
        None => end,
        Some(b'\n') => end + 1,
        Some(&found) => return Err(ArError::BadPadding { offset, found }),
    };
    Ok((
        Member {
            name,
            data: start..end,
        },
        next,
    ))
}

/// A header name without its space padding and GNU `/` terminator.
fn member_name(field: &[u8]) -> String {
    let name = String::from_utf8_lossy(field);
    let name = name.trim_end_matches(' ');
    match name.strip_suffix('/') {
        // `/` and `//` are the GNU symbol and long-name tables: keep them.
        Some(stripped) if !stripped.is_empty() && !stripped.ends_with('/') => stripped.to_owned(),
        _ => name.to_owned(),
    }
}

/// Parses a space-padded ASCII number; `blank_ok` allows an all-space field.
fn number(
    field: &[u8],
    radix: u32,
    offset: usize,
    name: &'static str,
    blank_ok: bool,
) -> Result<u64, ArError> {
    let digits_end = field.iter().position(|&b| b == b' ').unwrap_or(field.len());
    let (digits, padding) = field.split_at(digits_end);
    let parsed = std::str::from_utf8(digits)
        .ok()
        .filter(|_| padding.iter().all(|&b| b == b' '))
        .and_then(|d| match d {
            "" if blank_ok => Some(0),
            _ if d.bytes().all(|b| (b as char).is_digit(radix)) => {
                u64::from_str_radix(d, radix).ok()
            }
            _ => None,
        });
    parsed.ok_or_else(|| ArError::BadNumber {
        offset,
        field: name,
        value: String::from_utf8_lossy(field).into_owned(),
        radix: if radix == 8 { "octal" } else { "decimal" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: usize) -> Vec<u8> {
        let h = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name, 0, 0, 0, 100644, size
        );
        assert_eq!(h.len(), HEADER_LEN);
        h.into_bytes()
    }

    fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut a = MAGIC.to_vec();
        for (name, data) in members {
            a.extend(header(name, data.len()));
            a.extend(*data);
            if data.len() % 2 == 1 {
                a.push(b'\n');
            }
        }
        a
    }

    #[test]
    fn members_with_padding_and_gnu_names() {
        let a = archive(&[("debian-binary", b"2.0\n"), ("odd/", b"abc"), ("x", b"")]);
        let m = parse(&a).unwrap();
        let names: Vec<_> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["debian-binary", "odd", "x"]);
        assert_eq!(&a[m[0].data.clone()], b"2.0\n");
        assert_eq!(&a[m[1].data.clone()], b"abc");
        assert!(m[2].data.is_empty());
    }

    #[test]
    fn missing_final_pad_byte_is_tolerated() {
        let mut a = archive(&[("a", b"abc")]);
        a.pop();
        assert_eq!(parse(&a).unwrap()[0].data.len(), 3);
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert_eq!(
            parse(b"!<arch>").unwrap_err(),
            ArError::BadMagic {
                found: b"!<arch>".to_vec()
            }
        );
        let mut a = archive(&[("a", b"abcd")]);
        a.truncate(a.len() - 1);
        assert_eq!(
            parse(&a).unwrap_err(),
            ArError::TruncatedData {
                offset: 8,
                name: "a".into(),
                size: 4,
                available: 3
            }
        );
        let mut a = archive(&[("a", b"ab")]);
        a[8 + 48] = b'x';
        assert!(matches!(
            parse(&a).unwrap_err(),
            ArError::BadNumber { field: "size", .. }
        ));
        let mut a = archive(&[("a", b"ab")]);
        a[8 + 40] = b'9';
        assert!(matches!(
            parse(&a).unwrap_err(),
            ArError::BadNumber { field: "mode", .. }
        ));
        let mut a = archive(&[("a", b"ab")]);
        a[8 + 59] = b'x';
        assert!(matches!(
            parse(&a).unwrap_err(),
            ArError::BadHeaderEnd { .. }
        ));
        let mut a = archive(&[("a", b"abc"), ("b", b"")]);
        a[8 + 60 + 3] = b'Z';
        assert_eq!(
            parse(&a).unwrap_err(),
            ArError::BadPadding {
                offset: 8,
                found: b'Z'
            }
        );
        let a = [MAGIC.as_slice(), b"short"].concat();
        assert_eq!(
            parse(&a).unwrap_err(),
            ArError::TruncatedHeader {
                offset: 8,
                available: 5
            }
        );
    }

    #[test]
    fn huge_size_is_an_error_not_an_overflow() {
        let mut a = MAGIC.to_vec();
        a.extend(header("a", 0));
        a[8 + 48..8 + 58].copy_from_slice(b"9999999999");
        assert!(matches!(
            parse(&a).unwrap_err(),
            ArError::TruncatedData { .. }
        ));
    }

    #[test]
    fn truncations_and_random_bytes_never_panic() {
        let a = archive(&[("debian-binary", b"2.0\n"), ("data.tar", b"xyz")]);
        for cut in 0..a.len() {
            let _ = parse(&a[..cut]);
        }
        let mut rng = crate::testutil::XorShift::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let mut b = a.clone();
            rng.mutate(&mut b, 4);
            let _ = parse(&b);
        }
    }
}
