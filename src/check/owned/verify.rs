//! Comparing one file on disk with what its package manager recorded.
//!
//! [`rpm`] follows rpm 4.18's `rpmfilesVerify` (lib/verify.c) step by step:
//! which attributes apply to which file type, what `%ghost` turns off, how
//! the expected owner falls back to 0 when a name is unknown. [`dpkg`]
//! follows `dpkg --verify` (src/main/verify.c), which only knows MD5 sums
//! and whether a path with one is a regular file. [`content`] serves the
//! managers that record only digests and sizes (apk, pip `RECORD`).
//!
//! Each produces an [`Outcome`]: one [`Col`] per column of rpm's
//! `SM5DLUGTP` result string, plus the expected and actual values of what
//! differs. Rendering the columns is the caller's business.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::caps;
use crate::audit::Counters;
use crate::digest::Digest;
use crate::tree::{Kind, Meta, Tree, TreeError};

/// rpm's `RPMVERIFY_*` attribute bits (the values `%verify` stores).
pub const DIGEST: u32 = 1 << 0;
pub const SIZE: u32 = 1 << 1;
pub const LINK: u32 = 1 << 2;
pub const USER: u32 = 1 << 3;
pub const GROUP: u32 = 1 << 4;
pub const MTIME: u32 = 1 << 5;
pub const MODE: u32 = 1 << 6;
pub const RDEV: u32 = 1 << 7;
pub const CAPS: u32 = 1 << 8;
/// Every attribute rpm -V checks by default.
pub const ALL: u32 = DIGEST | SIZE | LINK | USER | GROUP | MTIME | MODE | RDEV | CAPS;

const S_IFMT: u32 = 0o170000;
/// Set-user-id and set-group-id bits (rpm drops them for unknown names).
pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;

/// The columns of rpm's result string, in order: bit, letter, name.
pub const COLUMNS: [(u32, char, &str); 9] = [
    (SIZE, 'S', "size"),
    (MODE, 'M', "mode"),
    (DIGEST, '5', "digest"),
    (RDEV, 'D', "device"),
    (LINK, 'L', "link"),
    (USER, 'U', "owner"),
    (GROUP, 'G', "group"),
    (MTIME, 'T', "mtime"),
    (CAPS, 'P', "caps"),
];

/// The state of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// Not compared: the manager cannot say, the file type has no such
    /// attribute, or `%verify` turned it off.
    Unchecked,
    Pass,
    Fail,
    /// Could not be read (rpm prints `?`).
    Unknown,
}

/// How unchecked columns print: rpm pads them with `.`, dpkg with `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Rpm,
    Dpkg,
}

/// What a check found about one path.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub cols: [Option<Col>; 9],
    /// `lstat` failed: `None` for "no such file", else the error.
    pub missing: Option<Option<String>>,
    /// `lstat` failed for another reason than that the path does not lead
    /// to a file (permission, I/O): the file may be there, unread. A loop
    /// or a component that is not a directory (`ELOOP`, `ENOTDIR`: a
    /// parent replaced by a symlink that loops or leads out of the root)
    /// means nothing is at the path, as rpm -V reports it: `missing`.
    pub unreadable: bool,
    /// Another file type than recorded is there.
    pub type_mismatch: bool,
    /// What `lstat` said (`None` when missing).
    pub meta: Option<Meta>,
    pub expected: BTreeMap<&'static str, String>,
    pub actual: BTreeMap<&'static str, String>,
}

impl Outcome {
    fn missing(e: &TreeError) -> Outcome {
        let (why, unreadable) = match e {
            TreeError::NotFound(_) => (None, false),
            TreeError::Io { source, .. } => {
                let lookup = matches!(source.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR));
                (Some(strerror(source)), !lookup)
            }
            other => (Some(other.to_string()), true),
        };
        Outcome {
            missing: Some(why),
            unreadable,
            ..Outcome::default()
        }
    }

    fn set(&mut self, bit: u32, col: Col) {
        if let Some(i) = COLUMNS.iter().position(|c| c.0 == bit) {
            self.cols[i] = Some(col);
        }
    }

    pub fn col(&self, bit: u32) -> Col {
        COLUMNS
            .iter()
            .position(|c| c.0 == bit)
            .and_then(|i| self.cols[i])
            .unwrap_or(Col::Unchecked)
    }

    /// Sets a column; `show` gives the expected and actual values, which
    /// are only worked out (formatted, allocated) for a difference.
    fn judge(&mut self, bit: u32, ok: bool, show: impl FnOnce() -> (String, String)) {
        self.set(bit, if ok { Col::Pass } else { Col::Fail });
        if !ok {
            let name = name_of(bit);
            let (expected, actual) = show();
            self.expected.insert(name, expected);
            self.actual.insert(name, actual);
        }
    }

    fn unknown(&mut self, bit: u32, why: String) {
        self.set(bit, Col::Unknown);
        self.actual.insert(name_of(bit), why);
    }

    /// Forgets a difference (rpm drops `T` for paths several packages own).
    pub fn clear(&mut self, bit: u32) {
        if self.col(bit) == Col::Fail {
            self.set(bit, Col::Pass);
            self.expected.remove(name_of(bit));
            self.actual.remove(name_of(bit));
        }
    }

    /// Whether anything is wrong with the file.
    pub fn failed(&self) -> bool {
        self.missing.is_some()
            || self.type_mismatch
            || self
                .cols
                .iter()
                .any(|c| matches!(c, Some(Col::Fail | Col::Unknown)))
    }

    /// The 9-column result string, or `missing`.
    pub fn result(&self, style: Style) -> String {
        if self.missing.is_some() {
            return "missing".into();
        }
        COLUMNS
            .iter()
            .zip(self.cols)
            .map(
                |((_, letter, _), col)| match (col.unwrap_or(Col::Unchecked), style) {
                    (Col::Fail, _) => *letter,
                    (Col::Unknown, _) | (Col::Unchecked, Style::Dpkg) => '?',
                    (Col::Pass, _) | (Col::Unchecked, Style::Rpm) => '.',
                },
            )
            .collect()
    }

    /// Names of the attributes that differ (or could not be read), in column order.
    pub fn differs(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        if self.type_mismatch {
            v.push("type");
        }
        for ((_, _, name), col) in COLUMNS.iter().zip(self.cols) {
            if matches!(col, Some(Col::Fail | Col::Unknown)) {
                v.push(name);
            }
        }
        v
    }

    /// Names of the attributes that were not compared.
    pub fn unchecked(&self) -> Vec<&'static str> {
        COLUMNS
            .iter()
            .zip(self.cols)
            .filter(|(_, c)| c.unwrap_or(Col::Unchecked) == Col::Unchecked)
            .map(|((_, _, n), _)| *n)
            .collect()
    }
}

fn name_of(bit: u32) -> &'static str {
    COLUMNS.iter().find(|c| c.0 == bit).map_or("?", |c| c.2)
}

/// `strerror` text of an OS error, as rpm and dpkg print it.
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// What a package recorded, normalised (rpm's `rpmfilesStat` view).
#[derive(Debug, Clone, Default)]
pub struct Expected<'a> {
    /// Full `st_mode`.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Names as recorded, for evidence.
    pub user: Option<&'a str>,
    pub group: Option<&'a str>,
    pub size: Option<u64>,
    pub mtime: Option<i64>,
    pub digest: Option<&'a Digest>,
    pub link: Option<&'a Path>,
    pub rdev: Option<u64>,
    pub caps: Option<&'a str>,
    /// `%ghost`: content, size, mtime, link and type are not compared.
    pub ghost: bool,
}

/// rpm -V of one file: `flags` are the `%verify` bits left after the
/// file's install state was taken into account.
pub fn rpm(
    tree: &dyn Tree,
    path: &Path,
    exp: &Expected,
    flags: u32,
    counters: &Counters,
) -> Outcome {
    let lmeta = match tree.lstat(path) {
        Ok(m) => m,
        Err(e) => return Outcome::missing(&e),
    };
    let want_mode = exp.mode.unwrap_or(0);
    let want_type = want_mode & S_IFMT;
    let sb = follow_dir_link(tree, path, lmeta, want_type);
    let mut out = Outcome {
        meta: Some(lmeta),
        type_mismatch: !exp.ghost && want_type != 0 && sb.mode & S_IFMT != want_type,
        ..Outcome::default()
    };
    if out.type_mismatch {
        out.expected.insert("type", type_name(want_type).into());
        out.actual.insert("type", sb.kind.as_str().into());
    }
    let flags = applicable(flags, sb.kind, exp.ghost);
    if flags & DIGEST != 0 {
        check_digest(tree, path, exp.digest, &mut out, counters);
    }
    if flags & LINK != 0 {
        check_link(tree, path, exp.link, &mut out);
    }
    if flags & SIZE != 0 {
        // rpm gives only regular files and symlinks a recorded size.
        let want = match want_type {
            0o100000 | 0o120000 => exp.size.unwrap_or(0),
            _ => 0,
        };
        out.judge(SIZE, sb.size == want, || {
            (want.to_string(), sb.size.to_string())
        });
    }
    if flags & MODE != 0 {
        let (mut want, mut got) = (want_mode, sb.mode);
        if exp.ghost {
            want &= !S_IFMT;
            got &= !S_IFMT;
        }
        out.judge(MODE, want == got, || {
            (format!("{want:o}"), format!("{got:o}"))
        });
    }
    if flags & RDEV != 0 {
        check_rdev(exp, want_type, &sb, &mut out);
    }
    if flags & CAPS != 0 {
        check_caps(tree, path, exp.caps, &mut out);
    }
    if flags & MTIME != 0 {
        let want = exp.mtime.unwrap_or(0);
        out.judge(MTIME, sb.mtime == want, || {
            (want.to_string(), sb.mtime.to_string())
        });
    }
    let ids = [
        (USER, exp.uid, &exp.user, sb.uid),
        (GROUP, exp.gid, &exp.group, sb.gid),
    ];
    for (bit, want, name, got) in ids {
        if flags & bit != 0 {
            let want = want.unwrap_or(0);
            out.judge(bit, got == want, || (show_id(name, want), got.to_string()));
        }
    }
    out
}

fn show_id(name: &Option<&str>, id: u32) -> String {
    match name {
        Some(n) => format!("{n} ({id})"),
        None => id.to_string(),
    }
}

/// A directory replaced by a symlink to a directory is accepted when the
/// link is root's or its target's owner's, as rpm's `fsmVerify` does.
fn follow_dir_link(tree: &dyn Tree, path: &Path, lmeta: Meta, want_type: u32) -> Meta {
    if want_type != 0o040000 || lmeta.kind != Kind::Symlink {
        return lmeta;
    }
    match tree.stat(path) {
        Ok(d) if d.kind == Kind::Dir && (lmeta.uid == 0 || lmeta.uid == d.uid) => d,
        _ => lmeta,
    }
}

/// The attributes rpm compares for a file of this type.
fn applicable(mut flags: u32, kind: Kind, ghost: bool) -> u32 {
    // Links have no mode, other types have no link target.
    if kind == Kind::Symlink {
        flags &= !MODE;
    } else {
        flags &= !LINK;
    }
    if kind != Kind::File {
        flags &= !(DIGEST | SIZE | MTIME | CAPS);
    }
    if ghost {
        flags &= !(DIGEST | SIZE | MTIME | LINK);
    }
    flags & ALL
}

fn type_name(t: u32) -> &'static str {
    match Kind::from_mode(t) {
        Some(k) => k.as_str(),
        None => "unknown",
    }
}

fn check_digest(
    tree: &dyn Tree,
    path: &Path,
    want: Option<&Digest>,
    out: &mut Outcome,
    counters: &Counters,
) {
    let Some(want) = want else {
        out.judge(DIGEST, false, || ("none recorded".into(), "-".into()));
        return;
    };
    match tree.digest(path, want.algo) {
        Ok((got, meta)) => {
            counters.add_bytes(meta.size);
            out.judge(DIGEST, &got == want, || (want.to_string(), got.to_string()));
        }
        Err(e) => out.unknown(DIGEST, e.to_string()),
    }
}

fn check_link(tree: &dyn Tree, path: &Path, want: Option<&Path>, out: &mut Outcome) {
    match tree.read_link(path) {
        Ok(got) => {
            let ok = want.is_some_and(|w| w.as_os_str() == got.as_os_str());
            let show = |p: &Path| String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned();
            out.judge(LINK, ok, || {
                (want.map_or_else(|| "-".into(), show), show(&got))
            });
        }
        Err(e) => out.unknown(LINK, e.to_string()),
    }
}

fn check_rdev(exp: &Expected, want_type: u32, sb: &Meta, out: &mut Outcome) {
    let (want_chr, want_blk) = (want_type == 0o020000, want_type == 0o060000);
    let got_chr = sb.kind == Kind::CharDevice;
    let got_blk = sb.kind == Kind::BlockDevice;
    let want = exp.rdev.unwrap_or(0);
    // rpm keeps 16 bits of the device number.
    let ok = if want_chr != got_chr || want_blk != got_blk {
        false
    } else if want_chr || want_blk {
        want & 0xffff == sb.rdev & 0xffff
    } else {
        true
    };
    out.judge(RDEV, ok, || {
        (format!("{want:#x}"), format!("{:#x}", sb.rdev))
    });
}

/// rpm compares `cap_from_text(recorded)` with `cap_get_file(file)`; one
/// present and the other absent differ; neither present is equal.
fn check_caps(tree: &dyn Tree, path: &Path, want: Option<&str>, out: &mut Outcome) {
    let want_set = want
        .filter(|t| !t.is_empty())
        .and_then(|t| caps::parse_text(t).ok());
    let got_set = tree
        .xattr(path, "security.capability")
        .and_then(|v| caps::from_xattr(&v).ok());
    let ok = match (want_set, got_set) {
        (None, None) => true,
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    let show = |s: Option<caps::CapSet>| s.map_or_else(|| "none".into(), |s| s.to_text());
    out.judge(CAPS, ok, || {
        (
            want.map_or_else(|| show(None), str::to_string),
            show(got_set),
        )
    });
}

/// `dpkg --verify` of one file: existence, and for a path with a recorded
/// MD5 that it is a regular file (`M`) and its content (`5`), read the
/// way dpkg opens it (following symlinks, here inside the root).
pub fn dpkg(tree: &dyn Tree, path: &Path, digest: Option<&Digest>, counters: &Counters) -> Outcome {
    let meta = match tree.lstat(path) {
        Ok(m) => m,
        Err(e) => return Outcome::missing(&e),
    };
    let mut out = Outcome {
        meta: Some(meta),
        ..Outcome::default()
    };
    let Some(want) = digest else {
        return out;
    };
    check_regular(&mut out, &meta);
    // dpkg reads through a final symlink; anything else is hashed as it is.
    let hashed = match meta.kind {
        Kind::Symlink => tree
            .resolve(path)
            .and_then(|real| tree.digest(&real, want.algo)),
        _ => tree.digest(path, want.algo),
    };
    match hashed {
        Ok((got, m)) => {
            counters.add_bytes(m.size);
            out.judge(DIGEST, &got == want, || (want.to_string(), got.to_string()));
        }
        Err(e) => out.unknown(DIGEST, e.to_string()),
    }
    out
}

/// A path with a recorded digest must be a regular file: `M` when it is
/// not. When it is, the column stays unchecked (dpkg prints `?`): only the
/// type was compared, never the permissions.
fn check_regular(out: &mut Outcome, meta: &Meta) {
    if meta.kind != Kind::File {
        out.type_mismatch = true;
        out.judge(MODE, false, || ("file".into(), meta.kind.as_str().into()));
        out.expected.insert("type", "file".into());
        out.actual.insert("type", meta.kind.as_str().into());
    }
}

/// Digest and size only (apk, pip `RECORD`). apk records a symlink's
/// digest as the SHA-1 of its target string: `link_digests` allows that.
pub fn content(
    tree: &dyn Tree,
    path: &Path,
    exp: &Expected,
    link_digests: bool,
    counters: &Counters,
) -> Outcome {
    let meta = match tree.lstat(path) {
        Ok(m) => m,
        Err(e) => return Outcome::missing(&e),
    };
    let mut out = Outcome {
        meta: Some(meta),
        ..Outcome::default()
    };
    if exp.digest.is_none() && exp.size.is_none() {
        return out;
    }
    if link_digests && meta.kind == Kind::Symlink {
        if let Some(want) = exp.digest {
            link_digest(tree, path, want, &mut out);
        }
        return out;
    }
    check_regular(&mut out, &meta);
    if out.type_mismatch {
        return out;
    }
    if let Some(want) = exp.size {
        out.judge(SIZE, meta.size == want, || {
            (want.to_string(), meta.size.to_string())
        });
    }
    if exp.digest.is_some() {
        check_digest(tree, path, exp.digest, &mut out, counters);
    }
    out
}

fn link_digest(tree: &dyn Tree, path: &Path, want: &Digest, out: &mut Outcome) {
    match tree.read_link(path) {
        Ok(target) => {
            let got = want.algo.hash_bytes(target.as_os_str().as_bytes());
            out.judge(DIGEST, &got == want, || (want.to_string(), got.to_string()));
        }
        Err(e) => out.unknown(DIGEST, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applicable_follows_rpm_per_type() {
        assert_eq!(applicable(ALL, Kind::File, false), ALL & !LINK);
        assert_eq!(
            applicable(ALL, Kind::Symlink, false),
            LINK | USER | GROUP | RDEV
        );
        assert_eq!(
            applicable(ALL, Kind::Dir, false),
            USER | GROUP | MODE | RDEV
        );
        assert_eq!(
            applicable(ALL, Kind::File, true),
            USER | GROUP | MODE | RDEV | CAPS
        );
    }

    #[test]
    fn result_strings_per_style() {
        let mut o = Outcome::default();
        o.judge(SIZE, false, || ("1".into(), "2".into()));
        o.judge(DIGEST, false, || ("a".into(), "b".into()));
        o.judge(MODE, true, || (String::new(), String::new()));
        o.judge(MTIME, false, || ("1".into(), "2".into()));
        assert_eq!(o.result(Style::Rpm), "S.5....T.");
        assert_eq!(o.result(Style::Dpkg), "S.5????T?");
        assert_eq!(o.differs(), ["size", "digest", "mtime"]);
        o.clear(MTIME);
        assert_eq!(o.result(Style::Rpm), "S.5......");
        o.unknown(LINK, "x".into());
        assert_eq!(o.result(Style::Rpm), "S.5.?....");
    }

    #[test]
    fn strerror_drops_the_os_error_number() {
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(strerror(&e), "Permission denied");
    }
}
