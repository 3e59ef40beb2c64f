//! `pyvet audit --format text`: the report for a person at a terminal.
//!
//! A summary first (what was audited and how much), then the findings grouped
//! by severity, errors first, each with its rule, path, package, message and
//! the evidence that matters for its family, each fact once. Findings below
//! the severity asked for (`--show`, default warning) are only counted, per
//! rule, in the summary: a host's thousands of install-time pycs are one
//! line, not a screenful each. Everything that came from the
//! audited tree (paths, package names, messages, `co_filename`, labels) has
//! its control characters escaped, so that a file name cannot forge lines or
//! terminal escapes; paths also have backslashes doubled, so that a name
//! spelling `\xff` does not pass for one holding the byte 0xff. Colour is added only when the caller says stdout is a
//! terminal.

use std::collections::BTreeMap;
use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::pyc::escape_controls as esc;
use crate::audit::finding::text_path;
use crate::audit::finding::{BytecodeFacts, FileFacts, VerifyFacts};
use crate::audit::{Finding, Report, Severity};

/// Width of the evidence labels.
const LABEL: usize = 15;

/// How the text report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// ANSI styles (only for a terminal).
    pub colour: bool,
    /// The lowest severity listed in full; those below are counted per rule.
    pub show: Severity,
    /// The subcommand the report is of, for its title (`audit`, `markers`).
    pub command: &'static str,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            colour: false,
            show: Severity::Warning,
            command: "audit",
        }
    }
}

/// The text report.
pub fn render(report: &Report, opts: TextOptions) -> String {
    let p = Paint(opts.colour);
    let mut s = String::new();
    summary(&mut s, report, opts.command, &p);
    not_listed(&mut s, report, opts.show, &p);
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        if sev >= opts.show {
            section(&mut s, report, sev, &p);
        }
    }
    accepted(&mut s, report, &p);
    errors(&mut s, report, &p);
    closing(&mut s, report);
    s
}

/// Accepted findings, one line each with what accepted them and why.
fn accepted(s: &mut String, r: &Report, p: &Paint) {
    if r.accepted.is_empty() {
        return;
    }
    let title = format!("ACCEPTED ({}, not failing the run)", r.accepted.len());
    let _ = writeln!(s, "\n{}", p.style(Style::new().bold(), &title));
    for a in &r.accepted {
        let f = &a.finding;
        let _ = writeln!(
            s,
            "  {}  {}  ({}: {})",
            f.rule.id,
            text_path(&f.path),
            esc(&a.accepted.by),
            esc(&a.accepted.reason)
        );
    }
}

/// Whether to colour stdout: a terminal, `NO_COLOR` unset, `TERM` not `dumb`.
pub fn colour_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty())
        && std::env::var_os("TERM").map_or(true, |t| t != "dumb")
}

/// Styles text when colour is on.
struct Paint(bool);

impl Paint {
    fn style(&self, style: Style, text: &str) -> String {
        if self.0 {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
}

fn severity_style(sev: Severity) -> Style {
    let colour = match sev {
        Severity::Error => AnsiColor::Red,
        Severity::Warning => AnsiColor::Yellow,
        Severity::Info => AnsiColor::Cyan,
    };
    Style::new().bold().fg_color(Some(colour.into()))
}

fn summary(s: &mut String, r: &Report, command: &str, p: &Paint) {
    let title = format!("pyvet {command} of {}", esc(&r.root));
    let _ = writeln!(s, "{}", p.style(Style::new().bold(), &title));
    let sum = &r.summary;
    line(s, "policy", &esc(&r.policy));
    let trees = if sum.python_trees.is_empty() {
        "none found".to_string()
    } else {
        let pad = format!("\n  {:LABEL$}", "");
        sum.python_trees
            .iter()
            .map(|t| esc(t))
            .collect::<Vec<_>>()
            .join(&pad)
    };
    line(s, "python trees", &trees);
    line(s, "packages", &sum.packages.to_string());
    line(s, "files checked", &sum.files_checked.to_string());
    line(s, "bytes hashed", &bytes(sum.bytes_hashed));
    line(s, "pycs judged", &sum.pycs_judged.to_string());
    line(s, "findings", &finding_counts(r));
}

/// The findings below `show`, one line per severity and rule with the
/// rule's summary, then how to list them.
fn not_listed(s: &mut String, r: &Report, show: Severity, p: &Paint) {
    let mut counts: BTreeMap<(std::cmp::Reverse<Severity>, &str), (usize, &str)> = BTreeMap::new();
    for f in r.findings.iter().filter(|f| f.severity < show) {
        let key = (std::cmp::Reverse(f.severity), f.rule.id);
        counts.entry(key).or_insert((0, f.rule.summary)).0 += 1;
    }
    if counts.is_empty() {
        return;
    }
    let sev_w = counts
        .keys()
        .map(|(sev, _)| sev.0.as_str().len())
        .max()
        .unwrap_or(0);
    let id_w = counts.keys().map(|(_, id)| id.len()).max().unwrap_or(0);
    let n_w = counts
        .values()
        .map(|(n, _)| n.to_string().len())
        .max()
        .unwrap_or(0);
    let mut label = "not listed";
    for ((sev, id), (n, summary)) in &counts {
        let sev = p.style(
            severity_style(sev.0),
            &format!("{:<sev_w$}", sev.0.as_str()),
        );
        line(
            s,
            label,
            &format!("{sev}  {id:<id_w$}  {n:>n_w$}  {summary}"),
        );
        label = "";
    }
    let warnings = counts.keys().any(|(sev, _)| sev.0 == Severity::Warning);
    let infos = counts.keys().any(|(sev, _)| sev.0 == Severity::Info);
    let hint = match (warnings, infos) {
        (true, true) => {
            "run with --show warning to list the warnings, -v (--show info) to list them all"
        }
        (true, false) => "run with --show warning to list them",
        (false, _) => "run with -v (--show info) to list them",
    };
    line(s, "", hint);
}

/// A labelled line: the label padded to its column, and always followed by
/// a space (a longer label, such as `packed-resources`, pushes the value on).
fn line(s: &mut String, label: &str, value: &str) {
    let _ = writeln!(s, "  {label:w$} {value}", w = LABEL - 1);
}

/// `6: 3 error, 2 warning, 1 info` (severities with no finding left out).
fn finding_counts(r: &Report) -> String {
    let per: Vec<String> = [Severity::Error, Severity::Warning, Severity::Info]
        .iter()
        .filter_map(|sev| {
            let n = r.summary.by_severity.get(sev.as_str()).copied()?;
            Some(format!("{n} {}", sev.as_str()))
        })
        .collect();
    if per.is_empty() {
        "none".to_string()
    } else {
        format!("{}: {}", r.summary.findings, per.join(", "))
    }
}

/// `54012345 (51.5 MiB)`: exact, and readable.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{n} ({v:.1} {})", UNITS[unit])
}

fn section(s: &mut String, r: &Report, sev: Severity, p: &Paint) {
    let found: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == sev).collect();
    if found.is_empty() {
        return;
    }
    let title = format!("{} ({})", sev.as_str().to_uppercase(), found.len());
    let _ = writeln!(s, "\n{}", p.style(severity_style(sev), &title));
    for f in found {
        finding(s, f, p);
    }
}

fn finding(s: &mut String, f: &Finding, p: &Paint) {
    let id = p.style(severity_style(f.severity), f.rule.id);
    let _ = writeln!(s, "  {id}  {}", text_path(&f.path));
    let _ = writeln!(s, "    {}", esc(&f.message()));
    if let Some(pkg) = &f.package {
        evidence(
            s,
            "package",
            &format!("{} ({})", esc(&pkg.nevra), pkg.backend),
        );
    }
    if let Some(v) = &f.evidence.verify {
        verify(s, v);
    }
    if let Some(b) = &f.evidence.bytecode {
        bytecode(s, b, &f.message());
    }
    if let Some(file) = &f.evidence.file {
        file_facts(s, file);
    }
    if let Some(l) = &f.evidence.layer {
        let by = l.created_by.as_deref().map(esc);
        let text = match by {
            Some(by) => format!("{} ({by})", esc(&l.digest)),
            None => esc(&l.digest),
        };
        evidence(s, "layer", &text);
    }
    for (k, v) in &f.evidence.extra {
        evidence(s, k, &esc(v));
    }
}

fn evidence(s: &mut String, label: &str, value: &str) {
    let _ = writeln!(s, "    {label:w$} {value}", w = LABEL - 1);
}

/// `rpm -V  S.5....T.  c` then one line per differing attribute.
fn verify(s: &mut String, v: &VerifyFacts) {
    let mut text = esc(&v.result);
    if v.attr != ' ' {
        let _ = write!(text, "  {}", esc(&v.attr.to_string()));
    }
    if !v.unchecked.is_empty() {
        let _ = write!(text, "  (not recorded: {})", v.unchecked.join(", "));
    }
    evidence(s, "rpm -V", &text);
    for attr in &v.differs {
        let (e, a) = (v.expected.get(attr), v.actual.get(attr));
        if e.is_none() && a.is_none() {
            continue;
        }
        let e = e.map(|x| esc(x)).unwrap_or_else(|| "?".into());
        let a = a.map(|x| esc(x)).unwrap_or_else(|| "?".into());
        evidence(s, attr, &format!("expected {e}, found {a}"));
    }
}

/// `pyc  valid (python 3.11, timestamp, opt-level 1): REASON` (the reason
/// left out where the message already ends with it, as the bytecode rules'
/// messages do), the source, and `co_filename` where it is not the source.
fn bytecode(s: &mut String, b: &BytecodeFacts, message: &str) {
    let mut what: Vec<String> = Vec::new();
    if let Some(py) = &b.python {
        what.push(format!("python {}", esc(py)));
    }
    what.extend(b.kind.map(str::to_string));
    if let Some(o) = &b.opt_level {
        what.push(format!("opt-level {}", esc(o)));
    }
    let mut pyc = b.verdict.to_string();
    if !what.is_empty() {
        let _ = write!(pyc, " ({})", what.join(", "));
    }
    if !message.ends_with(b.reason.as_str()) {
        let _ = write!(pyc, ": {}", esc(&b.reason));
    }
    evidence(s, "pyc", &pyc);
    let source = b
        .source
        .as_ref()
        .map(|src| crate::audit::finding::display_path(src));
    if let (Some(src), Some(path)) = (&source, &b.source) {
        let mut text = text_path(path);
        if let Some(pkg) = &b.source_package {
            let _ = write!(text, " ({})", esc(pkg));
        }
        if b.co_filename.as_deref() == Some(src.as_str()) {
            text.push_str(", co_filename the same");
        }
        evidence(s, "source", &text);
    }
    if let Some(c) = b
        .co_filename
        .as_ref()
        .filter(|c| source.as_ref() != Some(*c))
    {
        evidence(s, "co_filename", &esc(c));
    }
    if let Some(secs) = b.after_install_secs {
        evidence(s, "written", &after_install(secs));
    }
}

fn after_install(secs: i64) -> String {
    if secs >= 0 {
        format!("{secs} s after the package was installed")
    } else {
        format!("{} s before the package was installed", secs.unsigned_abs())
    }
}

fn file_facts(s: &mut String, f: &FileFacts) {
    let kind = if f.kind == "file" { "regular" } else { f.kind };
    let text = format!(
        "{kind}, mode {:04o}, uid {}, gid {}, size {}, mtime {}",
        f.mode & 0o7777,
        f.uid,
        f.gid,
        f.size,
        utc(f.mtime)
    );
    evidence(s, "file", &text);
    if let Some(label) = &f.selinux {
        evidence(s, "selinux", &esc(label));
    }
}

fn errors(s: &mut String, r: &Report, p: &Paint) {
    if r.errors.is_empty() {
        return;
    }
    let title = format!("INPUT ERRORS ({})", r.errors.len());
    let _ = writeln!(s, "\n{}", p.style(severity_style(Severity::Error), &title));
    for e in &r.errors {
        let _ = writeln!(s, "  {}", esc(e));
    }
}

fn closing(s: &mut String, r: &Report) {
    if r.findings.is_empty() {
        let _ = writeln!(s, "\nNo findings.");
        return;
    }
    let _ = writeln!(
        s,
        "\nWhat a rule means: pyvet audit --explain RULE (e.g. --explain {}; `all` lists every rule)",
        r.findings[0].rule.id
    );
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC, proleptic
/// Gregorian calendar), the seconds in parentheses beside it.
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z ({secs})",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Day number (0 = 1970-01-01) to year, month, day. Counts in 400-year eras
/// of 146 097 days whose years start on 1 March, so that the leap day is the
/// last day of a year.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..365, from 1 March
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z (0)");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z (951782400)");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z (1700000000)");
        assert_eq!(utc(-1), "1969-12-31T23:59:59Z (-1)");
        assert_eq!(utc(4_107_542_400), "2100-03-01T00:00:00Z (4107542400)");
    }

    #[test]
    fn byte_counts_are_exact_and_readable() {
        assert_eq!(bytes(0), "0");
        assert_eq!(bytes(1023), "1023");
        assert_eq!(bytes(1536), "1536 (1.5 KiB)");
        assert_eq!(bytes(54_012_345), "54012345 (51.5 MiB)");
    }

    #[test]
    fn colour_only_when_asked() {
        let s = Style::new().bold();
        assert_eq!(Paint(false).style(s, "x"), "x");
        assert_eq!(Paint(true).style(s, "x"), "\u{1b}[1mx\u{1b}[0m");
    }
}
