//! `pyvet pyc` output: one line per file (`path  verdict  python  kind  reason`)
//! or the `pyvet-pyc/1` JSON document.

use std::fmt::Write;

use serde::Serialize;

use crate::bytecode::judge::PycReport;

/// Schema name of the JSON document.
pub const PYC_SCHEMA: &str = "pyvet-pyc/1";

#[derive(Serialize)]
struct PycDoc<'a> {
    schema: &'static str,
    files: &'a [PycReport],
}

/// The `pyvet-pyc/1` JSON document.
pub fn json(reports: &[PycReport]) -> String {
    let doc = PycDoc {
        schema: PYC_SCHEMA,
        files: reports,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("pyc report serialises");
    s.push('\n');
    s
}

/// One line per file; warnings follow the reason after `; `. Control
/// characters (a file name may hold a newline) are escaped, so that a
/// file cannot forge lines of the report.
pub fn text(reports: &[PycReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let mut line = format!(
            "{}  {}  {}  {}  {}",
            r.path,
            r.verdict.as_str(),
            r.python.as_deref().unwrap_or("-"),
            r.kind.unwrap_or("-"),
            r.reason
        );
        for w in &r.warnings {
            let _ = write!(line, "; warning: {w}");
        }
        s.push_str(&escape_controls(&line));
        s.push('\n');
    }
    s
}

/// Replaces control characters with their Rust escapes (`\n`, `\u{1b}`).
pub(crate) fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_lines() {
        assert_eq!(escape_controls("a\nb\tc\u{1b}d é"), "a\\nb\\tc\\u{1b}d é");
    }
}
