//! `__pysource__`: the metadata file of the option 2 variant that keeps a
//! directory's sources elsewhere than in `__pysources__`.
//!
//! The proposal leaves its form open; pyvet accepts one simple form,
//! documented in pyvet-policy(5):
//!
//! ```text
//! # comments and blank lines are ignored
//! directory = /usr/share/python3.11-sources/json
//! ```
//!
//! UTF-8 text, at most [`MAX_LEN`] bytes, `key = value` lines. `directory`
//! (required, once) is an absolute path inside the root holding `X.py` (or
//! `X.py.gz`, `.xz`, `.bz2`) for every legacy-location `X.pyc` beside the
//! file; it has no `.` or `..` component. No other key exists.

use std::path::{Component, Path, PathBuf};

/// Largest `__pysource__` accepted.
pub const MAX_LEN: usize = 4096;

/// A parsed `__pysource__`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PySource {
    /// Where the sources are (a path inside the root).
    pub directory: PathBuf,
}

/// Why a `__pysource__` does not parse; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PySourceError {
    #[error("{0} bytes, more than {MAX_LEN}")]
    TooLong(usize),
    #[error("not UTF-8")]
    NotUtf8,
    #[error("line {line}: not `key = value`")]
    Syntax { line: usize },
    #[error("line {line}: unknown key {key:?} (only `directory`)")]
    UnknownKey { line: usize, key: String },
    #[error("line {line}: `directory` given twice")]
    Duplicate { line: usize },
    #[error("line {line}: {path:?} is not an absolute path without . or .. components")]
    BadPath { line: usize, path: String },
    #[error("no `directory` line")]
    NoDirectory,
}

impl PySource {
    pub fn parse(bytes: &[u8]) -> Result<PySource, PySourceError> {
        if bytes.len() > MAX_LEN {
            return Err(PySourceError::TooLong(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| PySourceError::NotUtf8)?;
        let mut directory = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (k, v) = l.split_once('=').ok_or(PySourceError::Syntax { line })?;
            let (k, v) = (k.trim(), v.trim());
            if k != "directory" {
                return Err(PySourceError::UnknownKey {
                    line,
                    key: k.into(),
                });
            }
            if directory.is_some() {
                return Err(PySourceError::Duplicate { line });
            }
            directory = Some(clean_absolute(v).ok_or_else(|| PySourceError::BadPath {
                line,
                path: v.into(),
            })?);
        }
        Ok(PySource {
            directory: directory.ok_or(PySourceError::NoDirectory)?,
        })
    }
}

/// `v` as a path when it is absolute, without `.` or `..` components,
/// NUL or doubled separators (the form of every path pyvet is told about
/// inside a root: here, and a policy's `pysource-prefix`).
pub fn clean_absolute(v: &str) -> Option<PathBuf> {
    let p = Path::new(v);
    let clean = p.is_absolute()
        && !v.contains('\0')
        && !v.contains("//")
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    clean.then(|| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_form() {
        let p =
            PySource::parse(b"# sources of json\n\n directory = /usr/share/src/json \n").unwrap();
        assert_eq!(p.directory, Path::new("/usr/share/src/json"));
    }

    #[test]
    fn everything_else_is_refused() {
        let e = |b: &[u8]| PySource::parse(b).unwrap_err().to_string();
        assert_eq!(e(b""), "no `directory` line");
        assert_eq!(e(b"directory /x\n"), "line 1: not `key = value`");
        assert_eq!(
            e(b"directory = /a\nprefix = /b\n"),
            "line 2: unknown key \"prefix\" (only `directory`)"
        );
        assert_eq!(
            e(b"directory = /a\ndirectory = /b\n"),
            "line 2: `directory` given twice"
        );
        assert_eq!(
            e(b"directory = ../x\n"),
            "line 1: \"../x\" is not an absolute path without . or .. components"
        );
        assert_eq!(
            e(b"directory = /a/../etc\n"),
            "line 1: \"/a/../etc\" is not an absolute path without . or .. components"
        );
        assert_eq!(e(b"directory = /\xff\n"), "not UTF-8");
        assert_eq!(e(&[b'#'; 5000]), "5000 bytes, more than 4096");
    }
}
