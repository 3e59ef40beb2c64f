//! deb822 stanzas: the `Field: value` text format of dpkg's `status` file,
//! distroless `status.d/*` files and a `.deb`'s `control` file.
//!
//! The syntax rules follow dpkg's own parser (`lib/dpkg/parse.c`,
//! `parse_stanza` and `pkg_parse_field`), so that what dpkg refuses is an
//! error here too:
//! - a field name runs up to whitespace or `:`; it may not be empty, may not
//!   start with `-`, must be followed (after optional blanks) by `:`;
//! - field names are case-insensitive; a field may appear once per stanza;
//!   a one-character field name is refused (dpkg: "user-defined field name
//!   too short");
//! - the value's leading blanks and trailing whitespace are dropped;
//!   continuation lines start with a space or tab;
//! - the last line must end with a newline (dpkg: "missing final newline").
//!
//! One deliberate difference: a line of only spaces and tabs ends a stanza,
//! as Debian Policy §5.1 allows parsers to do. dpkg instead treats such a
//! line inside a stanza as part of the value (with a warning) and refuses it
//! at the start of a stanza ("empty field name"). dpkg's MS-DOS `^Z` handling
//! is not reproduced: the byte is ordinary data here.
//!
//! Values are decoded as UTF-8, with invalid bytes replaced by U+FFFD.

use std::io::{BufRead, Read};

use crate::limits::MAX_LINE;

/// One stanza: fields in file order, continuation lines joined with `\n`.
///
/// A continuation line keeps its text after the first space or tab (inner
/// trailing blanks are kept, as dpkg keeps them); a continuation line of
/// just `.` becomes an empty line. The whole value is trimmed at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    pub fields: Vec<(String, String)>,
    /// 1-based line number where the stanza starts (for error messages).
    pub line: usize,
    /// 1-based line number of each field, parallel to `fields`.
    pub field_lines: Vec<usize>,
}

impl Stanza {
    /// The value of `name`, compared case-insensitively as dpkg does.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|i| self.fields[i].1.as_str())
    }

    /// The line where field `name` starts, or the stanza's first line.
    pub fn line_of(&self, name: &str) -> usize {
        self.position(name)
            .and_then(|i| self.field_lines.get(i).copied())
            .unwrap_or(self.line)
    }

    /// The last line of the stanza (where dpkg reports stanza-level errors).
    pub fn last_line(&self) -> usize {
        self.field_lines.last().copied().unwrap_or(self.line)
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// Why a deb822 document was refused; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Deb822Error {
    /// `len` is where reading stopped: the line is at least that long.
    #[error("line {line}: longer than the limit of {max} bytes")]
    LineTooLong { line: usize, len: usize, max: usize },
    #[error("line {line}: empty field name")]
    EmptyFieldName { line: usize },
    #[error("line {line}: field name '{name}' starts with '-'")]
    FieldNameStartsWithHyphen { line: usize, name: String },
    #[error("line {line}: field name '{name}' must be followed by ':'")]
    MissingColon { line: usize, name: String },
    #[error("line {line}: field name '{name}' is one character; dpkg needs at least 2")]
    FieldNameTooShort { line: usize, name: String },
    #[error("line {line}: duplicate field '{name}' (first at line {first})")]
    DuplicateField {
        line: usize,
        name: String,
        first: usize,
    },
    #[error("line {line}: value of field '{name}' has no final newline")]
    MissingFinalNewline { line: usize, name: String },
}

/// Splits a deb822 document (dpkg `status`, `control`, `status.d/*`) into stanzas.
pub fn parse(bytes: &[u8]) -> Result<Vec<Stanza>, Deb822Error> {
    stanzas(bytes).collect()
}

/// Yields stanzas one by one, so that a caller checking each stanza meets
/// errors in file order, as dpkg does; iteration ends after an error.
pub fn stanzas(bytes: &[u8]) -> Stanzas<&[u8]> {
    read_stanzas(bytes)
}

/// [`stanzas`] from a reader, one line in memory at a time: a 300 MB
/// `status` costs what the caller keeps of it, not its size. A line is
/// read no further than `MAX_LINE + 1` bytes, as the slice reader looks ahead.
/// A read error ends the iteration; [`Stanzas::take_io_error`] has it.
pub fn read_stanzas<R: BufRead>(reader: R) -> Stanzas<R> {
    Stanzas {
        reader,
        buf: Vec::new(),
        line: 0,
        done: false,
        io_error: None,
    }
}

/// Iterator returned by [`stanzas`] and [`read_stanzas`].
pub struct Stanzas<R> {
    reader: R,
    /// The line being read, with its `\n` if it had one.
    buf: Vec<u8>,
    /// Number of the last line read.
    line: usize,
    /// An error was met, or a line too long to read further.
    done: bool,
    io_error: Option<std::io::Error>,
}

impl<R: BufRead> Iterator for Stanzas<R> {
    type Item = Result<Stanza, Deb822Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.next_stanza().transpose();
        self.done |= matches!(result, Some(Err(_)));
        result
    }
}

impl<R: BufRead> Stanzas<R> {
    /// The read error that ended the iteration, if one did.
    pub fn take_io_error(&mut self) -> Option<std::io::Error> {
        self.io_error.take()
    }

    /// Reads the next line into `buf`; whether a `\n` ended it. A line
    /// longer than `MAX_LINE` is cut at `MAX_LINE + 1` bytes and ends the
    /// input (the caller's length check refuses it).
    fn next_line(&mut self) -> Option<bool> {
        self.buf.clear();
        if self.done {
            return None;
        }
        let limit = MAX_LINE as u64 + 1;
        match (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
        {
            Ok(0) => None,
            Ok(_) => {
                let terminated = self.buf.last() == Some(&b'\n');
                if terminated {
                    self.buf.pop();
                } else if self.buf.len() > MAX_LINE {
                    self.done = true;
                }
                Some(terminated)
            }
            Err(e) => {
                self.io_error = Some(e);
                self.done = true;
                None
            }
        }
    }

    fn next_stanza(&mut self) -> Result<Option<Stanza>, Deb822Error> {
        let mut current: Option<Stanza> = None;
        while let Some(terminated) = self.next_line() {
            self.line += 1;
            let (line, text) = (self.line, self.buf.as_slice());
            if text.len() > MAX_LINE {
                return Err(Deb822Error::LineTooLong {
                    line,
                    len: text.len(),
                    max: MAX_LINE,
                });
            }
            if is_blank(text) {
                match current {
                    Some(stanza) => return Ok(Some(finish(stanza))),
                    None => continue,
                }
            }
            let stanza = current.get_or_insert_with(|| Stanza {
                line,
                ..Stanza::default()
            });
            if is_blank_byte(text[0]) && !stanza.fields.is_empty() {
                append_continuation(stanza, text);
            } else {
                add_field(stanza, text, line)?;
            }
            if !terminated {
                let name = stanza
                    .fields
                    .last()
                    .map(|f| f.0.clone())
                    .unwrap_or_default();
                return Err(Deb822Error::MissingFinalNewline { line, name });
            }
        }
        Ok(current.map(finish))
    }
}

/// Trims the end of every value, as dpkg does once a field is complete.
fn finish(mut stanza: Stanza) -> Stanza {
    for (_, value) in &mut stanza.fields {
        let len = trim_end_c_space(value).len();
        value.truncate(len);
    }
    stanza
}

/// One line of input without its `\n`, and whether the `\n` was there.
/// One line of a text database, without its `\n`.
pub(crate) struct Line<'a> {
    pub(crate) text: &'a [u8],
    /// Whether a `\n` ended it (dpkg requires one on every line).
    pub(crate) terminated: bool,
}

/// Splits bytes into lines, never looking more than `MAX_LINE + 1` bytes
/// ahead: a longer line is yielded cut at that length (so the caller's
/// length check refuses it) and ends the iteration, so a 100 MB line costs
/// no more than a 1 MiB one.
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Lines { rest: bytes }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;
    fn next(&mut self) -> Option<Line<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let end = &self.rest[self.rest.len()..];
        let window = &self.rest[..self.rest.len().min(MAX_LINE + 1)];
        let (text, rest, terminated) = match window.iter().position(|&b| b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..], true),
            None if self.rest.len() > MAX_LINE => (window, end, false),
            None => (self.rest, end, false),
        };
        self.rest = rest;
        Some(Line { text, terminated })
    }
}

fn is_blank_byte(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Empty, or only spaces, tabs and a CR (see the module docs).
fn is_blank(text: &[u8]) -> bool {
    text.iter().all(|&b| is_blank_byte(b) || b == b'\r')
}

/// C's `isspace` in the "C" locale, which dpkg uses for field syntax.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn add_field(stanza: &mut Stanza, text: &[u8], line: usize) -> Result<(), Deb822Error> {
    let name_len = text
        .iter()
        .position(|&b| is_c_space(b) || b == b':')
        .unwrap_or(text.len());
    let name = String::from_utf8_lossy(&text[..name_len]).into_owned();
    if name.is_empty() {
        return Err(Deb822Error::EmptyFieldName { line });
    }
    if name.starts_with('-') {
        return Err(Deb822Error::FieldNameStartsWithHyphen { line, name });
    }
    let after_name = &text[name_len..];
    let colon = after_name.iter().position(|&b| !is_c_space(b));
    let value_start = match colon {
        Some(i) if after_name[i] == b':' => &after_name[i + 1..],
        _ => return Err(Deb822Error::MissingColon { line, name }),
    };
    if name.chars().count() < 2 {
        return Err(Deb822Error::FieldNameTooShort { line, name });
    }
    if let Some(i) = stanza.position(&name) {
        let first = stanza.field_lines.get(i).copied().unwrap_or(stanza.line);
        return Err(Deb822Error::DuplicateField { line, name, first });
    }
    let value = String::from_utf8_lossy(value_start);
    let value = value.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    stanza.fields.push((name, value.to_owned()));
    stanza.field_lines.push(line);
    Ok(())
}

fn append_continuation(stanza: &mut Stanza, text: &[u8]) {
    let Some((_, value)) = stanza.fields.last_mut() else {
        return;
    };
    let body = String::from_utf8_lossy(text.get(1..).unwrap_or_default());
    value.push('\n');
    if body != "." {
        value.push_str(&body);
    }
}

fn trim_end_c_space(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii() && is_c_space(c as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Stanza {
        let mut v = parse(text.as_bytes()).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    #[test]
    fn fields_continuations_and_lines() {
        let s = one("Package: foo\nDescription: short\n long\n .\n  indented\nVersion:1.0  \n");
        assert_eq!(s.get("package"), Some("foo"));
        assert_eq!(s.get("Description"), Some("short\nlong\n\n indented"));
        assert_eq!(s.get("VERSION"), Some("1.0"));
        assert_eq!(s.line_of("Version"), 6);
        assert_eq!(s.last_line(), 6);
    }

    #[test]
    fn stanzas_split_on_blank_and_whitespace_only_lines() {
        let v = parse(b"\n\nA1: x\n\nB1: y\n \t\nC1: z\n\n\n").unwrap();
        let names: Vec<_> = v.iter().map(|s| s.fields[0].0.as_str()).collect();
        assert_eq!(names, ["A1", "B1", "C1"]);
        assert_eq!(v.iter().map(|s| s.line).collect::<Vec<_>>(), [3, 5, 7]);
    }

    #[test]
    fn field_name_may_be_followed_by_blanks_before_colon() {
        assert_eq!(one("Foo :bar\n").get("foo"), Some("bar"));
    }

    #[test]
    fn empty_value_then_continuation() {
        let s = one("Conffiles:\n /etc/a 0123\n /etc/b 4567\n");
        assert_eq!(s.get("Conffiles"), Some("\n/etc/a 0123\n/etc/b 4567"));
    }

    #[test]
    fn errors_match_dpkg() {
        let e = |t: &str| parse(t.as_bytes()).unwrap_err();
        assert_eq!(
            e("Package: a\nInsterface to x\n"),
            Deb822Error::MissingColon {
                line: 2,
                name: "Insterface".into()
            }
        );
        assert_eq!(
            e("Package: a\nVersion: 1"),
            Deb822Error::MissingFinalNewline {
                line: 2,
                name: "Version".into()
            }
        );
        assert_eq!(
            e("Package: a\npackage: b\n"),
            Deb822Error::DuplicateField {
                line: 2,
                name: "package".into(),
                first: 1
            }
        );
        assert_eq!(
            e("Package: a\nX: y\n"),
            Deb822Error::FieldNameTooShort {
                line: 2,
                name: "X".into()
            }
        );
        assert_eq!(e(": a\n"), Deb822Error::EmptyFieldName { line: 1 });
        assert_eq!(
            e("-Foo: a\n"),
            Deb822Error::FieldNameStartsWithHyphen {
                line: 1,
                name: "-Foo".into()
            }
        );
        assert_eq!(
            e("Package\n"),
            Deb822Error::MissingColon {
                line: 1,
                name: "Package".into()
            }
        );
    }

    #[test]
    fn continuation_at_stanza_start_is_an_empty_field_name() {
        assert_eq!(
            parse(b" indented: x\n").unwrap_err(),
            Deb822Error::EmptyFieldName { line: 1 }
        );
    }

    #[test]
    fn long_line_is_refused() {
        let mut t = b"Description: ".to_vec();
        t.extend(std::iter::repeat(b'x').take(MAX_LINE));
        t.push(b'\n');
        assert!(matches!(
            parse(&t),
            Err(Deb822Error::LineTooLong { line: 1, .. })
        ));
    }

    #[test]
    fn a_reader_yields_what_the_whole_document_does() {
        let docs: [&[u8]; 5] = [
            b"Package: a\nDescription: x\n y\n .\n\n\nPackage: b\nVersion: 1\n",
            b"Package: a\nVersion: 1",
            b"Package: a\n\nbroken\n\nPackage: c\n",
            b"\n \t\n",
            b"",
        ];
        for doc in docs {
            let whole: Vec<_> = stanzas(doc).collect();
            for capacity in [1, 2, 3, 7, 64] {
                let r = std::io::BufReader::with_capacity(capacity, doc);
                let streamed: Vec<_> = read_stanzas(r).collect();
                assert_eq!(whole, streamed, "{capacity}-byte buffer");
            }
        }
    }

    #[test]
    fn a_long_line_is_read_no_further_than_the_limit() {
        let mut t = b"Description: ".to_vec();
        t.extend(std::iter::repeat(b'x').take(3 * MAX_LINE));
        t.push(b'\n');
        let mut reader = std::io::Cursor::new(&t);
        let first = read_stanzas(&mut reader).next();
        assert!(
            matches!(first, Some(Err(Deb822Error::LineTooLong { line: 1, len, .. })) if len == MAX_LINE + 1)
        );
        assert!(reader.position() <= MAX_LINE as u64 + 1);
    }

    #[test]
    fn empty_input_has_no_stanzas() {
        assert_eq!(parse(b"").unwrap(), vec![]);
        assert_eq!(parse(b"\n \n\n").unwrap(), vec![]);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"Pa: \n\t.-x\r\xff";
        for _ in 0..3000 {
            let len = rng.below(64);
            let _ = parse(&rng.bytes_from(alphabet, len));
        }
    }
}
