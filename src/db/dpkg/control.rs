//! What dpkg requires of one package stanza, beyond deb822 syntax: valid
//! package and architecture names, `Version` strings, the three `Status`
//! words, dependency-field syntax, `Conffiles` lines and the consistency
//! checks dpkg makes once a stanza is read (`lib/dpkg/fields.c`,
//! `parsehelp.c`, `parse.c`). What dpkg only warns about is accepted
//! silently: a missing `Description`/`Maintainer`/`Architecture`, an
//! architecture name with odd characters, a version that does not start with
//! a digit, obsolete `<`/`>` relations.
//!
//! Not reproduced: the obsolete `Revision` field, field-name nicknames
//! (`Recommended`, `Optional`, `Class`, ...), and `Triggers-*` name syntax.

use std::path::PathBuf;

use super::DpkgError;
use crate::format::deb822::Stanza;

/// Which document a stanza came from; it decides how `Status` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StanzaKind {
    /// `/var/lib/dpkg/status` or an `updates/` entry: no `Status` means not installed.
    Status,
    /// A distroless `status.d/<pkg>` file: no `Status` means installed,
    /// unless the stanza has no `Version` either (a bare `Package:` stanza,
    /// which dpkg reads as not installed).
    StatusD,
    /// A `.deb`'s `control` file: `Status` is ignored.
    Control,
}

/// The third `Status` word, in dpkg's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PkgStatus {
    NotInstalled,
    ConfigFiles,
    HalfInstalled,
    Unpacked,
    HalfConfigured,
    TriggersAwaited,
    TriggersPending,
    Installed,
}

impl PkgStatus {
    const ALL: [(PkgStatus, &'static str); 8] = [
        (PkgStatus::NotInstalled, "not-installed"),
        (PkgStatus::ConfigFiles, "config-files"),
        (PkgStatus::HalfInstalled, "half-installed"),
        (PkgStatus::Unpacked, "unpacked"),
        (PkgStatus::HalfConfigured, "half-configured"),
        (PkgStatus::TriggersAwaited, "triggers-awaited"),
        (PkgStatus::TriggersPending, "triggers-pending"),
        (PkgStatus::Installed, "installed"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, n)| n)
    }

    /// Whether the package's files are (or may partly be) on disk.
    ///
    /// From `half-installed` on, dpkg has started unpacking (or has not
    /// finished removing) and keeps the `.list`; `config-files` has only
    /// conffiles left and `not-installed` nothing.
    pub fn files_on_disk(self) -> bool {
        self >= PkgStatus::HalfInstalled
    }
}

/// A Debian version split the way dpkg splits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebVersion {
    /// `None` when absent or `0`: dpkg treats both alike and prints neither.
    pub epoch: Option<u32>,
    pub upstream: String,
    /// The part after the last `-`, if any.
    pub revision: Option<String>,
}

/// One conffile as the `Conffiles` field records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conffile {
    pub path: PathBuf,
    /// MD5 hex of the installed original, or `newconffile`.
    pub hash: String,
    /// No longer shipped by the installed version (not in its file list).
    pub obsolete: bool,
    pub remove_on_upgrade: bool,
}

/// What pyvet keeps of a checked stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub version: DebVersion,
    pub arch: Option<String>,
    pub status: PkgStatus,
    pub multi_arch_same: bool,
    pub conffiles: Vec<Conffile>,
    /// The stanza's first line.
    pub line: usize,
    pub last_line: usize,
}

/// Fields whose value is a list of package relations.
const RELATION_FIELDS: [&str; 9] = [
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
    "Replaces",
    "Provides",
];
/// Relation fields where `|` alternatives are refused.
const NO_ALTERNATIVES: [&str; 4] = ["Breaks", "Conflicts", "Provides", "Replaces"];
const WANT_WORDS: [&str; 5] = ["unknown", "install", "hold", "deinstall", "purge"];
const EFLAG_WORDS: [&str; 2] = ["ok", "reinstreq"];
const BOOLEAN_WORDS: [&str; 2] = ["no", "yes"];
const MULTIARCH_WORDS: [&str; 4] = ["no", "same", "allowed", "foreign"];
/// Characters allowed in a package name besides ASCII letters and digits.
const NAME_EXTRA_CHARS: &str = "-+._";
/// Characters allowed in an architecture name besides ASCII letters and digits.
const ARCH_EXTRA_CHARS: &str = "-";
/// Conffiles flags that may follow the hash, last word first.
const CONFFILE_REMOVE_ON_UPGRADE: &str = "remove-on-upgrade";
const CONFFILE_OBSOLETE: &str = "obsolete";

/// Checks one stanza as dpkg would and extracts what pyvet needs.
pub fn check_stanza(stanza: &Stanza, kind: StanzaKind) -> Result<Record, DpkgError> {
    let mut state = State::new(stanza, kind);
    for (i, (field, value)) in stanza.fields.iter().enumerate() {
        let line = stanza.field_lines.get(i).copied().unwrap_or(stanza.line);
        state.field(field, value, line)?;
    }
    state.verify()
}

/// Refuses several installed instances of one package unless all are
/// `Multi-Arch: same` with distinct architectures (dpkg: "multiple
/// non-coinstallable package instances present"). The error is the one a
/// pass in file order meets first: the earliest instance clashing with one
/// before it, and the first of those. Records are grouped by sorting their
/// indices, not in a map of vectors: a `status` of 500,000 packages then
/// costs 4 bytes a package here.
pub fn check_instances(records: &[Record]) -> Result<(), DpkgError> {
    let mut order: Vec<u32> = (0..records.len() as u32)
        .filter(|&i| records[i as usize].status != PkgStatus::NotInstalled)
        .collect();
    // Stable: within a name, file order.
    order.sort_by(|&a, &b| records[a as usize].name.cmp(&records[b as usize].name));
    let first = order
        .chunk_by(|&a, &b| records[a as usize].name == records[b as usize].name)
        .filter_map(|group| first_clash(records, group))
        .min_by_key(|(r, _)| r.line);
    match first {
        Some((r, other)) => Err(DpkgError::NonCoinstallable {
            line: r.line,
            package: r.name.clone(),
            other: other.line,
        }),
        None => Ok(()),
    }
}

/// In one name's instances (file order), the first that clashes with one
/// before it, and the first one it clashes with.
fn first_clash<'r>(records: &'r [Record], group: &[u32]) -> Option<(&'r Record, &'r Record)> {
    let at = |i: &u32| &records[*i as usize];
    group.iter().enumerate().find_map(|(k, i)| {
        let r = at(i);
        group[..k]
            .iter()
            .map(at)
            .find(|o| !(r.multi_arch_same && o.multi_arch_same) || o.arch == r.arch)
            .map(|o| (r, o))
    })
}

struct State<'a> {
    kind: StanzaKind,
    stanza: &'a Stanza,
    name: Option<String>,
    version: Option<DebVersion>,
    arch: Option<String>,
    status: Option<PkgStatus>,
    multi_arch_same: bool,
    conffiles: Vec<Conffile>,
    config_version: bool,
    triggers_pending: bool,
    triggers_awaited: bool,
}

impl<'a> State<'a> {
    fn new(stanza: &'a Stanza, kind: StanzaKind) -> Self {
        State {
            kind,
            stanza,
            name: None,
            version: None,
            arch: None,
            status: None,
            multi_arch_same: false,
            conffiles: Vec::new(),
            config_version: false,
            triggers_pending: false,
            triggers_awaited: false,
        }
    }

    /// The package name for messages, as far as it is known.
    fn package(&self) -> String {
        self.name.clone().unwrap_or_default()
    }

    fn field(&mut self, field: &str, value: &str, line: usize) -> Result<(), DpkgError> {
        let is = |n: &str| field.eq_ignore_ascii_case(n);
        if is("Package") {
            self.name = Some(check_name(value, "Package", line)?);
        } else if is("Version") {
            self.version = Some(self.version_value("Version", value, line)?);
        } else if is("Config-Version") {
            self.version_value("Config-Version", value, line)?;
            self.config_version = self.kind != StanzaKind::Control;
        } else if is("Architecture") {
            self.arch = Some(value.to_owned()).filter(|a| !a.is_empty());
        } else if is("Status") {
            if self.kind != StanzaKind::Control {
                self.status = Some(self.status_value(value, line)?);
            }
        } else if is("Essential") {
            self.word("Essential", value, &BOOLEAN_WORDS, "yes/no", line)?;
        } else if is("Multi-Arch") {
            self.multi_arch_same = self.word(
                "Multi-Arch",
                value,
                &MULTIARCH_WORDS,
                "no/same/allowed/foreign",
                line,
            )? == "same";
        } else if is("Conffiles") {
            self.conffiles = self.conffiles_value(value, line)?;
        } else if is("Triggers-Pending") {
            self.triggers_pending = !value.trim().is_empty();
        } else if is("Triggers-Awaited") {
            self.triggers_awaited = !value.trim().is_empty();
        } else if let Some(canon) = RELATION_FIELDS.iter().find(|f| is(f)) {
            check_relations(value, canon).map_err(|why| DpkgError::InvalidRelation {
                line,
                package: self.package(),
                field: canon,
                why,
            })?;
        }
        Ok(())
    }

    fn version_value(
        &self,
        field: &'static str,
        value: &str,
        line: usize,
    ) -> Result<DebVersion, DpkgError> {
        parse_version(value).map_err(|why| DpkgError::InvalidVersion {
            line,
            package: self.package(),
            field,
            value: value.to_owned(),
            why,
        })
    }

    fn status_value(&self, value: &str, line: usize) -> Result<PkgStatus, DpkgError> {
        let err = |word: &'static str, why: &'static str| DpkgError::InvalidStatus {
            line,
            package: self.package(),
            word,
            value: value.to_owned(),
            why,
        };
        let status_names = PkgStatus::ALL.map(|(_, n)| n);
        let rest = next_word(value, &WANT_WORDS).map_err(|why| err("first (want)", why))?;
        let rest = next_word(rest.1, &EFLAG_WORDS).map_err(|why| err("second (error)", why))?;
        let (status, rest) =
            next_word(rest.1, &status_names).map_err(|why| err("third (status)", why))?;
        if !rest.is_empty() {
            return Err(err("third (status)", "has trailing junk"));
        }
        Ok(PkgStatus::ALL[status].0)
    }

    fn word(
        &self,
        field: &'static str,
        value: &str,
        words: &'static [&'static str],
        expected: &'static str,
        line: usize,
    ) -> Result<&'static str, DpkgError> {
        if value.is_empty() {
            return Ok("");
        }
        match next_word(value, words) {
            Ok((i, "")) => Ok(words[i]),
            _ => Err(DpkgError::InvalidWord {
                line,
                package: self.package(),
                field,
                value: value.to_owned(),
                expected,
            }),
        }
    }

    fn conffiles_value(&self, value: &str, line: usize) -> Result<Vec<Conffile>, DpkgError> {
        let mut lines = value.split('\n');
        if let Some(first) = lines.next().filter(|f| !f.is_empty()) {
            return Err(self.conffile_error(first, line, "line does not start with a space"));
        }
        lines
            .filter(|l| !l.is_empty())
            .map(|l| parse_conffile(l).map_err(|why| self.conffile_error(l, line, why)))
            .collect()
    }

    fn conffile_error(&self, text: &str, line: usize, why: &'static str) -> DpkgError {
        DpkgError::InvalidConffile {
            line,
            package: self.package(),
            text: text.to_owned(),
            why,
        }
    }

    fn status(&self) -> PkgStatus {
        match (self.status, self.kind) {
            (Some(s), _) => s,
            (None, StanzaKind::Status) => PkgStatus::NotInstalled,
            (None, StanzaKind::StatusD) if self.version.is_none() => PkgStatus::NotInstalled,
            (None, _) => PkgStatus::Installed,
        }
    }

    fn verify(self) -> Result<Record, DpkgError> {
        let stanza = self.stanza;
        let last_line = stanza.last_line();
        let status = self.status();
        let Some(name) = self.name.clone() else {
            return Err(DpkgError::MissingField {
                line: last_line,
                package: String::new(),
                field: "Package",
            });
        };
        let needs_version = !matches!(status, PkgStatus::NotInstalled | PkgStatus::HalfInstalled)
            || self.kind == StanzaKind::Control;
        if needs_version && self.version.is_none() {
            return Err(DpkgError::MissingField {
                line: last_line,
                package: name,
                field: "Version",
            });
        }
        self.verify_status(status, &name, last_line)?;
        Ok(Record {
            name,
            version: self.version.unwrap_or_default(),
            arch: self.arch,
            status,
            multi_arch_same: self.multi_arch_same,
            conffiles: self.conffiles,
            line: stanza.line,
            last_line,
        })
    }

    /// dpkg's checks of `Config-Version` and triggers against the status.
    fn verify_status(&self, status: PkgStatus, name: &str, line: usize) -> Result<(), DpkgError> {
        let why = if self.config_version
            && matches!(status, PkgStatus::Installed | PkgStatus::NotInstalled)
        {
            Some("has a Config-Version field")
        } else if self.triggers_awaited
            && (status <= PkgStatus::ConfigFiles || status >= PkgStatus::TriggersPending)
        {
            Some("has triggers awaited")
        } else if status == PkgStatus::TriggersAwaited && !self.triggers_awaited {
            Some("has no triggers awaited")
        } else if self.triggers_pending
            && !matches!(
                status,
                PkgStatus::TriggersPending | PkgStatus::TriggersAwaited
            )
        {
            Some("has triggers pending")
        } else if status == PkgStatus::TriggersPending && !self.triggers_pending {
            Some("has no triggers pending")
        } else {
            None
        };
        match why {
            Some(why) => Err(DpkgError::InconsistentStatus {
                line,
                package: name.to_owned(),
                status: status.name(),
                why,
            }),
            None => Ok(()),
        }
    }
}

/// Matches a word at the start of `s` the way dpkg does (a case-insensitive
/// prefix), then skips blanks; returns the word's index and the rest.
fn next_word<'s>(s: &'s str, words: &[&str]) -> Result<(usize, &'s str), &'static str> {
    if s.is_empty() {
        return Err("is missing a value");
    }
    let i = words
        .iter()
        .position(|w| {
            s.get(..w.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(w))
        })
        .ok_or("has an invalid value")?;
    let rest = s.get(words[i].len()..).unwrap_or_default();
    Ok((
        i,
        rest.trim_start_matches(|c: char| c.is_ascii_whitespace()),
    ))
}

/// Checks a package name (dpkg's `pkg_name_is_illegal`) and lowercases it.
pub fn check_name(value: &str, field: &'static str, line: usize) -> Result<String, DpkgError> {
    name_or_empty_problem(value, NAME_EXTRA_CHARS)
        .map(|why| {
            Err(DpkgError::InvalidName {
                line,
                field,
                name: value.to_owned(),
                why,
            })
        })
        .unwrap_or_else(|| Ok(value.to_ascii_lowercase()))
}

/// Why `name` is not a valid package (or, with `-` only, architecture) name.
fn name_problem(name: &str, extra: &str) -> Option<String> {
    let first = name.chars().next()?;
    if !first.is_ascii_alphanumeric() {
        return Some("must start with an alphanumeric character".into());
    }
    name.chars()
        .find(|&c| !c.is_ascii_alphanumeric() && !extra.contains(c))
        .map(|c| format!("character '{c}' not allowed (only letters, digits and '{extra}')"))
}

/// Whether `arch` is a valid architecture name (dpkg only warns about an
/// invalid one in `Architecture`, but never names `info/` files after it).
pub fn is_valid_arch(arch: &str) -> bool {
    name_or_empty_problem(arch, ARCH_EXTRA_CHARS).is_none()
}

fn name_or_empty_problem(name: &str, extra: &str) -> Option<String> {
    if name.is_empty() {
        return Some("may not be empty".into());
    }
    name_problem(name, extra)
}

/// Parses a version like dpkg's `parseversion`: hard errors only; what dpkg
/// merely warns about (non-digit start, odd characters) is accepted.
pub fn parse_version(value: &str) -> Result<DebVersion, &'static str> {
    let s = value.trim_matches(|c| c == ' ' || c == '\t');
    if s.is_empty() {
        return Err("version string is empty");
    }
    if s.contains([' ', '\t']) {
        return Err("version string has embedded spaces");
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => (parse_epoch(e)?, rest),
        None => (0, s),
    };
    if s.contains(':') && rest.is_empty() {
        return Err("nothing after colon in version number");
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err("revision number is empty"),
        Some((u, r)) => (u, Some(r.to_owned())),
        None => (rest, None),
    };
    if upstream.is_empty() {
        return Err("version number is empty");
    }
    Ok(DebVersion {
        epoch: Some(epoch).filter(|&e| e != 0),
        upstream: upstream.to_owned(),
        revision,
    })
}

/// dpkg reads the epoch with `strtol` and wants it to end at the colon,
/// within `0..=INT_MAX`.
fn parse_epoch(e: &str) -> Result<u32, &'static str> {
    let (negative, digits) = match e.as_bytes().first() {
        Some(b'-') => (true, &e[1..]),
        Some(b'+') => (false, &e[1..]),
        _ => (false, e),
    };
    if digits.is_empty() || !digits.as_bytes()[0].is_ascii_digit() {
        return Err("epoch in version is empty");
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("epoch in version is not number");
    }
    let significant = digits.trim_start_matches('0');
    let value = match significant.parse::<u32>() {
        _ if significant.is_empty() => 0,
        Ok(v) if v <= i32::MAX as u32 => v,
        _ if negative => return Err("epoch in version is negative"),
        _ => return Err("epoch in version is too big"),
    };
    if negative && value != 0 {
        return Err("epoch in version is negative");
    }
    Ok(value)
}

/// Checks the syntax of a relation field (dpkg's `f_dependency`).
pub fn check_relations(value: &str, field: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let mut p = Cursor::new(value);
    loop {
        loop {
            let name = check_relation_target(&mut p)?;
            match p.peek() {
                None | Some(b',') => break,
                Some(b'|') if NO_ALTERNATIVES.contains(&field) => {
                    return Err("alternatives ('|') are not allowed in this field".into())
                }
                Some(b'|') => p.bump_and_skip_space(),
                Some(_) => return Err(format!("syntax error after reference to package '{name}'")),
            }
        }
        if p.peek().is_none() {
            return Ok(());
        }
        p.bump_and_skip_space();
    }
}

/// One `name[:arch] [(op version)]` with the whitespace after it.
fn check_relation_target(p: &mut Cursor) -> Result<String, String> {
    let name = p.take_while(|b| !is_space(b) && !b":(,|".contains(&b));
    if name.is_empty() {
        return Err("missing package name, or garbage where package name expected".into());
    }
    if let Some(why) = name_problem(name, NAME_EXTRA_CHARS) {
        return Err(format!("invalid package name '{name}': {why}"));
    }
    if p.peek() == Some(b':') {
        p.bump();
        let arch = p.take_while(|b| !is_space(b) && !b"(,|".contains(&b));
        if let Some(why) = name_or_empty_problem(arch, ARCH_EXTRA_CHARS) {
            return Err(format!(
                "reference to '{name}': invalid architecture name '{arch}': {why}"
            ));
        }
    }
    p.skip_space();
    if p.peek() == Some(b'(') {
        p.bump_and_skip_space();
        check_version_restriction(p, name)?;
    }
    Ok(name.to_owned())
}

/// The inside of `(op version)`, and the `)` and blanks after it.
fn check_version_restriction(p: &mut Cursor, name: &str) -> Result<(), String> {
    match (p.peek(), p.peek_at(1)) {
        (Some(a @ (b'<' | b'>')), Some(b @ (b'<' | b'>'))) if a != b => {
            return Err(format!(
                "reference to '{name}': bad version relationship {}{}",
                a as char, b as char
            ))
        }
        (Some(b'<' | b'>'), Some(b'=' | b'<' | b'>')) => p.bump_n(2),
        (Some(b'<' | b'>' | b'='), _) => p.bump(),
        _ => {}
    }
    p.skip_space();
    let version = p.take_while(|b| !is_space(b) && b != b')' && b != b'(');
    p.skip_space();
    match p.peek() {
        None => return Err(format!("reference to '{name}': version unterminated")),
        Some(b')') => {}
        Some(c) => {
            return Err(format!(
                "reference to '{name}': version contains '{}' instead of ')'",
                c as char
            ))
        }
    }
    parse_version(version)
        .map_err(|why| format!("reference to '{name}': version '{version}': {why}"))?;
    p.bump_and_skip_space();
    Ok(())
}

fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

/// A byte cursor over a field value (dpkg walks relations byte by byte).
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn peek_at(&self, n: usize) -> Option<u8> {
        self.s.as_bytes().get(self.pos + n).copied()
    }
    fn bump(&mut self) {
        self.bump_n(1);
    }
    fn bump_n(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.s.len());
    }
    fn skip_space(&mut self) {
        self.take_while(is_space);
    }
    fn bump_and_skip_space(&mut self) {
        self.bump();
        self.skip_space();
    }
    /// Advances over bytes matching `f` (only ever ASCII stop bytes, so the
    /// slice always ends on a character boundary).
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }
}

/// Parses one `Conffiles` line (without its leading space): `path hash
/// [obsolete] [remove-on-upgrade]`; the path may itself contain spaces.
fn parse_conffile(line: &str) -> Result<Conffile, &'static str> {
    let (mut rest, mut word) = last_word(line)?;
    let remove_on_upgrade = word == CONFFILE_REMOVE_ON_UPGRADE;
    if remove_on_upgrade {
        (rest, word) = last_word(rest)?;
    }
    let obsolete = word == CONFFILE_OBSOLETE;
    if obsolete {
        (rest, word) = last_word(rest)?;
    }
    let mut name = rest;
    loop {
        let stripped = name.trim_start_matches('/');
        match stripped.strip_prefix("./") {
            Some(s) => name = s,
            None => {
                name = stripped;
                break;
            }
        }
    }
    if name.is_empty() {
        return Err("root or null directory is listed as a conffile");
    }
    Ok(Conffile {
        path: PathBuf::from(format!("/{name}")),
        hash: word.to_owned(),
        obsolete,
        remove_on_upgrade,
    })
}

/// Splits off the last space-separated word as dpkg's `conffvalue_lastword`
/// does: the part before must be at least two bytes, the word non-empty.
fn last_word(s: &str) -> Result<(&str, &str), &'static str> {
    match s.rfind(' ') {
        Some(i) if i >= 2 && i + 1 < s.len() => Ok((&s[..i], &s[i + 1..])),
        _ => Err("malformed line"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::deb822;

    fn record(text: &str, kind: StanzaKind) -> Result<Record, DpkgError> {
        let stanzas = deb822::parse(text.as_bytes()).unwrap();
        check_stanza(&stanzas[0], kind)
    }

    #[test]
    fn versions_split_like_dpkg() {
        let v = parse_version("1:2.3-4-5ubuntu1").unwrap();
        assert_eq!(v.epoch, Some(1));
        assert_eq!(v.upstream, "2.3-4");
        assert_eq!(v.revision.as_deref(), Some("5ubuntu1"));
        let v = parse_version("0:1.0").unwrap();
        assert_eq!(
            (v.epoch, v.upstream.as_str(), v.revision),
            (None, "1.0", None)
        );
        assert_eq!(parse_version("1:2:3").unwrap().upstream, "2:3");
        assert!(parse_version("a_1").is_ok(), "dpkg only warns");
        for (bad, why) in [
            ("", "version string is empty"),
            ("1 0", "version string has embedded spaces"),
            (":1.0", "epoch in version is empty"),
            ("a:1.0", "epoch in version is empty"),
            ("1a:1.0", "epoch in version is not number"),
            ("-1:1.0", "epoch in version is negative"),
            ("9999999999:1.0", "epoch in version is too big"),
            ("2:", "nothing after colon in version number"),
            ("1.0-", "revision number is empty"),
            ("-1", "version number is empty"),
            ("2:-1", "version number is empty"),
        ] {
            assert_eq!(parse_version(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn relations_accept_what_dpkg_accepts() {
        for ok in [
            "a (>= 1.0), b (<< 2) | c (= 3), d (> 1), e(<=1)",
            "a (>> 1.0 ), b ( << 2)",
            "a:i386, b:any (>= 1)",
            "A",
            "a\n , b",
            "a (1.0)",
        ] {
            assert_eq!(check_relations(ok, "Depends"), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn relations_refuse_what_dpkg_refuses() {
        for (bad, why) in [
            ("a [i386]", "syntax error after reference to package 'a'"),
            (
                "a,",
                "missing package name, or garbage where package name expected",
            ),
            (
                "a, , b",
                "missing package name, or garbage where package name expected",
            ),
            (
                "-a",
                "invalid package name '-a': must start with an alphanumeric character",
            ),
            (
                "a (<> 1.0)",
                "reference to 'a': bad version relationship <>",
            ),
            ("a (>= 1.0", "reference to 'a': version unterminated"),
            (
                "a (>= 1 0)",
                "reference to 'a': version contains '0' instead of ')'",
            ),
            (
                "a (>= :1)",
                "reference to 'a': version ':1': epoch in version is empty",
            ),
            (
                "a (>= )",
                "reference to 'a': version '': version string is empty",
            ),
            ("a (>= 1) b", "syntax error after reference to package 'a'"),
        ] {
            assert_eq!(
                check_relations(bad, "Depends"),
                Err(why.to_owned()),
                "{bad:?}"
            );
        }
        assert!(check_relations("a:x_y", "Depends")
            .unwrap_err()
            .contains("invalid architecture name 'x_y'"));
        assert_eq!(
            check_relations("a | b", "Conflicts"),
            Err("alternatives ('|') are not allowed in this field".into())
        );
    }

    #[test]
    fn status_words() {
        let r = record(
            "Package: Foo\nStatus: Install  OK   installed\nVersion: 1\n",
            StanzaKind::Status,
        )
        .unwrap();
        assert_eq!((r.name.as_str(), r.status), ("foo", PkgStatus::Installed));
        let e = record(
            "Package: a\nStatus: install user installed\nVersion: 1\n",
            StanzaKind::Status,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            DpkgError::InvalidStatus {
                line: 2,
                word: "second (error)",
                ..
            }
        ));
        let e = record("Package: a\nStatus: install ok\n", StanzaKind::Status).unwrap_err();
        assert!(matches!(
            e,
            DpkgError::InvalidStatus {
                why: "is missing a value",
                ..
            }
        ));
        let e = record(
            "Package: a\nStatus: install ok installed x\nVersion: 1\n",
            StanzaKind::Status,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            DpkgError::InvalidStatus {
                why: "has trailing junk",
                ..
            }
        ));
    }

    #[test]
    fn missing_status_depends_on_the_document() {
        let text = "Package: a\nVersion: 1\n";
        assert_eq!(
            record(text, StanzaKind::Status).unwrap().status,
            PkgStatus::NotInstalled
        );
        assert_eq!(
            record(text, StanzaKind::StatusD).unwrap().status,
            PkgStatus::Installed
        );
        assert_eq!(
            record("Package: a\n", StanzaKind::StatusD).unwrap().status,
            PkgStatus::NotInstalled
        );
    }

    #[test]
    fn version_is_required_unless_not_or_half_installed() {
        let e = record(
            "Package: a\nStatus: install ok installed\n",
            StanzaKind::Status,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            DpkgError::MissingField {
                field: "Version",
                ..
            }
        ));
        let r = record(
            "Package: a\nStatus: install ok half-installed\n",
            StanzaKind::Status,
        )
        .unwrap();
        assert_eq!(r.version, DebVersion::default());
    }

    #[test]
    fn trigger_and_config_version_consistency() {
        for text in [
            "Package: a\nStatus: install ok triggers-pending\nVersion: 1\n",
            "Package: a\nStatus: install ok installed\nVersion: 1\nTriggers-Pending: x\n",
            "Package: a\nStatus: install ok installed\nVersion: 1\nConfig-Version: 1\n",
            "Package: a\nStatus: install ok triggers-awaited\nVersion: 1\n",
        ] {
            assert!(
                matches!(
                    record(text, StanzaKind::Status),
                    Err(DpkgError::InconsistentStatus { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn conffiles_lines() {
        let r = record(
            "Package: a\nStatus: install ok installed\nVersion: 1\nConffiles:\n /etc/a 0123 obsolete\n /etc/b c 4567\n ./etc//c newconffile\n /etc/d 89ab remove-on-upgrade\n /etc/e 89ab obsolete remove-on-upgrade\n",
            StanzaKind::Status,
        )
        .unwrap();
        let got: Vec<_> = r
            .conffiles
            .iter()
            .map(|c| {
                (
                    c.path.to_str().unwrap(),
                    c.hash.as_str(),
                    c.obsolete,
                    c.remove_on_upgrade,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/etc/a", "0123", true, false),
                ("/etc/b c", "4567", false, false),
                ("/etc//c", "newconffile", false, false),
                ("/etc/d", "89ab", false, true),
                ("/etc/e", "89ab", true, true),
            ]
        );
        for bad in [
            "Conffiles: /etc/a 0123\n",
            "Conffiles:\n /etc/a\n",
            "Conffiles:\n / abc\n",
        ] {
            let text = format!("Package: a\nStatus: install ok installed\nVersion: 1\n{bad}");
            assert!(
                matches!(
                    record(&text, StanzaKind::Status),
                    Err(DpkgError::InvalidConffile { line: 4, .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_and_words() {
        let e = record("Package: fo@o\n", StanzaKind::Status).unwrap_err();
        assert!(matches!(e, DpkgError::InvalidName { line: 1, .. }));
        let e = record("Package: \n", StanzaKind::Status).unwrap_err();
        assert!(matches!(e, DpkgError::InvalidName { .. }));
        let e = record("Package: a\nEssential: maybe\n", StanzaKind::Status).unwrap_err();
        assert!(matches!(e, DpkgError::InvalidWord { line: 2, .. }));
        let r = record(
            "Package: a\nMulti-Arch: same\nVersion: 1\n",
            StanzaKind::StatusD,
        )
        .unwrap();
        assert!(r.multi_arch_same);
    }

    #[test]
    fn instances() {
        let rec = |name: &str, arch: &str, same: bool, line: usize| Record {
            name: name.into(),
            version: DebVersion::default(),
            arch: Some(arch.into()),
            status: PkgStatus::Installed,
            multi_arch_same: same,
            conffiles: vec![],
            line,
            last_line: line,
        };
        assert!(check_instances(&[rec("a", "amd64", true, 1), rec("a", "i386", true, 5)]).is_ok());
        assert!(matches!(
            check_instances(&[rec("a", "amd64", false, 1), rec("a", "i386", false, 5)]),
            Err(DpkgError::NonCoinstallable {
                line: 5,
                other: 1,
                ..
            })
        ));
        assert!(
            check_instances(&[rec("a", "amd64", true, 1), rec("a", "amd64", true, 5)]).is_err()
        );
    }
}
