//! The build gates: a real `rpmbuild` of a small Python package whose spec
//! uses packaging/rpm/macros.pyvet (`%pyvet_layout`, `%pyvet_check`) with
//! this build's pyvet, failing on a planted sourceless pyc and passing
//! without it; and the Debian `override_dh_auto_test` line on a real package
//! tree packed with `dpkg-deb`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::rpmroot::{compile, stage_subset, STDLIB};

fn packaging(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging")
        .join(rel)
}

/// A status-quo stdlib subset, as a package's `make install` leaves it.
fn master(dir: &Path) -> PathBuf {
    let m = dir.join("master");
    stage_subset(&m);
    compile(&m.join(&STDLIB[1..]), &[0, 1, 2]);
    m
}

/// `rpmbuild -bb` of a spec using the macros; `plant` adds a sourceless pyc
/// after the layout is made (and lists it, so only the gate can object).
fn rpmbuild(dir: &Path, master: &Path, plant: bool) -> (bool, String, String) {
    let work = dir.join(if plant { "planted" } else { "clean" });
    std::fs::create_dir_all(&work).unwrap();
    let lib = &STDLIB[1..];
    let (plant_cmd, plant_file) = if plant {
        (
            format!("cp %{{buildroot}}/{lib}/__pycache__/bisect.cpython-311.pyc %{{buildroot}}/{lib}/evil.pyc\n"),
            format!("{STDLIB}/evil.pyc\n"),
        )
    } else {
        (String::new(), String::new())
    };
    let spec = work.join("gate.spec");
    std::fs::write(
        &spec,
        format!(
            "Name: gate\nVersion: 1.0\nRelease: 1\nSummary: pyvet gate\nLicense: PSF-2.0\nBuildArch: noarch\n\
             %global pyvet_policy fedora-py-opt0\n\
             %description\nA stdlib subset built through pyvet's macros.\n\
             %package pycache\nSummary: pycs\n%description pycache\npycs.\n\
             %install\ncp -a {master}/. %{{buildroot}}/\n%pyvet_layout py-opt0\n{plant_cmd}\
             %check\n%pyvet_check\n\
             %files -f %{{pyvet_split}}/base.files\n{plant_file}\
             %files pycache -f %{{pyvet_split}}/pycache.files\n",
            master = master.display()
        ),
    )
    .unwrap();
    common::run(
        Command::new("rpmbuild")
            .args(["-bb"])
            .arg("--load")
            .arg(packaging("rpm/macros.pyvet"))
            .arg("--define")
            .arg(format!("_topdir {}", work.join("rpmbuild").display()))
            .arg("--define")
            .arg(format!("_builddir {}", work.display()))
            .arg("--define")
            .arg(format!("pyvet_bin {}", env!("CARGO_BIN_EXE_pyvet")))
            .arg("--define")
            .arg(format!(
                "pyvet_brp {}",
                packaging("rpm/brp-pyvet").display()
            ))
            .args(["--define", "__os_install_post %{nil}"])
            .args(["--define", "_build_id_links none"])
            .arg(&spec),
    )
}

#[test]
fn the_rpm_gate_fails_on_a_planted_sourceless_pyc_and_passes_without() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    let (ok, out, err) = rpmbuild(dir.path(), &master, false);
    assert!(ok, "{out}\n{err}");
    let rpms = dir.path().join("clean/rpmbuild/RPMS/noarch");
    for name in ["gate-1.0-1.noarch.rpm", "gate-pycache-1.0-1.noarch.rpm"] {
        assert!(rpms.join(name).is_file(), "{name}");
    }
    let (ok, out, err) = rpmbuild(dir.path(), &master, true);
    assert!(!ok, "{out}\n{err}");
    assert!(
        out.contains(&format!("layout-unexpected  {STDLIB}/evil.pyc")),
        "{out}\n{err}"
    );
    assert!(err.contains("brp-pyvet: pyvet found problems"), "{err}");
    assert!(
        err.contains("Bad exit status from") && err.contains("%check"),
        "{err}"
    );
    assert!(!dir
        .path()
        .join("planted/rpmbuild/RPMS/noarch/gate-1.0-1.noarch.rpm")
        .exists());
}

/// A Debian package tree `debian/pyvet-demo` (sources only: py3compile makes
/// the pycs at install), gated by the documented rule run with `make`, then
/// packed by `dpkg-deb` when the gate passes.
fn debian_build(dir: &Path, plant: bool) -> (bool, String, String, PathBuf) {
    let work = dir.join(if plant { "deb-planted" } else { "deb-clean" });
    let pkg = work.join("debian/pyvet-demo");
    let lib = pkg.join(&STDLIB[1..]);
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: pyvet-demo\nVersion: 1.0\nArchitecture: all\nMaintainer: pyvet <pyvet@example.org>\n\
         Description: pyvet gate demo\n A stdlib subset.\n",
    )
    .unwrap();
    for f in ["bisect.py", "keyword.py", "colorsys.py"] {
        std::fs::copy(Path::new(STDLIB).join(f), lib.join(f)).unwrap();
    }
    if plant {
        common::run_stdout(Command::new(common::rpmroot::PYTHON).args([
            "-c",
            "import py_compile,sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3])",
        ]).arg(lib.join("bisect.py")).arg(lib.join("evil.pyc")).arg(format!("{STDLIB}/evil.py")));
    }
    let (ok, out, err) = common::run(
        Command::new("make")
            .current_dir(&work)
            .arg("-f")
            .arg(packaging("debian/pyvet-gate.mk"))
            .arg("execute_after_dh_install")
            .arg(format!("PYVET={}", env!("CARGO_BIN_EXE_pyvet")))
            .arg(format!(
                "PYVET_GATE={}",
                packaging("rpm/brp-pyvet").display()
            ))
            .arg(format!(
                "PYVET_POLICY={}",
                packaging("debian/debian-build.toml").display()
            ))
            .arg("PYVET_PACKAGES=pyvet-demo"),
    );
    let deb = work.join("pyvet-demo_1.0_all.deb");
    if ok {
        common::run_stdout(
            Command::new("dpkg-deb")
                .args(["--root-owner-group", "--build"])
                .arg(&pkg)
                .arg(&deb),
        );
    }
    (ok, out, err, deb)
}

#[test]
fn the_debian_gate_fails_on_a_planted_sourceless_pyc_and_passes_without() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err, deb) = debian_build(dir.path(), false);
    assert!(ok, "{out}\n{err}");
    assert!(deb.is_file());
    let (ok, out, err, deb) = debian_build(dir.path(), true);
    assert!(!ok, "{out}\n{err}");
    assert!(
        out.contains(&format!("layout-unexpected  {STDLIB}/evil.pyc")),
        "{out}\n{err}"
    );
    assert!(err.contains("brp-pyvet: pyvet found problems"), "{err}");
    assert!(!deb.exists());
}
