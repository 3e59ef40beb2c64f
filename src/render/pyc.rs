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

/// One line per file; warnings follow the reason after `; `.
pub fn text(reports: &[PycReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let _ = write!(
            s,
            "{}  {}  {}  {}  {}",
            r.path,
            r.verdict.as_str(),
            r.python.as_deref().unwrap_or("-"),
            r.kind.unwrap_or("-"),
            r.reason
        );
        for w in &r.warnings {
            let _ = write!(s, "; warning: {w}");
        }
        s.push('\n');
    }
    s
}
