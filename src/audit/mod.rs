//! The audit: a tree against its manifests.
//!
//! [`run`] builds one [`Context`] (the tree, the manifest and who owns each
//! path, the Python trees and everything in them, the policy) and hands it to
//! each check family in [`crate::check`]. Checks push [`Finding`]s into a
//! [`Sink`]; the policy then sets each finding's severity (or drops it), and
//! the result is a [`Report`], data for the renderers.

pub mod finding;
pub mod rules;
pub mod walk;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

pub use finding::{Finding, Severity};

use crate::bytecode::deep::Interpreters;
use crate::cli::HashCheckMode;
use crate::manifest::{Backend, FileEntry, Manifest, Owner, OwnerIndex, Package};
use crate::policy::Policy;
use crate::tree::Tree;
use walk::Inventory;

/// What the user asked for beyond the tree and manifest.
#[derive(Debug, Clone)]
pub struct Options {
    /// The trees to audit (command-line PATHs), in place of the discovered
    /// ones unless `also_discovered`; none: the discovered trees. A PATH
    /// that is a regular file is a PyOxidizer packed resources file, audited
    /// with its resources ([`Context::packed_files`]).
    pub paths: Vec<PathBuf>,
    /// Packed resources files given as `--manifest` (inside the tree):
    /// audited as a packed PATH is, beside the trees audited.
    pub packed_manifests: Vec<PathBuf>,
    /// Audit the discovered trees beside `paths` (`--also-discovered`).
    pub also_discovered: bool,
    /// `PYTHONPYCACHEPREFIX` trees (absolute, inside the tree).
    pub pycache_prefixes: Vec<PathBuf>,
    /// `--pysource-prefix`: the parallel source tree of legacy-location
    /// pycs (absolute, inside the tree); overrides the policy's.
    pub pysource_prefix: Option<PathBuf>,
    /// CPython's `--check-hash-based-pycs`.
    pub hash_mode: HashCheckMode,
    /// Prove pycs whose code would run are compilations of their sources.
    pub deep: bool,
    /// `--interpreter 3.X=PATH` for `--deep`.
    pub interpreters: Vec<String>,
    /// `--baseline REPORT.json`: findings accepted because a previous run had them.
    pub baseline: Option<crate::policy::accept::Baseline>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            paths: Vec::new(),
            packed_manifests: Vec::new(),
            also_discovered: false,
            pycache_prefixes: Vec::new(),
            pysource_prefix: None,
            hash_mode: HashCheckMode::Default,
            deep: false,
            interpreters: Vec::new(),
            baseline: None,
        }
    }
}

/// Who owns each path. Where a package database (rpm, dpkg, apk) and a pip
/// `RECORD` both list a path, the database decides: Debian ships RECORDs
/// whose hashes do not match what it installed, and one file gets one
/// verdict.
#[derive(Debug, Default)]
pub struct Owners<'m> {
    map: OwnerIndex<'m>,
    /// The pip `RECORD` packages a package database installed
    /// ([`distro_records`]): they own nothing.
    distro_records: Vec<usize>,
}

impl<'m> Owners<'m> {
    pub fn new(manifest: &'m Manifest) -> Self {
        let mut map = manifest.owners();
        let is_pip = |o: &Owner| manifest.packages[o.package].source.backend == Backend::PipRecord;
        let distro_records = distro_records(manifest, &map);
        map.retain(|o| !distro_records.contains(&o.package));
        map.prefer(|o| !is_pip(o));
        Owners {
            map,
            distro_records,
        }
    }

    /// Whether package `pi` is a pip `RECORD` the distribution installed,
    /// and so no manifest of its own.
    pub fn is_distro_record(&self, pi: usize) -> bool {
        self.distro_records.contains(&pi)
    }

    /// Every owner of `path` (after the precedence rule).
    pub fn of(&self, path: &Path) -> &[Owner] {
        self.map.of(path)
    }

    pub fn is_owned(&self, path: &Path) -> bool {
        self.map.is_owned(path)
    }

    /// Every owned path, with its owners.
    pub fn iter(&self) -> impl Iterator<Item = (&'m Path, &[Owner])> + '_ {
        self.map.iter()
    }
}

/// The pip `RECORD` packages whose `RECORD` file a package database owns:
/// the distribution installed that Python distribution (Debian's
/// `python3-pip` ships `pip-*.dist-info/RECORD`), and its package verifies
/// those files. Such a `RECORD` still lists the paths pip would have used
/// (`../../../bin/pip`), not where the distribution put them, so it is no
/// manifest of what is on disk.
fn distro_records(manifest: &Manifest, index: &crate::manifest::OwnerIndex) -> Vec<usize> {
    let is_pip = |pi: usize| manifest.packages[pi].source.backend == Backend::PipRecord;
    manifest
        .packages
        .iter()
        .enumerate()
        .filter(|&(pi, p)| {
            is_pip(pi)
                && p.files.iter().any(|f| {
                    f.path.ends_with("RECORD")
                        && index.of(&f.path).iter().any(|o| !is_pip(o.package))
                })
        })
        .map(|(pi, _)| pi)
        .collect()
}

/// Counters every check may add to, shown in the summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub files_checked: AtomicU64,
    pub bytes_hashed: AtomicU64,
    pub pycs_judged: AtomicU64,
}

impl Counters {
    pub fn add_file(&self) {
        self.files_checked.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add_bytes(&self, n: u64) {
        self.bytes_hashed.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_pyc(&self) {
        self.pycs_judged.fetch_add(1, Ordering::Relaxed);
    }
}

/// Where checks put what they find. Safe to share across threads.
///
/// What a check hands over at once ([`Sink::extend`]) is kept as it came,
/// a vector of its own, and the vectors are joined once, when the findings
/// are taken: a million findings are then neither copied as the sink
/// grows nor held twice over.
#[derive(Debug, Default)]
pub struct Sink {
    findings: Mutex<Vec<Vec<Finding>>>,
    pub counters: Counters,
    /// Inputs that could not be read at all (exit code 2).
    errors: Mutex<Vec<String>>,
}

impl Sink {
    pub fn push(&self, f: Finding) {
        let mut chunks = self.findings.lock().expect("sink");
        match chunks.last_mut() {
            Some(last) => last.push(f),
            None => chunks.push(vec![f]),
        }
    }
    pub fn extend(&self, fs: impl IntoIterator<Item = Finding>) {
        // A `Vec` collects into itself, in place.
        let fs: Vec<Finding> = fs.into_iter().collect();
        if !fs.is_empty() {
            self.findings.lock().expect("sink").push(fs);
        }
    }
    pub fn error(&self, e: impl std::fmt::Display) {
        self.errors.lock().expect("sink").push(e.to_string());
    }
    /// Takes the findings and errors out, leaving the counters.
    fn take(&self) -> (Vec<Finding>, Vec<String>) {
        let chunks = std::mem::take(&mut *self.findings.lock().expect("sink"));
        (
            join(chunks),
            std::mem::take(&mut *self.errors.lock().expect("sink")),
        )
    }
}

/// The chunks as one vector, grown from the largest: a large allocation
/// grows where it is (`mremap`), so the findings are never held twice.
fn join(mut chunks: Vec<Vec<Finding>>) -> Vec<Finding> {
    let Some(largest) = (0..chunks.len()).max_by_key(|&i| chunks[i].len()) else {
        return Vec::new();
    };
    let total = chunks.iter().map(Vec::len).sum::<usize>();
    let mut all = std::mem::take(&mut chunks[largest]);
    all.reserve_exact(total - all.len());
    for mut c in chunks {
        all.append(&mut c);
    }
    all
}

/// Everything a check may read. Files are read only through `tree`.
pub struct Context<'a> {
    pub tree: &'a dyn Tree,
    pub manifest: &'a Manifest,
    pub owners: Owners<'a>,
    pub policy: &'a Policy,
    pub options: &'a Options,
    /// The Python trees audited.
    pub python_trees: Vec<PathBuf>,
    /// Those of them that are bare build trees (as `bare_trees` decides): ownership
    /// checks skip them.
    pub bare_trees: Vec<PathBuf>,
    /// Whether the discovered trees (and the default-path zips beside
    /// them) are audited: no PATH was given, or `--also-discovered`.
    pub discovery: bool,
    /// Everything in them.
    pub inventory: Inventory,
    /// Packed resources files given as PATHs or `--manifest`, wherever they
    /// lie (`/opt/app/app.packed`), resolved inside the tree: each is
    /// audited with its resources, and its owner verified.
    pub packed_files: Vec<PathBuf>,
    /// Packages whose files are verified: those owning a path in a Python
    /// tree or a default-path zip (`/usr/lib/python3XY.zip`).
    pub audited_packages: Vec<usize>,
    /// Trusted interpreters for `--deep`.
    pub interpreters: Option<Interpreters>,
    /// Each package as findings name it, made once and shared by them.
    package_refs: Vec<OnceLock<Arc<finding::PackageRef>>>,
    /// Every owned file the owned check verifies ([`Context::owned_jobs`]).
    owned_jobs: OnceLock<Vec<Owner>>,
}

impl<'a> Context<'a> {
    /// Builds the context: discovers and walks the Python trees, indexes owners.
    pub fn new(
        tree: &'a dyn Tree,
        manifest: &'a Manifest,
        policy: &'a Policy,
        options: &'a Options,
    ) -> Self {
        Self::build(tree, manifest, policy, options, false)
    }

    /// [`Context::new`] for an audit that verifies owned files: their
    /// hashing starts ([`Tree::prefetch`]) before the Python trees are
    /// walked, and goes on beside the walk and the other checks.
    pub fn hashing(
        tree: &'a dyn Tree,
        manifest: &'a Manifest,
        policy: &'a Policy,
        options: &'a Options,
    ) -> Self {
        Self::build(tree, manifest, policy, options, true)
    }

    fn build(
        tree: &'a dyn Tree,
        manifest: &'a Manifest,
        policy: &'a Policy,
        options: &'a Options,
        prefetch: bool,
    ) -> Self {
        let owners = Owners::new(manifest);
        let pysource_prefix = pysource_prefix(options, policy);
        let mut discovered = walk::discover(tree, manifest);
        // The pysource prefix mirrors Python trees, and is none: its sources
        // are read by the marker check as its trees' sources, never imported.
        discovered.retain(|t| !pysource_prefix.is_some_and(|x| t.starts_with(x)));
        let (files, dirs): (Vec<&PathBuf>, Vec<&PathBuf>) = options.paths.iter().partition(|p| {
            tree.stat(p)
                .is_ok_and(|m| m.kind == crate::tree::Kind::File)
        });
        let given: Vec<PathBuf> = dirs
            .into_iter()
            .map(|p| walk::respell(tree, p, &discovered))
            .collect();
        let packed_files = packed_files(tree, files.into_iter().chain(&options.packed_manifests));
        // Given PATHs replace the discovered trees unless asked for both.
        let discovery = options.paths.is_empty() || options.also_discovered;
        let mut candidates = if discovery {
            discovered.clone()
        } else {
            Vec::new()
        };
        candidates.extend(given.iter().cloned());
        candidates.extend(options.pycache_prefixes.iter().cloned());
        let python_trees = walk::distinct(tree, candidates);
        let bare_trees = bare_trees(&python_trees, &given, &discovered, &owners);
        // Trees the manifest installs into that do not resolve to a
        // directory (a looping or escaping symlink) keep their packages
        // verified, whenever discovery runs.
        let mut owning_trees = python_trees.clone();
        if discovery {
            owning_trees.extend(walk::unresolved_trees(tree, manifest));
        }
        // A package of the prefix tree's sources is verified with its trees.
        if let Some(x) = pysource_prefix {
            let mirrors: Vec<PathBuf> = python_trees
                .iter()
                .map(|t| crate::bytecode::naming::mirrored(x, t))
                .collect();
            owning_trees.extend(mirrors);
        }
        // A packed file's owner is verified as a tree's packages are.
        owning_trees.extend(packed_files.iter().cloned());
        let mut audited_packages = audited_packages(manifest, &owning_trees, discovery);
        audited_packages.retain(|&p| !owners.is_distro_record(p));
        // `PYVET_NO_PREFETCH` (bench/audit.sh) turns the hashing ahead off,
        // to measure what it buys; the findings are the same either way.
        let owned_jobs = OnceLock::new();
        if prefetch && std::env::var_os("PYVET_NO_PREFETCH").is_none() {
            let jobs = owned_jobs
                .get_or_init(|| crate::check::owned::jobs_of(manifest, &owners, &audited_packages));
            tree.prefetch(crate::check::owned::prefetch_jobs(manifest, jobs));
        }
        crate::timing::phase("hashing started");
        let inventory = Inventory::walk(tree, &python_trees);
        crate::timing::phase("trees walked");
        Context {
            tree,
            manifest,
            owners,
            policy,
            options,
            python_trees,
            bare_trees,
            discovery,
            inventory,
            packed_files,
            audited_packages,
            interpreters: None,
            package_refs: package_refs(manifest),
            owned_jobs,
        }
    }

    /// The pysource prefix in effect: `--pysource-prefix`, else the policy's.
    pub fn pysource_prefix(&self) -> Option<&Path> {
        pysource_prefix(self.options, self.policy)
    }

    /// The package and entry of an owner.
    pub fn entry(&self, o: Owner) -> (&'a Package, &'a FileEntry) {
        self.manifest.entry(o)
    }

    /// Every (package, file) the owned check verifies, listed once: when
    /// building the context for the hashing ahead, else on first use.
    pub fn owned_jobs(&self) -> &[Owner] {
        self.owned_jobs.get_or_init(|| {
            crate::check::owned::jobs_of(self.manifest, &self.owners, &self.audited_packages)
        })
    }

    /// The first owner's package, as a finding names it.
    pub fn package_of(&self, path: &Path) -> Option<Arc<finding::PackageRef>> {
        let o = self.owners.of(path).first()?;
        Some(self.package_ref(o.package))
    }

    /// Package `pi` of the manifest as a finding names it: one shared
    /// reference per package, however many findings name it.
    pub fn package_ref(&self, pi: usize) -> Arc<finding::PackageRef> {
        let p = &self.manifest.packages[pi];
        match self.package_refs.get(pi) {
            Some(cell) => cell
                .get_or_init(|| Arc::new(finding::PackageRef::of(p)))
                .clone(),
            None => Arc::new(finding::PackageRef::of(p)),
        }
    }

    /// The SELinux label of a path, for evidence.
    pub fn selinux(&self, path: &Path) -> Option<String> {
        let mut v = self.tree.xattr(path, "security.selinux")?;
        while v.last() == Some(&0) {
            v.pop();
        }
        Some(String::from_utf8_lossy(&v).into_owned())
    }

    /// Whether a path lies in one of the audited Python trees.
    pub fn in_python_tree(&self, path: &Path) -> bool {
        self.python_trees.iter().any(|t| path.starts_with(t))
    }

    /// Whether the audit covers nothing: no Python tree, and no default-path
    /// zip (which is on an interpreter's `sys.path` even without a tree).
    pub fn audits_nothing(&self) -> bool {
        self.python_trees.is_empty()
            && self.packed_files.is_empty()
            && !crate::check::zipped::has_default_zip(self)
    }

    /// Whether ownership says nothing about `path`: there is no manifest
    /// at all, or the path lies in a bare build tree (as `bare_trees` decides).
    /// Ownership findings (`unowned-*`, a marker nothing owns) are not
    /// made there; every other check still is.
    pub fn is_bare(&self, path: &Path) -> bool {
        self.manifest.packages.is_empty() || self.bare_trees.iter().any(|t| path.starts_with(t))
    }
}

/// The given packed resources files as the tree resolves them (a link
/// inside the tree is followed there, never out of it), each once.
fn packed_files<'p>(tree: &dyn Tree, given: impl Iterator<Item = &'p PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = given.filter_map(|p| tree.resolve(p).ok()).collect();
    out.sort();
    out.dedup();
    out
}

/// An empty cell per package of the manifest, for [`Context::package_ref`].
fn package_refs(manifest: &Manifest) -> Vec<OnceLock<Arc<finding::PackageRef>>> {
    manifest.packages.iter().map(|_| OnceLock::new()).collect()
}

/// `--pysource-prefix`, else the policy's.
fn pysource_prefix<'a>(options: &'a Options, policy: &'a Policy) -> Option<&'a Path> {
    options
        .pysource_prefix
        .as_deref()
        .or(policy.pysource_prefix.as_deref())
}

/// The trees given as PATHs in which no manifest owns a single path: bare
/// build trees (`BUILDROOT/usr/lib64/python3.12` audited on a host whose
/// databases know nothing of it). Every file there is unowned, so ownership
/// findings would only say the tree is not packaged yet; the audit says so
/// once (`no-manifest`) instead.
///
/// Only given trees qualify, never a discovered one, nor a given one that
/// is, holds or lies in a discovered tree: a `python3.X` tree nothing owns is
/// exactly what an attacker can create on a host (`/usr/local/lib/python3.11`
/// with an `evil.pth`), and the discovered trees' ownership findings are
/// the audit's point, whatever else is on the command line.
fn bare_trees(
    trees: &[PathBuf],
    given: &[PathBuf],
    discovered: &[PathBuf],
    owners: &Owners,
) -> Vec<PathBuf> {
    let candidates: Vec<&PathBuf> = trees
        .iter()
        .filter(|t| {
            given.contains(t)
                && !discovered
                    .iter()
                    .any(|d| d.starts_with(t) || t.starts_with(d))
        })
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut owned = vec![false; candidates.len()];
    for (path, _) in owners.iter() {
        for (i, t) in candidates.iter().enumerate() {
            owned[i] |= path.starts_with(t);
        }
    }
    candidates
        .into_iter()
        .zip(owned)
        .filter(|&(_, o)| !o)
        .map(|(t, _)| t.clone())
        .collect()
}

/// The packages owning a path in an audited tree, or (when the discovered
/// trees are audited) a default-path zip.
fn audited_packages(manifest: &Manifest, trees: &[PathBuf], discovery: bool) -> Vec<usize> {
    manifest
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.files.iter().any(|f| {
                trees.iter().any(|t| crate::manifest::is_under(&f.path, t))
                    || (discovery && crate::check::zipped::is_default_zip(&f.path))
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// The outcome of an audit, ready to render.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub root: String,
    pub policy: String,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    /// Findings a policy `[[accept]]` entry or the `--baseline` accepts,
    /// each with why: reported, never failing the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<crate::policy::accept::AcceptedFinding>,
    /// Inputs that could not be read (these make the exit code 2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

pub const SCHEMA: &str = "pyvet-audit/1";

/// Counts for the summary.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub packages: usize,
    pub python_trees: Vec<String>,
    pub files_checked: u64,
    pub bytes_hashed: u64,
    pub pycs_judged: u64,
    pub findings: usize,
    pub by_severity: std::collections::BTreeMap<&'static str, usize>,
    pub by_rule: std::collections::BTreeMap<&'static str, usize>,
}

impl Report {
    /// The highest severity reported, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Runs every check family on `ctx`, applies the policy and sorts.
pub fn run(ctx: &Context, load_errors: Vec<String>) -> Report {
    run_with(ctx, &Sink::default(), load_errors)
}

/// [`run`] into a sink the caller owns, so that another thread can watch
/// its counters (the progress bar) while the checks run.
pub fn run_with(ctx: &Context, sink: &Sink, load_errors: Vec<String>) -> Report {
    run_checks(ctx, sink, load_errors, crate::check::AUDIT)
}

/// [`run_with`] for a chosen set of check families (`pyvet markers` runs
/// the layout families only). The policy sets severities, then its
/// `[[accept]]` entries and the baseline set accepted findings apart.
pub fn run_checks(
    ctx: &Context,
    sink: &Sink,
    load_errors: Vec<String>,
    checks: crate::check::Checks,
) -> Report {
    for e in &ctx.inventory.errors {
        sink.error(e);
    }
    unwalked(ctx, sink);
    (checks.run)(ctx, sink);
    let (findings, mut errors) = sink.take();
    // Families run side by side: their errors arrive in any order.
    errors.sort();
    errors.splice(0..0, load_errors);
    let levelled = |fs: Vec<Finding>| -> Vec<Finding> {
        fs.into_iter()
            .filter_map(|mut f| {
                f.severity = ctx.policy.apply(f.rule, f.severity)?;
                if f.evidence.layer.is_none() {
                    // Only set when there is one: evidence is shared until changed.
                    if let Some(layer) = ctx.tree.origin(&f.path) {
                        f.evidence.layer = Some(Box::new(layer));
                    }
                }
                Some(f)
            })
            .collect()
    };
    let split = crate::policy::accept::split(
        levelled(findings),
        ctx.policy,
        ctx.options.baseline.as_ref(),
        checks.families,
    );
    let mut findings = split.kept;
    findings.extend(levelled(split.gone));
    // The message is the last key, made only for findings alike in the rest.
    let order = |a: &Finding, b: &Finding| {
        (b.severity, &a.path, a.rule.id)
            .cmp(&(a.severity, &b.path, b.rule.id))
            .then_with(|| a.message().cmp(&b.message()))
    };
    // Unstable: no second buffer of findings; the order of findings the
    // order calls equal was never fixed (families run side by side).
    findings.sort_unstable_by(order);
    let mut accepted = split.accepted;
    accepted.sort_unstable_by(|a, b| order(&a.finding, &b.finding));
    let summary = summarise(ctx, &findings, &sink.counters);
    Report {
        schema: SCHEMA,
        root: ctx.tree.label(),
        policy: ctx.policy.name.clone(),
        summary,
        findings,
        accepted,
        errors,
    }
}

/// One finding per directory the walk did not look into: the audit is
/// blind below it, which is what an attacker building a deep nest wants.
fn unwalked(ctx: &Context, sink: &Sink) {
    for u in &ctx.inventory.unwalked {
        let mut f = Finding::new(rules::TREE_TOO_DEEP, &u.path, u.why.cause())
            .package(ctx.package_of(&u.path))
            .extra("depth-limit", crate::limits::MAX_TREE_DEPTH.to_string())
            .extra("not-audited", "everything below this directory");
        if let Some(meta) = ctx.inventory.get(&u.path) {
            f = f.file(meta, ctx.selinux(&u.path));
        }
        sink.push(f);
    }
}

fn summarise(ctx: &Context, findings: &[Finding], c: &Counters) -> Summary {
    let mut by_severity = std::collections::BTreeMap::new();
    let mut by_rule = std::collections::BTreeMap::new();
    for f in findings {
        *by_severity.entry(f.severity.as_str()).or_insert(0) += 1;
        *by_rule.entry(f.rule.id).or_insert(0) += 1;
    }
    Summary {
        packages: ctx.audited_packages.len(),
        python_trees: ctx
            .python_trees
            .iter()
            .map(|t| t.display().to_string())
            .collect(),
        files_checked: c.files_checked.load(Ordering::Relaxed),
        bytes_hashed: c.bytes_hashed.load(Ordering::Relaxed),
        pycs_judged: c.pycs_judged.load(Ordering::Relaxed),
        findings: findings.len(),
        by_severity,
        by_rule,
    }
}

#[cfg(test)]
mod owners_tests {
    use super::*;
    use crate::testutil::package as pkg;

    #[test]
    fn a_record_the_distribution_installed_is_no_second_manifest() {
        let rec = "/usr/lib/python3/dist-packages/pip-23.dist-info/RECORD";
        let m = Manifest {
            packages: vec![
                pkg(
                    "python3-pip",
                    Backend::Dpkg,
                    &[rec, "/usr/lib/python3/dist-packages/pip/__init__.py"],
                ),
                pkg(
                    "pip",
                    Backend::PipRecord,
                    &[
                        rec,
                        "/usr/lib/python3/dist-packages/pip/__init__.py",
                        "/usr/lib/python3/scripts/pip",
                    ],
                ),
                pkg(
                    "six",
                    Backend::PipRecord,
                    &["/usr/local/lib/python3.11/dist-packages/six.py"],
                ),
            ],
        };
        let owners = Owners::new(&m);
        // Debian's pip RECORD names a script where pip would have put it:
        // not owned, so never "missing".
        assert!(!owners.is_owned(Path::new("/usr/lib/python3/scripts/pip")));
        let init = owners.of(Path::new("/usr/lib/python3/dist-packages/pip/__init__.py"));
        assert_eq!(init.iter().map(|o| o.package).collect::<Vec<_>>(), [0]);
        // A RECORD nothing else owns is the manifest of what pip installed.
        assert!(owners.is_owned(Path::new("/usr/local/lib/python3.11/dist-packages/six.py")));
        assert_eq!(distro_records(&m, &m.owners()), [1]);
        assert!(owners.is_distro_record(1) && !owners.is_distro_record(2));
    }

    #[test]
    fn only_given_trees_nothing_owns_are_bare() {
        let m = Manifest {
            packages: vec![pkg(
                "python3.11",
                Backend::Dpkg,
                &["/usr/lib/python3.11/os.py", "/srv/app/lib/python3.11/a.py"],
            )],
        };
        let owners = Owners::new(&m);
        let p = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        let discovered = p(&["/usr/lib/python3.11", "/usr/local/lib/python3.11"]);
        let given = p(&[
            "/build/usr/lib/python3.12",
            "/srv/app/lib/python3.11",
            "/usr/local/lib/python3.11",
            "/usr/local/lib/python3.11/site-packages",
            "/usr/local",
        ]);
        let mut trees = discovered.clone();
        trees.extend(given.iter().cloned());
        // Owned inside, discovered, inside or around a discovered tree:
        // none of these is bare; the unknown build tree is.
        assert_eq!(
            bare_trees(&trees, &given, &discovered, &owners),
            p(&["/build/usr/lib/python3.12"])
        );
        assert!(bare_trees(&trees, &[], &discovered, &owners).is_empty());
    }
}

#[cfg(test)]
mod sink_tests {
    use super::*;

    #[test]
    fn what_is_pushed_and_handed_over_is_taken_whole() {
        let f = |p: &str| Finding::new(rules::UNOWNED_FILE, p, "x");
        let sink = Sink::default();
        sink.push(f("/a"));
        sink.extend(vec![f("/b"), f("/c"), f("/d")]);
        sink.extend(Vec::new());
        sink.push(f("/e"));
        sink.extend([f("/f")]);
        let (mut all, _) = sink.take();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<_> = all.iter().map(|f| f.display_path()).collect();
        assert_eq!(paths, ["/a", "/b", "/c", "/d", "/e", "/f"]);
        assert!(sink.take().0.is_empty());
    }
}
