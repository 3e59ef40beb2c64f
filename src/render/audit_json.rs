//! `pyvet audit --format json`: the [`Report`] as a `pyvet-audit/1` document.

use crate::audit::Report;

/// Streams the report to `out` (a report of 200,000 findings is never
/// held as one string beside the findings themselves).
pub fn write(report: &Report, out: &mut dyn std::io::Write) -> crate::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    let r = serde_json::to_writer_pretty(&mut w, report)
        .map_err(std::io::Error::from)
        .and_then(|()| std::io::Write::write_all(&mut w, b"\n"))
        .and_then(|()| std::io::Write::flush(&mut w));
    super::written(r)
}

/// The report as one string, as [`write()`] streams it.
pub fn render(report: &Report) -> String {
    let mut buf = Vec::new();
    write(report, &mut buf).expect("writing to memory cannot fail");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}
