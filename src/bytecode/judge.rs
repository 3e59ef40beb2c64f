//! The whole judgement of one pyc file: read it, find its source the way
//! the import system would, and decide as CPython would, with the facts
//! (header fields, `co_filename`, docstring) that support the verdict.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bytecode::accept::{self, hex, Decision, SourceStat};
use crate::bytecode::magic::{MagicInfo, PyVersion};
use crate::bytecode::naming::{self, PycLocation};
use crate::bytecode::Verdict;
use crate::cli::HashCheckMode;
use crate::error::{Error, Result};
use crate::format::marshal::{self, CodeFacts};
use crate::format::pyc::{KnownHeader, PycHeader, PycKind};
use crate::limits::{MAX_PYC_FILE, MAX_SOURCE_FILE};
use crate::tree::{FsTree, Kind, Tree, TreeError};

/// How to judge.
#[derive(Debug, Clone, Copy)]
pub struct JudgeOptions<'a> {
    /// CPython's `--check-hash-based-pycs`.
    pub mode: HashCheckMode,
    /// Judge against this source instead of the one the pyc's name implies.
    pub source: Option<&'a Path>,
    /// `sys.pycache_prefix` (`PYTHONPYCACHEPREFIX`), absolute.
    pub pycache_prefix: Option<&'a Path>,
    /// Keep what `--deep` needs (source and payload bytes) in the reports.
    pub deep: bool,
    /// Read only the header, not the code after it (no `co_filename`, no
    /// check that the code loads). For pycs a package vouches for, whose
    /// content its digest already verified: judging the header against the
    /// source is all the write prediction needs, at 16 bytes a file.
    pub header_only: bool,
}

/// The longest pyc header (PEP 552: magic, flags, two words).
const MAX_HEADER: usize = crate::tree::HEAD_LEN;

/// The judgement of one pyc, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct PycReport {
    pub path: String,
    /// `3.11`, from the magic; `None` for an unknown magic.
    pub python: Option<String>,
    /// The 16-bit magic number (also for unknown magics).
    pub magic: Option<u16>,
    pub flags: Option<u32>,
    /// `timestamp`, `checked-hash` or `unchecked-hash`.
    pub kind: Option<&'static str>,
    pub mtime: Option<u32>,
    pub source_size: Option<u32>,
    pub hash: Option<String>,
    /// The source CPython would judge it against.
    pub source: Option<String>,
    pub source_exists: bool,
    /// Optimisation level named in a cache file name (`1`, `2`).
    pub opt_level: Option<String>,
    pub verdict: Verdict,
    pub reason: String,
    pub co_filename: Option<String>,
    /// The path bytes `co_filename` stands for (`os.fsencode`), to compare
    /// with paths; `None` when unknown or unencodable.
    #[serde(skip)]
    pub co_filename_bytes: Option<Vec<u8>>,
    pub has_docstring: Option<bool>,
    /// Facts that do not change the verdict but deserve a look.
    pub warnings: Vec<String>,
    /// What `--deep` needs; kept so the files are read once.
    #[serde(skip)]
    pub deep: Option<DeepInput>,
}

/// The bytes a deep check compares, captured when the pyc was judged.
#[derive(Debug, Clone)]
pub struct DeepInput {
    pub version: PyVersion,
    pub magic: [u8; 4],
    /// Optimisation level to compile at (from the name; 0 if not named).
    pub optimize: u8,
    /// `co_filename` as CPython stores it (UTF-8 with surrogates).
    pub filename: Vec<u8>,
    pub payload: Vec<u8>,
    pub source: Vec<u8>,
}

/// Judges one pyc on the host: paths may be relative, and are judged as
/// absolute paths of the host's own root. Errors are for files that cannot
/// be read (missing, not regular, too large) — anything in their content is
/// a verdict.
pub fn judge(pyc: &Path, opts: &JudgeOptions) -> Result<PycReport> {
    let abs = std::path::absolute(pyc).map_err(|e| Error::io(pyc, e))?;
    let source = match opts.source {
        Some(s) => Some(std::path::absolute(s).map_err(|e| Error::io(s, e))?),
        None => None,
    };
    let opts = JudgeOptions {
        source: source.as_deref(),
        ..*opts
    };
    let mut report = judge_in(&FsTree::new("/"), &abs, &opts)?;
    report.path = pyc.display().to_string();
    Ok(report)
}

/// Judges one pyc of `tree`, reading it and its source only through the
/// tree. `pyc` (and `opts.source`) are absolute paths inside the tree; as
/// the import system does, symlinks are followed (inside the tree).
pub fn judge_in(tree: &dyn Tree, pyc: &Path, opts: &JudgeOptions) -> Result<PycReport> {
    let asked_header_only = opts.header_only && !opts.deep;
    let (bytes, oversized) = read_pyc(tree, pyc, asked_header_only)?;
    let header_only = asked_header_only || oversized.is_some();
    let location = naming::locate(pyc, opts.pycache_prefix);
    let source = match opts.source {
        Some(s) => Some(s.to_path_buf()),
        None => location.source().map(Path::to_path_buf),
    };
    let stat = match &source {
        Some(s) => source_stat(tree, s)?,
        None => None,
    };
    let mut report = PycReport::new(pyc, &bytes, &location, source.as_deref(), stat.is_some());
    if let Some(size) = oversized {
        report.warnings.push(format!(
            "{size} bytes, more than the {MAX_PYC_FILE}-byte read limit: judged by its header alone (import reads only the code object, so padding does not stop it running)"
        ));
    }
    let header = match PycHeader::parse(&bytes) {
        Ok(h) => h,
        Err(e) => return Ok(report.with(Verdict::Corrupt, e.to_string())),
    };
    let Some(known) = header.python.clone() else {
        let why = format!(
            "magic {:02x?} is not one CPython 2.7 or 3.6-3.14 writes",
            header.magic
        );
        return Ok(report.with(Verdict::UnknownMagic, why));
    };
    report.record_header(&known);
    if let Some(foreign) = foreign(&known.info, &location, pyc) {
        return Ok(report.with(Verdict::Foreign, foreign));
    }
    let facts = if header_only {
        None
    } else {
        Some(read_facts(&bytes, &header, &known))
    };
    if let Some(facts) = &facts {
        report.record_facts(facts, source.as_deref(), &location);
    }
    let ctx = Context {
        tree,
        opts,
        header: &header,
        known: &known,
        stat,
        source: source.as_deref(),
        location: &location,
    };
    let decision = ctx.decide()?;
    report.verdict = decision.verdict;
    report.reason = decision.reason;
    if report.verdict.code_would_run() || report.verdict == Verdict::Sourceless {
        if let Some(Err(e)) = &facts {
            return Ok(report.with(
                Verdict::Corrupt,
                format!("header accepted, but the code does not load ({e}): import would fail"),
            ));
        }
    }
    if let (true, Some(facts)) = (opts.deep && report.verdict.code_would_run(), &facts) {
        report.deep = ctx.deep_input(&bytes, facts)?;
    }
    Ok(report)
}

/// `path` with a final symlink resolved inside the tree (the import system
/// opens files following links); other paths as they are, so that the
/// common case costs no extra walk.
fn follow(tree: &dyn Tree, path: &Path) -> std::result::Result<PathBuf, TreeError> {
    match tree.lstat(path)?.kind {
        Kind::Symlink => tree.resolve(path),
        _ => Ok(path.to_path_buf()),
    }
}

/// The bytes to judge a pyc by: its header alone when `header_only`, else
/// the whole file, or its header alone when the file is over the read cap
/// (then with its size). A pyc padded past the cap is still importable, so
/// it must not fall out of judgement as merely unreadable.
fn read_pyc(tree: &dyn Tree, pyc: &Path, header_only: bool) -> Result<(Vec<u8>, Option<u64>)> {
    if header_only {
        return Ok((read_head(tree, pyc)?, None));
    }
    let real = follow(tree, pyc)?;
    match tree.read(&real, MAX_PYC_FILE) {
        Ok(bytes) => Ok((bytes, None)),
        Err(TreeError::TooLarge { size, .. }) => Ok((read_head(tree, pyc)?, Some(size))),
        Err(e) => Err(asked(e, pyc)),
    }
}

/// Reads a regular file of the tree, following a final symlink, capped.
fn read_followed(tree: &dyn Tree, path: &Path, max: u64) -> Result<Vec<u8>> {
    let real = follow(tree, path)?;
    tree.read(&real, max).map_err(|e| asked(e, path))
}

/// The first bytes of a pyc (following a final symlink): its header.
fn read_head(tree: &dyn Tree, path: &Path) -> Result<Vec<u8>> {
    let real = follow(tree, path)?;
    tree.head(&real, MAX_HEADER).map_err(|e| asked(e, path))
}

/// A tree error naming the path asked for, not where its link led.
fn asked(e: TreeError, path: &Path) -> crate::Error {
    match e {
        TreeError::NotFound(_) => TreeError::NotFound(path.to_path_buf()).into(),
        e => e.into(),
    }
}

/// What reading the marshalled code gave: facts, or why it does not load.
type FactsResult = std::result::Result<CodeFacts, String>;

fn read_facts(bytes: &[u8], header: &PycHeader, known: &KnownHeader) -> FactsResult {
    let v = known.info.version;
    let payload = bytes.get(header.size()..).unwrap_or_default();
    marshal::read_code_facts(payload, (v.major, v.minor)).map_err(|e| e.to_string())
}

/// `os.stat(source)` (following symlinks, as the import system does), or
/// `None` when there is no such file.
fn source_stat(tree: &dyn Tree, source: &Path) -> Result<Option<SourceStat>> {
    let meta = match follow(tree, source).and_then(|p| tree.lstat(&p)) {
        Ok(m) => m,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok((meta.kind == Kind::File).then_some(SourceStat {
        mtime_sec: meta.mtime,
        mtime_nsec: meta.mtime_nsec,
        size: meta.size,
    }))
}

/// Why the magic's interpreter is not the one this pyc belongs to, if so.
fn foreign(info: &MagicInfo, location: &PycLocation, path: &Path) -> Option<String> {
    let v = info.version;
    if !info.is_release {
        return Some(format!(
            "magic {} is from a {v} pre-release; released {v} refuses it",
            info.number
        ));
    }
    let tag = match location {
        PycLocation::Cache {
            version: Some(t),
            tag,
            ..
        } => Some((*t, format!("its cache tag {tag}"))),
        _ => None,
    };
    let tree = naming::tree_version(path).map(|t| (t, "its python directory".to_string()));
    let (expected, from) = [tag, tree].into_iter().flatten().find(|(t, _)| *t != v)?;
    Some(format!(
        "magic {} is Python {v}'s, but {from} says {expected}",
        info.number
    ))
}

struct Context<'a> {
    tree: &'a dyn Tree,
    opts: &'a JudgeOptions<'a>,
    header: &'a PycHeader,
    known: &'a KnownHeader,
    stat: Option<SourceStat>,
    source: Option<&'a Path>,
    location: &'a PycLocation,
}

impl Context<'_> {
    fn decide(&self) -> Result<Decision> {
        let orphan = |why: String| {
            Ok(Decision {
                verdict: Verdict::Orphan,
                reason: why,
            })
        };
        let sourceless = || {
            Ok(Decision {
                verdict: Verdict::Sourceless,
                reason: "legacy location and no source: imported as is, without any check".into(),
            })
        };
        let Some(source) = self.source else {
            return match self.location {
                PycLocation::Unrecognised { why } => {
                    orphan(format!("CPython never imports it: {why}"))
                }
                _ => orphan("no source named".into()),
            };
        };
        let Some(stat) = self.stat else {
            return match self.location {
                PycLocation::Legacy { .. } if self.opts.source.is_none() => sourceless(),
                PycLocation::Cache { tag, .. } if self.opts.source.is_none() => orphan(format!(
                    "{tag} cache without its source {}: never imported",
                    source.display()
                )),
                _ => Err(Error::io(
                    source,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                )),
            };
        };
        if let (PycLocation::Legacy { .. }, None, 3) = (
            self.location,
            self.opts.source,
            self.known.info.version.major,
        ) {
            return orphan(format!(
                "shadowed by its source {}: CPython 3 imports the source, never a pyc beside it",
                source.display()
            ));
        }
        if let (
            PycLocation::Cache {
                tag, version: None, ..
            },
            None,
        ) = (self.location, self.opts.source)
        {
            return orphan(format!("cache tag {tag} is not CPython's"));
        }
        let bytes = if accept::needs_source_bytes(self.known, self.opts.mode) {
            Some(read_followed(self.tree, source, MAX_SOURCE_FILE)?)
        } else {
            None
        };
        Ok(accept::decide(
            self.known,
            self.header.magic,
            stat,
            bytes.as_deref(),
            self.opts.mode,
        ))
    }

    fn deep_input(&self, bytes: &[u8], facts: &FactsResult) -> Result<Option<DeepInput>> {
        let (Some(source), Ok(facts)) = (self.source, facts) else {
            return Ok(None);
        };
        let optimize = match self.location {
            PycLocation::Cache { opt: Some(o), .. } => o.parse().unwrap_or(0),
            _ => 0,
        };
        Ok(Some(DeepInput {
            version: self.known.info.version,
            magic: self.header.magic,
            optimize,
            filename: facts.co_filename_raw.clone(),
            payload: bytes.get(self.header.size()..).unwrap_or_default().to_vec(),
            source: read_followed(self.tree, source, MAX_SOURCE_FILE)?,
        }))
    }
}

impl PycReport {
    /// A report for code that is no pyc file (a packed resources blob): a
    /// verdict of `valid` so far, and what `--deep` compares.
    pub fn embedded(path: &Path, reason: String, deep: DeepInput) -> Self {
        let location = PycLocation::Unrecognised { why: String::new() };
        let mut r = PycReport::new(path, &[], &location, None, true);
        r.magic = None;
        r.python = Some(deep.version.to_string());
        r.verdict = Verdict::Valid;
        r.reason = reason;
        r.deep = Some(deep);
        r
    }

    fn new(
        pyc: &Path,
        bytes: &[u8],
        location: &PycLocation,
        source: Option<&Path>,
        exists: bool,
    ) -> Self {
        PycReport {
            path: pyc.display().to_string(),
            python: None,
            magic: bytes.get(..2).map(|m| u16::from_le_bytes([m[0], m[1]])),
            flags: None,
            kind: None,
            mtime: None,
            source_size: None,
            hash: None,
            source: source.map(|s| s.display().to_string()),
            source_exists: exists,
            opt_level: match location {
                PycLocation::Cache { opt, .. } => opt.clone(),
                _ => None,
            },
            verdict: Verdict::Corrupt,
            reason: String::new(),
            co_filename: None,
            co_filename_bytes: None,
            has_docstring: None,
            warnings: Vec::new(),
            deep: None,
        }
    }

    fn with(mut self, verdict: Verdict, reason: String) -> Self {
        self.verdict = verdict;
        self.reason = reason;
        self
    }

    fn record_header(&mut self, known: &KnownHeader) {
        self.python = Some(known.info.version.to_string());
        self.flags = Some(known.flags);
        self.kind = Some(known.kind.as_str());
        match known.kind {
            PycKind::Timestamp { mtime, source_size } => {
                self.mtime = Some(mtime);
                self.source_size = source_size;
            }
            PycKind::CheckedHash { hash } | PycKind::UncheckedHash { hash } => {
                self.hash = Some(hex(&hash))
            }
        }
        if known.flags == crate::format::pyc::FLAG_CHECK_SOURCE {
            self.warnings.push(
                "flags 0x2 (check_source without hash_based): CPython treats it as a timestamp pyc"
                    .into(),
            );
        }
    }

    fn record_facts(&mut self, facts: &FactsResult, source: Option<&Path>, location: &PycLocation) {
        let Ok(f) = facts else {
            return;
        };
        self.co_filename = Some(f.co_filename.clone());
        self.co_filename_bytes = f.co_filename_bytes.clone();
        self.has_docstring = Some(f.has_docstring);
        if let (Some(src), Some(name)) = (source, &f.co_filename_bytes) {
            use std::os::unix::ffi::OsStrExt;
            if src.as_os_str().as_bytes() != name.as_slice() {
                self.warnings.push(format!(
                    "co_filename {:?} is not its source path {}: compiled elsewhere or moved",
                    f.co_filename,
                    src.display()
                ));
            }
        }
        if let (PycLocation::Cache { opt: Some(o), .. }, true) = (location, f.has_docstring) {
            if o == "2" {
                self.warnings
                    .push("opt-2 pyc binds __doc__ to a string first thing: CPython at -OO strips docstrings, so either the source assigns __doc__ itself or this was not compiled at -OO".into());
            }
        }
        if let PycLocation::Cache { source, .. } = location {
            if source
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().contains('.'))
            {
                self.warnings
                    .push("module name has a dot: the import system never loads it".into());
            }
        }
        if f.trailing_bytes > 0 {
            self.warnings.push(format!(
                "{} bytes after the code object (ignored by CPython)",
                f.trailing_bytes
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::magic;
    use std::os::unix::fs::MetadataExt;

    fn info(number: u16) -> MagicInfo {
        let [a, b] = number.to_le_bytes();
        magic::lookup([a, b, b'\r', b'\n']).unwrap()
    }

    #[test]
    fn foreign_by_tag_tree_and_prerelease() {
        let cache = |tag: &str| {
            naming::locate(
                &Path::new("/x/__pycache__").join(format!("m.{tag}.pyc")),
                None,
            )
        };
        let p = Path::new("/x/__pycache__/m.pyc");
        assert_eq!(foreign(&info(3495), &cache("cpython-311"), p), None);
        let why = foreign(&info(3531), &cache("cpython-311"), p).unwrap();
        assert_eq!(
            why,
            "magic 3531 is Python 3.12's, but its cache tag cpython-311 says 3.11"
        );
        let in_311 = Path::new("/usr/lib/python3.11/__pycache__/m.cpython-312.pyc");
        let why = foreign(&info(3531), &naming::locate(in_311, None), in_311).unwrap();
        assert!(why.ends_with("its python directory says 3.11"), "{why}");
        let legacy = PycLocation::Legacy {
            source: "/usr/lib/python3.11/m.py".into(),
        };
        let p = Path::new("/usr/lib/python3.11/m.pyc");
        assert!(foreign(&info(62211), &legacy, p)
            .unwrap()
            .contains("its python directory says 3.11"));
        assert_eq!(foreign(&info(3495), &legacy, p), None);
        assert!(foreign(&info(3392), &cache("cpython-37"), p)
            .unwrap()
            .contains("pre-release"));
    }

    /// A header-only 3.11 timestamp pyc matching `source`'s stat.
    fn header_for(source: &Path) -> Vec<u8> {
        let m = std::fs::metadata(source).unwrap();
        let mut v = vec![0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
        v.extend_from_slice(&(m.mtime() as u32).to_le_bytes());
        v.extend_from_slice(&(m.size() as u32).to_le_bytes());
        v
    }

    #[test]
    fn locations_decide_before_the_header_check() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("m.py");
        std::fs::write(&src, "x = 1\n").unwrap();
        let opts = JudgeOptions {
            mode: HashCheckMode::Default,
            source: None,
            pycache_prefix: None,
            deep: false,
            header_only: false,
        };
        // Beside its source: shadowed, never imported by CPython 3.
        let legacy = d.path().join("m.pyc");
        std::fs::write(&legacy, header_for(&src)).unwrap();
        let r = judge(&legacy, &opts).unwrap();
        assert_eq!(r.verdict, Verdict::Orphan, "{}", r.reason);
        assert!(r.reason.contains("shadowed"), "{}", r.reason);
        // Cache without its source.
        std::fs::create_dir(d.path().join("__pycache__")).unwrap();
        let cached = d.path().join("__pycache__/n.cpython-311.pyc");
        std::fs::write(&cached, header_for(&src)).unwrap();
        let r = judge(&cached, &opts).unwrap();
        assert_eq!(
            (r.verdict, r.source_exists),
            (Verdict::Orphan, false),
            "{}",
            r.reason
        );
        // The header matches, but the empty payload does not load: the import would fail.
        let cached = d.path().join("__pycache__/m.cpython-311.pyc");
        std::fs::write(&cached, header_for(&src)).unwrap();
        let r = judge(&cached, &opts).unwrap();
        assert_eq!(r.verdict, Verdict::Corrupt, "{}", r.reason);
        assert!(r.reason.contains("import would fail"), "{}", r.reason);
        // An explicit source that does not exist is an error, not a verdict.
        let missing = d.path().join("gone.py");
        let opts = JudgeOptions {
            source: Some(&missing),
            ..opts
        };
        assert!(judge(&cached, &opts).is_err());
    }

    #[test]
    fn judge_in_reads_inside_the_tree_and_follows_links_there() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib/python3.11/__pycache__")).unwrap();
        std::fs::create_dir_all(r.join("srv")).unwrap();
        std::fs::write(r.join("srv/m.py"), "x = 1\n").unwrap();
        // The source and the pyc are links with absolute targets: inside
        // the tree they name /srv, never the host's.
        std::os::unix::fs::symlink("/srv/m.py", r.join("usr/lib/python3.11/m.py")).unwrap();
        std::fs::write(r.join("srv/m.pyc"), header_for(&r.join("srv/m.py"))).unwrap();
        let pyc = Path::new("/usr/lib/python3.11/__pycache__/m.cpython-311.pyc");
        std::os::unix::fs::symlink("/srv/m.pyc", r.join(&pyc.to_str().unwrap()[1..])).unwrap();
        let tree = FsTree::new(r);
        let opts = JudgeOptions {
            mode: HashCheckMode::Default,
            source: None,
            pycache_prefix: None,
            deep: false,
            header_only: false,
        };
        let rep = judge_in(&tree, pyc, &opts).unwrap();
        assert_eq!(rep.path, pyc.display().to_string());
        assert_eq!(rep.source.as_deref(), Some("/usr/lib/python3.11/m.py"));
        assert!(rep.source_exists);
        // The header matched the linked source's stat; the empty payload fails.
        assert_eq!(rep.verdict, Verdict::Corrupt, "{}", rep.reason);
        assert!(rep.reason.contains("import would fail"), "{}", rep.reason);
        // A link out of the tree names nothing inside it.
        std::fs::remove_file(r.join(&pyc.to_str().unwrap()[1..])).unwrap();
        std::os::unix::fs::symlink(r.join("srv/m.pyc"), r.join(&pyc.to_str().unwrap()[1..]))
            .unwrap();
        let err = judge_in(&tree, pyc, &opts).unwrap_err().to_string();
        assert!(err.contains("no such file"), "{err}");
    }
}
