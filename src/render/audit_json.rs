//! `pyvet audit --format json`: the [`Report`] as a `pyvet-audit/1` document.

use crate::audit::Report;

pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("report serialises");
    s.push('\n');
    s
}
