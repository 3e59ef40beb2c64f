//! `etc/passwd` and `etc/group`: user and group names of the audited root.
//!
//! `rpm --root R -V` resolves the user and group names its header records
//! inside the root (it chroots before calling `getpwnam`/`getgrnam`), so a
//! name means what the root's own databases say, never the host's. This
//! module parses both files the way glibc's `files` NSS module reads them:
//! one `name:password:id:...` entry per line, leading blanks and `#`
//! comments skipped, and a line that does not parse ignored rather than
//! fatal (glibc skips it too). The first entry of a name or an id wins, as
//! `getpwnam` and `getpwuid` return the first match.
//!
//! The files may be hostile: their size, line count and line length are
//! bounded and exceeding a bound is a typed error.

use std::collections::HashMap;

/// Largest `passwd`/`group` file accepted (a big directory-backed host has a few MiB).
pub const MAX_FILE: usize = 16 << 20;
/// Most lines read.
pub const MAX_LINES: usize = 1 << 20;
/// Longest line accepted (a group with thousands of members stays far below).
pub const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswdError {
    #[error("{size} bytes, more than the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("more than {max} lines")]
    TooManyLines { max: usize },
    #[error("line {line}: longer than {max} bytes")]
    LineTooLong { line: usize, max: usize },
}

/// Names and ids of one file, both ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdDb {
    by_name: HashMap<Vec<u8>, u32>,
    by_id: HashMap<u32, Vec<u8>>,
    /// Lines that were neither blank, comments, nor parseable entries.
    pub skipped: usize,
}

impl IdDb {
    /// Parses a whole `passwd` or `group` file (the id is the third field
    /// of both).
    pub fn parse(data: &[u8]) -> Result<IdDb, PasswdError> {
        if data.len() > MAX_FILE {
            return Err(PasswdError::TooLarge {
                size: data.len(),
                max: MAX_FILE,
            });
        }
        let mut db = IdDb::default();
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            if i >= MAX_LINES {
                return Err(PasswdError::TooManyLines { max: MAX_LINES });
            }
            if line.len() > MAX_LINE {
                return Err(PasswdError::LineTooLong {
                    line: i + 1,
                    max: MAX_LINE,
                });
            }
            match parse_line(line) {
                Line::Blank => {}
                Line::Bad => db.skipped += 1,
                Line::Entry(name, id) => db.insert(name, id),
            }
        }
        Ok(db)
    }

    fn insert(&mut self, name: &[u8], id: u32) {
        self.by_name.entry(name.to_vec()).or_insert(id);
        self.by_id.entry(id).or_insert_with(|| name.to_vec());
    }

    /// The id of a name (`getpwnam`/`getgrnam`).
    pub fn id(&self, name: &[u8]) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// The name of an id (`getpwuid`/`getgrgid`).
    pub fn name(&self, id: u32) -> Option<&[u8]> {
        self.by_id.get(&id).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

enum Line<'a> {
    Blank,
    Bad,
    Entry(&'a [u8], u32),
}

fn parse_line(line: &[u8]) -> Line<'_> {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let line = &line[start..];
    if line.is_empty() || line[0] == b'#' {
        return Line::Blank;
    }
    let mut fields = line.split(|&b| b == b':');
    let (Some(name), Some(_password), Some(id)) = (fields.next(), fields.next(), fields.next())
    else {
        return Line::Bad;
    };
    match (name.is_empty(), parse_id(id)) {
        (false, Some(id)) => Line::Entry(name, id),
        _ => Line::Bad,
    }
}

/// A decimal id that fits 32 bits; glibc rejects anything else on the line.
fn parse_id(field: &[u8]) -> Option<u32> {
    let field = field.trim_ascii_end();
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_host_files_parse() {
        for path in ["/etc/passwd", "/etc/group"] {
            let data = std::fs::read(path).unwrap();
            let db = IdDb::parse(&data).unwrap();
            assert_eq!(db.id(b"root"), Some(0), "{path}");
            assert_eq!(db.name(0), Some(&b"root"[..]), "{path}");
        }
    }

    #[test]
    fn first_entry_wins_and_bad_lines_are_skipped() {
        let data = b"# comment\n\n  alice:x:1001:1001::/home/alice:/bin/sh\n\
                     alice:x:2002:2002::/:/bin/sh\nbob:x:1001:1:::\nbroken\n\
                     neg:x:-1:0:::\nbig:x:4294967296:0:::\n:x:5:5:::\n";
        let db = IdDb::parse(data).unwrap();
        assert_eq!(db.id(b"alice"), Some(1001));
        assert_eq!(db.id(b"bob"), Some(1001));
        assert_eq!(db.name(1001), Some(&b"alice"[..]));
        assert_eq!(db.id(b"neg"), None);
        assert_eq!(db.id(b"big"), None);
        assert_eq!(db.skipped, 4);
        assert_eq!(db.len(), 2);
    }

    #[test]
    fn group_lines_with_members() {
        let db = IdDb::parse(b"wheel:x:10:alice,bob\nstaff::50:\n").unwrap();
        assert_eq!((db.id(b"wheel"), db.id(b"staff")), (Some(10), Some(50)));
    }

    #[test]
    fn bounds_are_typed_errors() {
        let long = vec![b'a'; MAX_LINE + 1];
        assert_eq!(
            IdDb::parse(&long),
            Err(PasswdError::LineTooLong {
                line: 1,
                max: MAX_LINE
            })
        );
        let many = vec![b'\n'; MAX_LINES + 1];
        assert_eq!(
            IdDb::parse(&many),
            Err(PasswdError::TooManyLines { max: MAX_LINES })
        );
        let huge = vec![b'#'; MAX_FILE + 1];
        assert!(matches!(
            IdDb::parse(&huge),
            Err(PasswdError::TooLarge { .. })
        ));
    }
}
