//! Builds dpkg scenario roots with the real tools: the same subset of this
//! machine's CPython stdlib as [`super::rpmroot`] (copied read-only, not
//! byte-compiled: Debian packages ship no pycs), plus one conffile,
//! packaged with `dpkg-deb --build` (no maintainer scripts) and installed
//! with `dpkg --root R -i`.
//!
//! dpkg needs its admin directory to exist: `R/var/lib/dpkg/status` (empty),
//! `updates/` and `info/` are created first. `--force-script-chrootless`
//! lets dpkg work on a root that has no shell to chroot into (the package
//! has no scripts, so nothing runs either way), and `--force-not-root`
//! keeps the helper usable where tests do not run as root. `--root` makes
//! dpkg write only under R (instdir and admindir).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::rpmroot::{stage_subset, STDLIB};
use super::run_stdout;

/// The package name (same as the rpm scenario's).
pub const PACKAGE: &str = "pyvet-stdlib-subset";
/// The conffile the package ships.
pub const CONFFILE: &str = "/etc/pyvet.conf";

/// A root with the subset installed by dpkg.
pub struct DpkgRoot {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub deb: PathBuf,
}

impl DpkgRoot {
    pub fn status_quo() -> DpkgRoot {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("stage");
        stage_subset(&stage);
        std::fs::create_dir_all(stage.join("etc")).unwrap();
        std::fs::write(stage.join(&CONFFILE[1..]), "[pyvet]\nlevel = strict\n").unwrap();
        let deb = build_deb(dir.path(), &stage);
        let root = dir.path().join("root");
        install(&root, &deb);
        DpkgRoot {
            _dir: dir,
            root,
            deb,
        }
    }

    pub fn path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    /// `dpkg --root R --verify PACKAGE`, its output lines.
    pub fn dpkg_verify(&self) -> Vec<String> {
        let out = Command::new("dpkg")
            .arg("--root")
            .arg(&self.root)
            .args(["--verify", PACKAGE])
            .output()
            .expect("dpkg runs");
        assert!(
            out.stderr.is_empty(),
            "dpkg --verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// `DEBIAN/control`, `DEBIAN/conffiles` and `DEBIAN/md5sums` (from
/// coreutils' `md5sum`, as dh_md5sums writes it: conffiles left out), then
/// `dpkg-deb --build`.
pub fn build_deb(work: &Path, stage: &Path) -> PathBuf {
    let debian = stage.join("DEBIAN");
    std::fs::create_dir_all(&debian).unwrap();
    std::fs::write(
        debian.join("control"),
        format!(
            "Package: {PACKAGE}\nVersion: 1.0-1\nArchitecture: all\n\
             Maintainer: pyvet tests <pyvet@example.invalid>\n\
             Description: pyvet scenario\n A subset of CPython's stdlib.\n"
        ),
    )
    .unwrap();
    std::fs::write(debian.join("conffiles"), format!("{CONFFILE}\n")).unwrap();
    let sources: Vec<String> = walkdir::WalkDir::new(stage.join(&STDLIB[1..]))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(stage).unwrap().display().to_string())
        .collect();
    let sums = run_stdout(Command::new("md5sum").args(&sources).current_dir(stage));
    std::fs::write(debian.join("md5sums"), sums).unwrap();
    let deb = work.join(format!("{PACKAGE}_1.0-1_all.deb"));
    run_stdout(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(stage)
            .arg(&deb),
    );
    deb
}

/// Creates an empty dpkg admin directory under `root`.
pub fn admin(root: &Path) {
    let admin = root.join("var/lib/dpkg");
    for d in ["updates", "info"] {
        std::fs::create_dir_all(admin.join(d)).unwrap();
    }
    std::fs::write(admin.join("status"), "").unwrap();
}

/// Creates dpkg's admin directory under `root` and installs `deb` there.
pub fn install(root: &Path, deb: &Path) {
    admin(root);
    run_stdout(
        Command::new("dpkg")
            .arg("--root")
            .arg(root)
            .args([
                "--force-script-chrootless",
                "--force-not-root",
                "--no-triggers",
                "-i",
            ])
            .arg(deb),
    );
}
