//! Builds scenario roots with the real tools: a subset of this machine's
//! real CPython stdlib, byte-compiled by the interpreter itself
//! (`compileall -o 0 -o 1 -o 2`, the status-quo layout), packaged with
//! `rpmbuild` and installed with `rpm --root R --dbpath /var/lib/rpm`.
//!
//! Every test gets its own root in a temporary directory, so tests can
//! tamper with it freely.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run_stdout;

/// The interpreter whose stdlib is packaged (Debian's, on the test machines).
pub const PYTHON: &str = "python3.11";
/// Where that stdlib lives, on the host and in the scenario root.
pub const STDLIB: &str = "/usr/lib/python3.11";
/// The packaged subset: small, pure-Python, and not frozen into the interpreter.
pub const SUBSET: &[&str] = &[
    "colorsys.py",
    "keyword.py",
    "bisect.py",
    "json/__init__.py",
    "json/decoder.py",
    "json/encoder.py",
    "json/scanner.py",
    "json/tool.py",
];
/// The package name of the status-quo stdlib subset.
pub const PACKAGE: &str = "pyvet-stdlib-subset";

/// A root with the status-quo subset installed by rpm.
pub struct RpmRoot {
    _dir: tempfile::TempDir,
    /// The root directory (`--root`).
    pub root: PathBuf,
    /// The `.rpm` that was installed.
    pub rpm: PathBuf,
}

impl RpmRoot {
    /// Packages and installs the subset into a fresh root.
    pub fn status_quo() -> RpmRoot {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("stage");
        stage_subset(&stage);
        compile(&stage.join(&STDLIB[1..]), &[0, 1, 2]);
        let rpm = build_rpm(dir.path(), &stage, PACKAGE);
        let root = dir.path().join("root");
        install(&root, &rpm);
        RpmRoot {
            _dir: dir,
            root,
            rpm,
        }
    }

    /// Builds a second package, `name`, holding only the given sources (no
    /// pycs: `(path inside the root, content)`), with `rpmbuild`, and
    /// installs it into this root with `rpm --root`.
    pub fn install_sources_only(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let work = self.root.parent().unwrap().join(format!("work-{name}"));
        let stage = work.join("stage");
        for (path, content) in files {
            let to = stage.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, content).unwrap();
        }
        let rpm = build_rpm(&work, &stage, name);
        install(&self.root, &rpm);
        rpm
    }

    /// A path inside the root.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    /// `rpm --root R --dbpath /var/lib/rpm -V --nodeps --noscripts PACKAGE`,
    /// its output lines (rpm exits 1 when anything differs).
    pub fn rpm_verify(&self) -> Vec<String> {
        let out = Command::new("rpm")
            .args(["--root"])
            .arg(&self.root)
            .args([
                "--dbpath",
                "/var/lib/rpm",
                "-V",
                "--nodeps",
                "--noscripts",
                PACKAGE,
            ])
            .output()
            .expect("rpm runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Copies the subset of the host's stdlib (read only) into `stage`.
pub fn stage_subset(stage: &Path) {
    for f in SUBSET {
        let to = stage.join(&STDLIB[1..]).join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(Path::new(STDLIB).join(f), &to).unwrap();
    }
}

/// `python -m compileall` at the given optimisation levels, recording the
/// installed path (`-d`) as co_filename, as distribution builds do.
pub fn compile(dir: &Path, levels: &[u8]) {
    let mut cmd = Command::new(PYTHON);
    cmd.args(["-m", "compileall", "-q", "-f", "-d", STDLIB]);
    for l in levels {
        cmd.args(["-o", &l.to_string()]);
    }
    cmd.arg(dir);
    run_stdout(&mut cmd);
}

/// Packages everything under `stage` as a noarch rpm named `name`.
pub fn build_rpm(work: &Path, stage: &Path, name: &str) -> PathBuf {
    build_rpm_with(work, stage, name, &[])
}

/// [`build_rpm`] with extra rpm macros (`("_binary_payload", "w19.zstdio")`).
pub fn build_rpm_with(work: &Path, stage: &Path, name: &str, macros: &[(&str, &str)]) -> PathBuf {
    let top = work.join("rpmbuild");
    let spec = work.join(format!("{name}.spec"));
    let files: Vec<String> = walkdir::WalkDir::new(stage)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir() || e.path().starts_with(stage.join(&STDLIB[1..])))
        .map(|e| {
            let rel = e.path().strip_prefix(stage).unwrap().display().to_string();
            if e.file_type().is_dir() {
                format!("%dir /{rel}")
            } else {
                format!("/{rel}")
            }
        })
        .collect();
    std::fs::write(
        &spec,
        format!(
            "Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: pyvet scenario\nLicense: PSF-2.0\nBuildArch: noarch\n\
             %description\nA subset of CPython's stdlib, for pyvet's scenario tests.\n\
             %install\ncp -a {stage}/. %{{buildroot}}/\n\
             %files\n{files}\n",
            stage = stage.display(),
            files = files.join("\n")
        ),
    )
    .unwrap();
    rpmbuild(&top, &spec, macros);
    let rpm = top.join(format!("RPMS/noarch/{name}-1.0-1.noarch.rpm"));
    assert!(rpm.is_file(), "rpmbuild made no {}", rpm.display());
    rpm
}

/// `rpmbuild -bb SPEC` into `top`, with extra macros. No strip, no
/// compression of man pages, no byte-compiling: the package holds exactly
/// what was staged.
pub fn rpmbuild(top: &Path, spec: &Path, macros: &[(&str, &str)]) {
    run_stdout(
        Command::new("rpmbuild")
            .arg("-bb")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args(["--define", "__os_install_post %{nil}"])
            .args(["--define", "_build_id_links none"])
            .args(
                macros
                    .iter()
                    .flat_map(|(k, v)| ["--define".to_owned(), format!("{k} {v}")]),
            )
            .arg(spec),
    );
}

/// `rpm --root ROOT --dbpath /var/lib/rpm -i` without scripts or deps.
pub fn install(root: &Path, rpm: &Path) {
    std::fs::create_dir_all(root).unwrap();
    run_stdout(
        Command::new("rpm")
            .arg("--root")
            .arg(root)
            .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts"])
            .arg(rpm),
    );
}
