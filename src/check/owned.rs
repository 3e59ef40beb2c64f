//! Owned files: every file of every package that owns something in a Python
//! tree, verified as its package manager's own verifier would (`rpm -V`,
//! `dpkg --verify`), so that pyvet's verdict can be checked line by line
//! against the real tool's.
//!
//! Each backend decides what can be compared (the `verify` module): rpm and directory
//! manifests record every attribute; dpkg only MD5 sums; apk SHA-1 sums; pip
//! `RECORD` SHA-256 and sizes. A failing file gives one finding, named after
//! its most important difference, with the rpm-style result string, the
//! expected and actual values, and the file's metadata as evidence. Files
//! are hashed in parallel; everything is read through `ctx.tree`.

mod caps;
mod ids;
mod verify;

use rayon::prelude::*;

use crate::audit::finding::VerifyFacts;
use crate::audit::rules::{self, Rule};
use crate::audit::{Context, Finding, Owners, Sink};
use crate::manifest::{Backend, FileEntry, FileFlags, FileKind, FileState, Manifest, Owner};
use crate::tree::PrefetchJob;
use ids::RootIds;
use verify::{Col, Expected, Outcome, Style};

pub use verify::{ALL as VERIFY_ALL, COLUMNS};

/// How a backend's files are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// rpm -V: every attribute, names resolved in the root.
    Rpm,
    /// A directory taken as a manifest: numeric owners, no caps or devices.
    Directory,
    /// dpkg --verify: MD5 and "is a regular file".
    Dpkg,
    /// apk: SHA-1 (of the content, or of a symlink's target).
    Apk,
    /// pip RECORD: SHA-256 and size.
    Pip,
}

impl Profile {
    fn of(b: Backend) -> Profile {
        match b {
            Backend::RpmdbSqlite
            | Backend::RpmdbBdb
            | Backend::RpmdbNdb
            | Backend::RpmHeader
            | Backend::RpmFile => Profile::Rpm,
            Backend::Dpkg | Backend::DpkgStatusD | Backend::Deb => Profile::Dpkg,
            Backend::Apk => Profile::Apk,
            // Never verified: the audit refuses it as a --manifest.
            Backend::PipRecord | Backend::PackedResources => Profile::Pip,
            Backend::Directory => Profile::Directory,
        }
    }

    fn style(self) -> Style {
        match self {
            Profile::Rpm | Profile::Directory => Style::Rpm,
            Profile::Dpkg | Profile::Apk | Profile::Pip => Style::Dpkg,
        }
    }
}

/// Verifies every file of the audited packages.
pub fn check(ctx: &Context, sink: &Sink) {
    let (ids, errors) = RootIds::load(ctx.tree);
    for e in errors {
        sink.error(e);
    }
    let jobs = ctx.owned_jobs();
    // Collected by index, into one vector made once (a filtered parallel
    // collect gathers pieces and copies them: the findings twice over).
    let verdicts: Vec<Option<Finding>> = jobs
        .par_iter()
        .map(|&o| verify_owner(ctx, &ids, o, sink))
        .collect();
    let mut found: Vec<Finding> = verdicts.into_iter().flatten().collect();
    // One verdict per path: the first owner's. Jobs come in package
    // order, which a stable sort keeps among a path's owners.
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.dedup_by(|a, b| a.path == b.path);
    sink.extend(found);
}

/// Every (package, file) to verify: installed paths of audited packages
/// whose owner survived the precedence rule (a database beats a RECORD).
/// [`Context::owned_jobs`] keeps them.
pub(crate) fn jobs_of(manifest: &Manifest, owners: &Owners, audited: &[usize]) -> Vec<Owner> {
    let mut out = Vec::new();
    for &pi in audited {
        let pkg = &manifest.packages[pi];
        for (fi, f) in pkg.files.iter().enumerate() {
            let o = Owner {
                package: pi,
                file: fi,
            };
            if f.path.is_absolute() && owners.of(&f.path).contains(&o) {
                out.push(o);
            }
        }
    }
    out
}

/// The files [`check`] will hash: recorded as regular files with a
/// digest, their content verified (rpm's `%verify` and install state
/// allowing). A tree may hash them ahead ([`crate::tree::Tree::prefetch`]).
pub fn prefetch_jobs(manifest: &Manifest, jobs: &[Owner]) -> Vec<PrefetchJob> {
    jobs.iter()
        .filter_map(|&o| {
            let (pkg, f) = manifest.entry(o);
            let digest = f.digest.as_ref()?;
            let hashed = match Profile::of(pkg.source.backend) {
                Profile::Rpm => {
                    rpm_flags(f)? & verify::DIGEST != 0 && !f.flags.contains(FileFlags::GHOST)
                }
                _ => true,
            };
            (hashed && matches!(f.kind, FileKind::File | FileKind::Unknown)).then(|| PrefetchJob {
                path: f.path.to_path_buf(),
                algo: digest.algo,
                size: f.size,
            })
        })
        // Past the prefetch's bound the owned check hashes the rest itself:
        // a manifest of a million paths costs no million copies of them.
        .take(crate::tree::prefetch::MAX_PREFETCH)
        .collect()
}

fn verify_owner(ctx: &Context, ids: &RootIds, o: Owner, sink: &Sink) -> Option<Finding> {
    let (pkg, f) = ctx.entry(o);
    let profile = Profile::of(pkg.source.backend);
    let mut out = run_profile(ctx, ids, profile, f, sink)?;
    sink.counters.add_file();
    name_ids(&mut out, ids);
    // rpm does not compare mtimes of a path several packages own.
    if ctx.owners.of(&f.path).len() > 1 {
        out.clear(verify::MTIME);
    }
    if out.missing.is_some() && tolerated_missing(profile, f.flags) {
        return None;
    }
    out.failed()
        .then(|| finding(ctx, o.package, f, profile, &out))
}

/// Shows the actual owner and group by name, resolved in the root.
fn name_ids(out: &mut Outcome, ids: &RootIds) {
    let Some(meta) = out.meta else { return };
    if let Some(v) = out.actual.get_mut("owner") {
        *v = format!("{} ({})", ids.user_name(meta.uid), meta.uid);
    }
    if let Some(v) = out.actual.get_mut("group") {
        *v = format!("{} ({})", ids.group_name(meta.gid), meta.gid);
    }
}

/// rpm keeps quiet about missing `%ghost` and `%missingok` files.
fn tolerated_missing(profile: Profile, flags: FileFlags) -> bool {
    profile == Profile::Rpm
        && (flags.contains(FileFlags::GHOST) || flags.contains(FileFlags::MISSINGOK))
}

/// Runs the backend's verification; `None` for files rpm does not verify
/// (not installed, net-shared).
fn run_profile(
    ctx: &Context,
    ids: &RootIds,
    profile: Profile,
    f: &FileEntry,
    sink: &Sink,
) -> Option<Outcome> {
    let (tree, path, counters) = (ctx.tree, &*f.path, &sink.counters);
    Some(match profile {
        Profile::Rpm => {
            let flags = rpm_flags(f)?;
            verify::rpm(tree, path, &rpm_expected(f, ids), flags, counters)
        }
        Profile::Directory => {
            let flags = verify::ALL & !(verify::CAPS | verify::RDEV);
            verify::rpm(tree, path, &plain_expected(f), flags, counters)
        }
        Profile::Dpkg => verify::dpkg(tree, path, f.digest.as_ref(), counters),
        Profile::Apk => verify::content(tree, path, &plain_expected(f), true, counters),
        Profile::Pip => verify::content(tree, path, &plain_expected(f), false, counters),
    })
}

/// The `%verify` bits rpm applies given the file's install state.
fn rpm_flags(f: &FileEntry) -> Option<u32> {
    let flags = f.verify_flags.unwrap_or(verify::ALL) & verify::ALL;
    match f.state {
        Some(FileState::NotInstalled | FileState::NetShared) => None,
        // A replaced file is only checked for existence.
        Some(FileState::Replaced) => Some(0),
        Some(FileState::WrongColor) => {
            Some(flags & !(verify::DIGEST | verify::SIZE | verify::MTIME | verify::RDEV))
        }
        Some(FileState::Normal) | None => Some(flags),
    }
}

/// rpm's `rpmfilesStat`: names resolved in the root; an unknown name
/// means id 0 and drops the set-id bit it would grant.
fn rpm_expected<'a>(f: &'a FileEntry, ids: &RootIds) -> Expected<'a> {
    let mut e = plain_expected(f);
    let mut mode = f.mode.unwrap_or(0);
    e.uid = Some(0);
    e.gid = Some(0);
    if let Some(user) = &f.user {
        match ids.uid(user) {
            Some(uid) => e.uid = Some(uid),
            None => mode &= !verify::S_ISUID,
        }
    }
    if let Some(group) = &f.group {
        match ids.gid(group) {
            Some(gid) => e.gid = Some(gid),
            None => mode &= !verify::S_ISGID,
        }
    }
    e.mode = Some(mode);
    e.user = f.user.as_ref().map(|n| n.as_str());
    e.group = f.group.as_ref().map(|n| n.as_str());
    e
}

fn plain_expected(f: &FileEntry) -> Expected<'_> {
    Expected {
        mode: f.mode,
        uid: f.uid,
        gid: f.gid,
        user: None,
        group: None,
        size: f.size,
        mtime: f.mtime,
        digest: f.digest.as_ref(),
        link: f.link.as_deref(),
        rdev: f.rdev,
        caps: f.caps.as_deref(),
        ghost: f.flags.contains(FileFlags::GHOST),
    }
}

/// The rule of a failing file: its most important difference.
fn rule_of(out: &Outcome) -> &'static Rule {
    if out.missing.is_some() {
        return if out.unreadable {
            rules::UNREADABLE
        } else {
            rules::MISSING
        };
    }
    if out.type_mismatch {
        return rules::TYPE_MISMATCH;
    }
    if out.col(verify::DIGEST) == Col::Unknown {
        return rules::UNREADABLE;
    }
    let order: [(u32, &'static Rule); 9] = [
        (verify::DIGEST, rules::DIGEST_MISMATCH),
        (verify::SIZE, rules::SIZE_MISMATCH),
        (verify::LINK, rules::LINK_MISMATCH),
        (verify::MODE, rules::MODE_MISMATCH),
        (verify::USER, rules::OWNER_MISMATCH),
        (verify::GROUP, rules::GROUP_MISMATCH),
        (verify::RDEV, rules::DEVICE_MISMATCH),
        (verify::CAPS, rules::CAPS_MISMATCH),
        (verify::MTIME, rules::MTIME_MISMATCH),
    ];
    order
        .iter()
        .find(|(bit, _)| matches!(out.col(*bit), Col::Fail | Col::Unknown))
        .map_or(rules::UNREADABLE, |(_, r)| r)
}

/// rpm's attribute marker: the first of `rpmFFlagsString` (`d`, `c`, `s`,
/// `m`, `n`, `g`, `l`, `r`, `a`); dpkg marks only conffiles (`c`).
fn attr_marker(profile: Profile, flags: FileFlags) -> char {
    if profile != Profile::Rpm {
        return if flags.contains(FileFlags::CONFIG) {
            'c'
        } else {
            ' '
        };
    }
    const ORDER: [(FileFlags, char); 8] = [
        (FileFlags::DOC, 'd'),
        (FileFlags::CONFIG, 'c'),
        (FileFlags::MISSINGOK, 'm'),
        (FileFlags::NOREPLACE, 'n'),
        (FileFlags::GHOST, 'g'),
        (FileFlags::LICENSE, 'l'),
        (FileFlags::README, 'r'),
        (FileFlags::ARTIFACT, 'a'),
    ];
    ORDER
        .iter()
        .find(|(f, _)| flags.contains(*f))
        .map_or(' ', |(_, c)| *c)
}

fn finding(ctx: &Context, pi: usize, f: &FileEntry, profile: Profile, out: &Outcome) -> Finding {
    let rule = rule_of(out);
    let attr = attr_marker(profile, f.flags);
    // The commonest finding of all (a whole package deleted makes one per
    // file) says nothing its package and marker do not: stored as such.
    if matches!(out.missing, Some(None)) && out.meta.is_none() && out.actual.is_empty() {
        return Finding::not_there(rule, &*f.path, ctx.package_ref(pi), attr);
    }
    let pkg = &ctx.manifest.packages[pi];
    let differs = out.differs();
    let message = match &out.missing {
        Some(None) => format!("{} installed it and it is not there", pkg.nevra()),
        Some(Some(why)) => format!("cannot examine it: {why}"),
        None => format!("differs from {}: {}", pkg.nevra(), differs.join(", ")),
    };
    let mut actual = out.actual.clone();
    if let Some(Some(why)) = &out.missing {
        actual.insert("error", why.clone());
    }
    let unchecked = match profile.style() {
        Style::Dpkg if out.missing.is_none() => out.unchecked(),
        _ => Vec::new(),
    };
    let mut finding = Finding::new(rule, &*f.path, message).package(Some(ctx.package_ref(pi)));
    finding.evidence.verify = Some(Box::new(VerifyFacts {
        result: out.result(profile.style()),
        attr,
        differs,
        unchecked,
        expected: out.expected.clone(),
        actual,
    }));
    match &out.meta {
        Some(meta) => finding.file(meta, ctx.selinux(&f.path)),
        None => finding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Options;
    use crate::digest::Algo;
    use crate::manifest::{FileKind, Manifest, Package, Source};
    use crate::tree::FsTree;
    use std::path::{Path, PathBuf};

    fn package(backend: Backend, files: Vec<FileEntry>) -> Package {
        Package {
            name: "p".into(),
            epoch: None,
            version: "1".into(),
            release: Some("1".into()),
            arch: None,
            source: Source {
                backend,
                file: PathBuf::from("/db"),
            },
            install_time: None,
            files,
        }
    }

    /// Audits `root` against `manifest`; (rule, path, result) per owned finding.
    fn audit(root: &Path, manifest: &Manifest) -> Vec<(String, String, String)> {
        let tree = FsTree::new(root);
        let policy = crate::policy::builtin("generic").unwrap();
        let options = Options::default();
        let ctx = Context::new(&tree, manifest, &policy, &options);
        let report = crate::audit::run(&ctx, Vec::new());
        let mut v: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.rule.family == rules::Family::Owned)
            .map(|f| {
                let r = f.evidence.verify.as_ref().unwrap().result.clone();
                (f.rule.id.to_string(), f.display_path(), r)
            })
            .collect();
        v.sort();
        v
    }

    const DIR: &str = "usr/lib/python3.12";

    #[test]
    fn apk_digests_of_files_and_of_symlink_targets() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.py"), "a = 1\n").unwrap();
        std::fs::write(dir.join("b.py"), "b = 2\n").unwrap();
        std::os::unix::fs::symlink("a.py", dir.join("link.py")).unwrap();
        std::os::unix::fs::symlink("b.py", dir.join("moved.py")).unwrap();
        let entry = |name: &str, digest: &[u8]| {
            let mut e = FileEntry::new(Path::new("/").join(DIR).join(name), FileKind::File);
            e.digest = Some(Algo::Sha1.hash_bytes(digest));
            e
        };
        let m = Manifest {
            packages: vec![package(
                Backend::Apk,
                vec![
                    entry("a.py", b"a = 1\n"),
                    entry("b.py", b"b = 1\n"),
                    // apk hashes a symlink's target string.
                    entry("link.py", b"a.py"),
                    entry("moved.py", b"a.py"),
                    entry("gone.py", b""),
                ],
            )],
        };
        let p = |n: &str| format!("/{DIR}/{n}");
        assert_eq!(
            audit(d.path(), &m),
            [
                ("digest-mismatch".into(), p("b.py"), "??5??????".into()),
                ("digest-mismatch".into(), p("moved.py"), "??5??????".into()),
                ("missing".into(), p("gone.py"), "missing".into()),
            ]
        );
    }

    #[test]
    fn mtime_is_not_compared_for_a_path_several_packages_own() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join(DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("shared.py"), "x = 1\n").unwrap();
        let meta = std::fs::metadata(dir.join("shared.py")).unwrap();
        let mut e = FileEntry::new(Path::new("/").join(DIR).join("shared.py"), FileKind::File);
        e.mode = Some(meta.mode());
        e.uid = Some(meta.uid());
        e.gid = Some(meta.gid());
        e.size = Some(meta.size());
        e.digest = Some(Algo::Sha256.hash_bytes(b"x = 1\n"));
        e.mtime = Some(meta.mtime() - 100);
        let one = Manifest {
            packages: vec![package(Backend::Directory, vec![e.clone()])],
        };
        let path = format!("/{DIR}/shared.py");
        assert_eq!(
            audit(d.path(), &one),
            [("mtime-mismatch".into(), path, ".......T.".into())]
        );
        let two = Manifest {
            packages: vec![
                package(Backend::Directory, vec![e.clone()]),
                package(Backend::Directory, vec![e]),
            ],
        };
        assert_eq!(audit(d.path(), &two), []);
    }

    #[test]
    fn rule_priority_follows_importance() {
        let mut o = Outcome::default();
        o.cols[8] = Some(Col::Fail); // caps
        o.cols[7] = Some(Col::Fail); // mtime
        assert_eq!(rule_of(&o).id, "caps-mismatch");
        o.cols[5] = Some(Col::Fail); // owner
        assert_eq!(rule_of(&o).id, "owner-mismatch");
        o.cols[0] = Some(Col::Fail); // size
        assert_eq!(rule_of(&o).id, "size-mismatch");
        o.cols[2] = Some(Col::Fail); // digest
        assert_eq!(rule_of(&o).id, "digest-mismatch");
        o.cols[2] = Some(Col::Unknown);
        assert_eq!(rule_of(&o).id, "unreadable");
        o.type_mismatch = true;
        assert_eq!(rule_of(&o).id, "type-mismatch");
        o.missing = Some(None);
        assert_eq!(rule_of(&o).id, "missing");
        o.missing = Some(Some("Too many levels of symbolic links".into()));
        assert_eq!(rule_of(&o).id, "missing");
        o.missing = Some(Some("Permission denied".into()));
        o.unreadable = true;
        assert_eq!(rule_of(&o).id, "unreadable");
    }

    #[test]
    fn rpm_states_and_markers() {
        let mut f = FileEntry::new("/x", FileKind::File);
        assert_eq!(rpm_flags(&f), Some(verify::ALL));
        f.verify_flags = Some(verify::ALL & !verify::DIGEST);
        assert_eq!(rpm_flags(&f), Some(verify::ALL & !verify::DIGEST));
        f.state = Some(FileState::NotInstalled);
        assert_eq!(rpm_flags(&f), None);
        f.state = Some(FileState::Replaced);
        assert_eq!(rpm_flags(&f), Some(0));
        let flags = FileFlags::CONFIG | FileFlags::NOREPLACE;
        assert_eq!(attr_marker(Profile::Rpm, flags), 'c');
        assert_eq!(
            attr_marker(Profile::Rpm, FileFlags::DOC | FileFlags::CONFIG),
            'd'
        );
        assert_eq!(attr_marker(Profile::Rpm, FileFlags::MISSINGOK), 'm');
        assert_eq!(attr_marker(Profile::Dpkg, FileFlags::DOC), ' ');
        assert_eq!(attr_marker(Profile::Dpkg, FileFlags::CONFIG), 'c');
    }

    #[test]
    fn unknown_names_mean_root_and_drop_set_id_bits() {
        let mut f = FileEntry::new("/x", FileKind::File);
        f.mode = Some(0o106755);
        f.user = Some("nobody-here".into());
        f.group = Some("root".into());
        let e = rpm_expected(&f, &RootIds::default());
        assert_eq!((e.uid, e.gid, e.mode), (Some(0), Some(0), Some(0o102755)));
    }
}
