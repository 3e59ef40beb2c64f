//! Line-at-a-time reading for the text databases (apk `installed`, pip
//! `RECORD` and `METADATA`).
//!
//! A line longer than [`MAX_LINE`] is refused before it is held whole: the
//! readers here never buffer more than the cap plus one byte, so a hostile
//! file with a 100 MB line costs about 1 MiB of memory, not 100 MB.

use std::io::{BufRead, Read};

use crate::error::{Error, FormatError};
use crate::limits::MAX_LINE;

/// A line over [`MAX_LINE`] bytes (not counting its `\n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong {
    pub line: usize,
    pub max: usize,
}

/// A parser that consumes a text document one line at a time.
pub(crate) trait LineSink {
    type Error: From<TooLong>;
    /// `number` is 1-based; `text` still ends with its `\n` when it had one.
    fn line(&mut self, number: usize, text: &[u8]) -> Result<(), Self::Error>;
}

/// Why feeding a file to a [`LineSink`] stopped.
#[derive(Debug)]
pub(crate) enum FeedError<E> {
    Io(std::io::Error),
    Parse(E),
}

impl<E: Into<FormatError>> FeedError<E> {
    /// Turns the failure into the crate error for `path`.
    pub fn at(self, path: &std::path::Path) -> Error {
        match self {
            FeedError::Io(e) => Error::io(path, e),
            FeedError::Parse(e) => Error::format(path, e),
        }
    }
}

/// Feeds every line of an in-memory document to `sink`.
pub(crate) fn feed_slice<S: LineSink>(bytes: &[u8], sink: &mut S) -> Result<(), S::Error> {
    let mut rest = bytes;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        // Only the first MAX_LINE + 1 bytes are searched: a longer line is an error anyway.
        let window = &rest[..rest.len().min(MAX_LINE + 1)];
        let end = window
            .iter()
            .position(|&b| b == b'\n')
            .map_or(window.len(), |i| i + 1);
        let (text, tail) = rest.split_at(end);
        check_len(number, text)?;
        sink.line(number, text)?;
        rest = tail;
    }
    Ok(())
}

/// Feeds every line read from `r` to `sink`, holding one line at a time.
pub(crate) fn feed_reader<S: LineSink>(
    mut r: impl BufRead,
    sink: &mut S,
) -> Result<(), FeedError<S::Error>> {
    let mut buf = Vec::new();
    let mut number = 0;
    while next_line(&mut r, &mut buf).map_err(FeedError::Io)? {
        number += 1;
        check_len(number, &buf).map_err(|e| FeedError::Parse(e.into()))?;
        sink.line(number, &buf).map_err(FeedError::Parse)?;
    }
    Ok(())
}

/// Reads the next line (with its `\n`, if any) into `buf`, replacing what was
/// there; `false` at the end of the input. Reads at most `MAX_LINE + 1` bytes,
/// so an over-long line comes back cut and [`check_len`] refuses it.
pub(crate) fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
    Ok(n > 0)
}

/// The line without its `\n`.
pub(crate) fn content(text: &[u8]) -> &[u8] {
    text.strip_suffix(b"\n").unwrap_or(text)
}

/// Refuses a line whose content is longer than [`MAX_LINE`].
pub(crate) fn check_len(number: usize, text: &[u8]) -> Result<(), TooLong> {
    if content(text).len() > MAX_LINE {
        return Err(TooLong {
            line: number,
            max: MAX_LINE,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(usize, Vec<u8>)>);

    #[derive(Debug, PartialEq)]
    struct Long(TooLong);
    impl From<TooLong> for Long {
        fn from(t: TooLong) -> Self {
            Long(t)
        }
    }

    impl LineSink for Collect {
        type Error = Long;
        fn line(&mut self, number: usize, text: &[u8]) -> Result<(), Long> {
            self.0.push((number, text.to_vec()));
            Ok(())
        }
    }

    type Lines = Result<Vec<(usize, Vec<u8>)>, Long>;

    fn both(bytes: &[u8]) -> (Lines, Lines) {
        let mut a = Collect::default();
        let ra = feed_slice(bytes, &mut a).map(|()| a.0);
        let mut b = Collect::default();
        let rb = match feed_reader(bytes, &mut b) {
            Ok(()) => Ok(b.0),
            Err(FeedError::Parse(e)) => Err(e),
            Err(FeedError::Io(e)) => panic!("reading a slice failed: {e}"),
        };
        (ra, rb)
    }

    #[test]
    fn slice_and_reader_split_the_same_way() {
        let (a, b) = both(b"a\n\nb\r\nlast");
        let want = vec![
            (1, b"a\n".to_vec()),
            (2, b"\n".to_vec()),
            (3, b"b\r\n".to_vec()),
            (4, b"last".to_vec()),
        ];
        assert_eq!(a.unwrap(), want);
        assert_eq!(b.unwrap(), want);
    }

    #[test]
    fn line_of_exactly_the_cap_passes_one_more_fails() {
        let mut ok = vec![b'x'; MAX_LINE];
        ok.push(b'\n');
        ok.extend_from_slice(b"next\n");
        let (a, b) = both(&ok);
        assert_eq!(a.unwrap().len(), 2);
        assert_eq!(b.unwrap().len(), 2);

        let mut long = b"first\n".to_vec();
        long.extend(vec![b'x'; MAX_LINE + 1]);
        let (a, b) = both(&long);
        let want = Long(TooLong {
            line: 2,
            max: MAX_LINE,
        });
        assert_eq!(a.unwrap_err(), want);
        assert_eq!(b.unwrap_err(), want);
    }
}
