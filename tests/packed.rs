//! Scenario tests of PyOxidizer packed resources in a Python tree: the
//! fixture `tests/fixtures/packed/app.pyor` was written by PyOxidizer's own
//! writer (`python-packed-resources`) from bytecode python3.11 compiled
//! (`make.sh`); it is dropped, unowned, into the site-packages of a real
//! rpm-installed root.
//!
//! Its modules: `app` (package: source, opt-0 bytecode, a data file),
//! `app.good` (source, bytecode at 0, 1, 2 compiled from it),
//! `app.tampered` (source, bytecode compiled from other code),
//! `app.sourceless` (bytecode only).
//!
//! `pyvet size` prices it per layout as PyOxidizer's writer would write
//! what the layout keeps (checked against the writer's own output), and
//! `pyvet audit` takes it as a PATH or `--manifest` wherever it lies.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use common::audit::{finding, json as audit, not_owned, set};
use common::rpmroot::{build_rpm, install, RpmRoot};
use python_packed_resources::{load_resources, write_packed_resources_v3, Resource};
use serde_json::Value;

const FIXTURE: &[u8] = include_bytes!("fixtures/packed/app.pyor");
const FILE: &str = "/usr/lib/python3.11/site-packages/app.pyor";

fn at(module: &str) -> String {
    format!("{FILE}/{module}")
}

/// A root with the status-quo subset and `bytes` as the unowned FILE.
fn root_with(bytes: &[u8]) -> RpmRoot {
    let r = RpmRoot::status_quo();
    let to = r.path(FILE);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(&to, bytes).unwrap();
    r
}

/// The findings of the packed check and the unowned one at FILE.
fn packed_findings(report: &serde_json::Value) -> BTreeSet<(String, String)> {
    not_owned(report)
        .into_iter()
        .filter(|(_, p)| p.starts_with(FILE))
        .collect()
}

/// pyvet's reader sees what PyOxidizer's own reader sees in the fixture.
#[test]
fn the_reference_reader_agrees() {
    let ours = pyvet::format::packed::Packed::parse(FIXTURE).unwrap();
    let theirs: Vec<_> = load_resources(FIXTURE)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ours.resources.len(), theirs.len());
    for (a, b) in ours.resources.iter().zip(&theirs) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.source, b.in_memory_source.as_deref());
        assert_eq!(a.bytecode[0], b.in_memory_bytecode.as_deref());
        assert_eq!(a.bytecode[1], b.in_memory_bytecode_opt1.as_deref());
        assert_eq!(a.bytecode[2], b.in_memory_bytecode_opt2.as_deref());
        assert_eq!(a.flags.package, b.is_python_package);
        let data = b.in_memory_package_resources.as_ref();
        assert_eq!(a.package_data.len(), data.map_or(0, |d| d.len()));
    }
}

#[test]
fn embedded_bytecode_is_judged_at_file_slash_module() {
    let r = root_with(FIXTURE);
    let report = audit(&r.root, &[]);
    assert_eq!(
        packed_findings(&report),
        set(&[
            ("unowned-module", FILE),
            ("sourceless-bytecode", &at("app.sourceless")),
            ("packed-unchecked-bytecode", &at("app")),
            ("packed-unchecked-bytecode", &at("app.good")),
            ("packed-unchecked-bytecode", &at("app.tampered")),
        ])
    );
    let f = finding(&report, "sourceless-bytecode", &at("app.sourceless"));
    assert_eq!(f["severity"], "error");
    assert_eq!(f["evidence"]["bytecode"]["python"], "3.11");
    assert_eq!(f["evidence"]["extra"]["packed-resources"], FILE, "{f}");
    assert_eq!(f["evidence"]["extra"]["module"], "app.sourceless");

    // --deep compiles each embedded source with the trusted python3.11 and
    // compares: only the tampered module's code is not its source's.
    let report = audit(&r.root, &["--deep"]);
    assert_eq!(
        packed_findings(&report),
        set(&[
            ("unowned-module", FILE),
            ("sourceless-bytecode", &at("app.sourceless")),
            ("diverging-bytecode", &at("app.tampered")),
        ])
    );
}

/// Hostile files are findings, never crashes: every truncation of the real
/// fixture in one root, each `packed-malformed` at its own file.
#[test]
fn truncations_are_malformed_findings() {
    let r = RpmRoot::status_quo();
    let dir = r.path("/usr/lib/python3.11/site-packages");
    std::fs::create_dir_all(&dir).unwrap();
    // Cuts shorter than the header are no candidates (too short to be one).
    let cuts: Vec<usize> = (pyvet::format::packed::HEADER_LEN..FIXTURE.len()).collect();
    for &cut in &cuts {
        std::fs::write(dir.join(format!("cut{cut}.pyor")), &FIXTURE[..cut]).unwrap();
    }
    let report = audit(&r.root, &[]);
    let malformed: BTreeSet<String> = not_owned(&report)
        .into_iter()
        .filter(|(rule, _)| rule == "packed-malformed")
        .map(|(_, p)| p)
        .collect();
    let want: BTreeSet<String> = cuts
        .iter()
        .map(|c| format!("/usr/lib/python3.11/site-packages/cut{c}.pyor"))
        .collect();
    assert_eq!(malformed, want);
}

const FIXTURE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/packed/app.pyor"
);

/// `pyvet manifest` lists the modules.
#[test]
fn manifest_lists_it() {
    let out = pyvet(&["manifest", "--db", "none", FIXTURE_PATH]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("app.pyor-pyembed3  10 files  packed-resources:"),
        "{text}"
    );
}

fn pyvet(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("pyvet")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

/// The fixture's resources as PyOxidizer's reader returns them.
fn reference() -> Vec<Resource<'static, u8>> {
    load_resources(FIXTURE)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What PyOxidizer's writer makes of the resources, in bytes.
fn written(resources: &[Resource<u8>]) -> u64 {
    let mut out = Vec::new();
    write_packed_resources_v3(resources, &mut out, None).unwrap();
    out.len() as u64
}

/// The fixture as each layout keeps it, written by PyOxidizer's writer:
/// a module with a source loses the bytecode levels the layout drops
/// (option 1 all, py-opt0 and option 2 opt 1 and 2) and, in minimal, its
/// source for its opt-0 bytecode; a module without a source keeps its
/// bytecode.
fn writer_sizes() -> Vec<(&'static str, u64)> {
    pyvet::layout::LAYOUTS
        .iter()
        .map(|(layout, _)| {
            let mut rs = reference();
            for r in rs.iter_mut().filter(|r| r.in_memory_source.is_some()) {
                let (levels, source) = match *layout {
                    "status-quo" | "option1-full" => (3, true),
                    "option1" => (0, true),
                    "minimal" => (1, r.in_memory_bytecode.is_none()),
                    _ => (1, true),
                };
                if levels < 3 {
                    r.in_memory_bytecode_opt1 = None;
                    r.in_memory_bytecode_opt2 = None;
                }
                if levels == 0 {
                    r.in_memory_bytecode = None;
                }
                if !source {
                    r.in_memory_source = None;
                }
            }
            (*layout, written(&rs))
        })
        .collect()
}

fn size_json(input: &Path) -> Value {
    let out = pyvet(&["size", "--format", "json", input.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `pyvet size FILE`: one file in every layout, as large as PyOxidizer's
/// writer makes the file from what the layout keeps.
#[test]
fn size_prices_each_layout_as_the_writer_writes_it() {
    assert_eq!(
        written(&reference()),
        FIXTURE.len() as u64,
        "the writer round-trips"
    );
    let want = writer_sizes();
    // The layouts do thin it out: the figures are not all the same.
    assert!(want.iter().any(|(_, b)| *b < FIXTURE.len() as u64 / 2));
    let doc = size_json(Path::new(FIXTURE_PATH));
    let got = common::size_layouts(&doc);
    let expected: Vec<(String, u64, u64, u64)> = want
        .iter()
        .map(|(n, b)| (n.to_string(), *b, b.div_ceil(4096), 1))
        .collect();
    assert_eq!(got, expected);
    let packed = &doc["packed"][0];
    assert_eq!(packed["bytes"], FIXTURE.len() as u64);
    assert_eq!(packed["resources"], 4);
}

/// What the file holds, by kind, is what `pyvet manifest` lists of it.
#[test]
fn size_breaks_the_file_down_as_the_manifest_lists_it() {
    let out = pyvet(&["manifest", "--db", "none", "--format", "json", FIXTURE_PATH]);
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut want = std::collections::BTreeMap::<&str, (u64, u64)>::new();
    for f in manifest["packages"][0]["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        let kind = match path {
            p if p.ends_with(".opt-1.pyc") => "bytecode opt-1",
            p if p.ends_with(".opt-2.pyc") => "bytecode opt-2",
            p if p.ends_with(".pyc") => "bytecode opt-0",
            p if p.ends_with(".py") => "sources",
            _ => "package data",
        };
        let e = want.entry(kind).or_default();
        *e = (e.0 + 1, e.1 + f["size"].as_u64().unwrap());
    }
    let doc = size_json(Path::new(FIXTURE_PATH));
    let parts = doc["packed"][0]["parts"].as_array().unwrap();
    let held: u64 = parts.iter().map(|p| p["bytes"].as_u64().unwrap()).sum();
    assert_eq!(held, FIXTURE.len() as u64, "the parts add up to the file");
    for p in parts {
        let kind = p["part"].as_str().unwrap();
        let got = (p["count"].as_u64().unwrap(), p["bytes"].as_u64().unwrap());
        match kind {
            "index and names" => assert_eq!(got.0, 4),
            _ => assert_eq!(got, want.get(kind).copied().unwrap_or_default(), "{kind}"),
        }
    }
    assert_eq!(want["bytecode opt-0"], (4, 782));
}

/// In a tree the packed file is one file among the others, thinned out as
/// on its own; text and SVG say what it holds too.
#[test]
fn size_of_a_tree_holding_one() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("lib/python3.11/site-packages");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("app.pyor"), FIXTURE).unwrap();
    std::fs::write(tree.join("m.py"), "x = 1\n").unwrap();
    let doc = size_json(&tree);
    for ((name, bytes), l) in writer_sizes()
        .iter()
        .zip(doc["layouts"].as_array().unwrap())
    {
        assert_eq!(l["name"], *name);
        assert_eq!(l["bytes"], bytes + 6, "{name}");
        // Option 1 adds its (empty) marker beside m.py, none in the file.
        let marker = pyvet::layout::Target::named(name).unwrap().markers;
        assert_eq!(l["files"], 2 + u64::from(marker), "{name}");
    }
    let text = pyvet(&["size", tree.to_str().unwrap()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("app.pyor: 1611 bytes, 4 resources"), "{text}");
    assert!(
        text.contains("  bytecode opt-0           4          782\n"),
        "{text}"
    );
    let svg = pyvet(&["size", "--format", "svg", tree.to_str().unwrap()]);
    let svg = String::from_utf8(svg.stdout).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("of which packed resources"));
    // A broken one is priced as the file it is, and said so.
    std::fs::write(tree.join("app.pyor"), &FIXTURE[..100]).unwrap();
    let out = pyvet(&["size", "--format", "json", tree.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("app.pyor: packed resources that do not parse"));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["bytes"] == 106));
    assert!(doc.get("packed").is_none());
}

/// In a package (built by rpmbuild) it is read from the payload and
/// priced as on disk.
#[test]
fn size_of_a_package_holding_one() {
    let d = tempfile::tempdir().unwrap();
    let inside = "/usr/lib/python3.11/site-packages/app.pyor";
    let to = d.path().join("stage").join(&inside[1..]);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(&to, FIXTURE).unwrap();
    let rpm = build_rpm(d.path(), &d.path().join("stage"), "oxidized-pkg");
    let doc = size_json(&rpm);
    for ((name, bytes), l) in writer_sizes()
        .iter()
        .zip(doc["layouts"].as_array().unwrap())
    {
        assert_eq!(
            (&l["name"], &l["bytes"], &l["files"]),
            (&(*name).into(), &(*bytes).into(), &1.into())
        );
    }
    assert_eq!(doc["packed"][0]["path"], inside);
}

/// A resource whose blobs are all empty has no blob section (the writer
/// makes none): it still reads.
#[test]
fn empty_blobs_need_no_section() {
    let r = Resource {
        name: "pkg".into(),
        is_python_module: true,
        is_python_package: true,
        in_memory_source: Some(std::borrow::Cow::Borrowed(b"")),
        ..Resource::default()
    };
    let mut bytes = Vec::new();
    write_packed_resources_v3(&[r], &mut bytes, None).unwrap();
    let p = pyvet::format::packed::Packed::parse(&bytes).unwrap();
    assert_eq!(p.resources[0].source, Some(&b""[..]));
}

/// Where a PyOxidizer application keeps its resources, outside any Python
/// tree.
const APP: &str = "/opt/app/app.packed";

fn in_app(module: &str) -> String {
    format!("{APP}/{module}")
}

/// The status-quo root, plus python3.11's `os.py` (the root's interpreter,
/// whose code the file is judged as) and the fixture at APP, each installed
/// by rpm.
fn app_root() -> RpmRoot {
    let r = RpmRoot::status_quo();
    r.install_sources_only("python3-os", &[("/usr/lib/python3.11/os.py", "")]);
    let work = r.root.parent().unwrap().join("work-app");
    let to = work.join("stage").join(&APP[1..]);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(&to, FIXTURE).unwrap();
    let rpm = build_rpm(&work, &work.join("stage"), "oxidized-app");
    install(&r.root, &rpm);
    r
}

fn all(report: &Value) -> BTreeSet<(String, String)> {
    common::audit::findings(report)
        .map(common::audit::rule_path)
        .collect()
}

/// `pyvet audit --root R ARGS...`: its exit code and stderr.
fn audit_status(root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .timeout(Duration::from_secs(120))
        .arg("audit")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pyvet audit PATH` with PATH a packed file beside an application: its
/// resources judged at FILE/module, its owner verified, nothing else
/// audited (a PATH replaces the discovered trees).
#[test]
fn a_packed_path_is_audited_wherever_it_lies() {
    let r = app_root();
    let report = audit(&r.root, &[APP]);
    assert_eq!(
        all(&report),
        set(&[
            ("sourceless-bytecode", &in_app("app.sourceless")),
            ("packed-unchecked-bytecode", &in_app("app")),
            ("packed-unchecked-bytecode", &in_app("app.good")),
            ("packed-unchecked-bytecode", &in_app("app.tampered")),
        ])
    );
    let f = finding(&report, "sourceless-bytecode", &in_app("app.sourceless"));
    assert_eq!(f["package"]["name"], "oxidized-app");
    assert_eq!(f["evidence"]["bytecode"]["python"], "3.11", "{f}");
    assert_eq!(report["summary"]["python_trees"], serde_json::json!([]));
    assert_eq!(report["summary"]["packages"], 1);
    assert_eq!(audit_status(&r.root, &[APP]).0, Some(1));

    // A source edited after packing: rpm's digest says the file changed,
    // --deep that the docstring in the opt-0 and opt-1 code is not the
    // source's any more (opt-2 drops docstrings: it still matches).
    let mut edited = FIXTURE.to_vec();
    let at = edited.windows(9).position(|w| w == b"Say hello").unwrap();
    edited[at + 8] = b'O';
    std::fs::write(r.path(APP), &edited).unwrap();
    let report = audit(&r.root, &[APP, "--deep"]);
    let found = all(&report);
    assert!(
        found.contains(&("digest-mismatch".into(), APP.into())),
        "{found:#?}"
    );
    let diverging: BTreeSet<String> = found
        .iter()
        .filter(|(rule, _)| rule == "diverging-bytecode")
        .map(|(_, p)| p.clone())
        .collect();
    let levels: BTreeSet<String> = common::audit::findings(&report)
        .filter(|f| f["rule"] == "diverging-bytecode" && f["path"] == in_app("app.good"))
        .map(|f| f["evidence"]["bytecode"]["opt_level"].to_string())
        .collect();
    assert_eq!(
        diverging,
        [in_app("app.good"), in_app("app.tampered")].into()
    );
    assert_eq!(levels, ["null".to_string(), "\"1\"".to_string()].into());
}

/// An unowned packed file (here in /usr/bin, by PyOxidizer's default name)
/// is `unowned-module`, as one in a Python tree is.
#[test]
fn an_unowned_packed_path_is_an_unowned_module() {
    let r = app_root();
    let file = "/usr/bin/packed-resources";
    std::fs::create_dir_all(r.path("/usr/bin")).unwrap();
    std::fs::write(r.path(file), FIXTURE).unwrap();
    let report = audit(&r.root, &[file]);
    let f = finding(&report, "unowned-module", file);
    assert_eq!(f["severity"], "error");
    assert!(all(&report).contains(&(
        "sourceless-bytecode".into(),
        format!("{file}/app.sourceless")
    )));
}

/// `--manifest FILE.packed` audits the file's resources as a PATH naming
/// it does, beside the trees audited anyway; it must lie in the root.
#[test]
fn a_packed_manifest_is_audited_beside_the_trees() {
    let r = app_root();
    let host = r.path(APP);
    let report = audit(&r.root, &["--manifest", host.to_str().unwrap()]);
    assert_eq!(
        report["summary"]["python_trees"],
        serde_json::json!(["/usr/lib/python3.11"])
    );
    let found = all(&report);
    assert!(found.contains(&("sourceless-bytecode".into(), in_app("app.sourceless"))));
    assert!(
        !found.iter().any(|(rule, _)| rule == "missing"),
        "{found:#?}"
    );
    // The same findings at FILE/module as the PATH form.
    let as_path = audit(&r.root, &[APP]);
    let packed = |s: &BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
        s.iter()
            .filter(|(_, p)| p.starts_with(APP))
            .cloned()
            .collect()
    };
    assert_eq!(packed(&found), packed(&all(&as_path)));

    let (code, stderr) = audit_status(&r.root, &["--manifest", FIXTURE_PATH]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("lies outside --root"), "{stderr}");
}

/// Hostile PATHs: a FIFO named *.packed is never opened (exit 2 at once),
/// a link is resolved inside the root, never out of it, and a broken file
/// is a `packed-malformed` finding.
#[test]
fn hostile_packed_paths() {
    let r = app_root();
    let fifo = "/opt/app/fifo.packed";
    common::mkfifo(&r.path(fifo));
    let (code, stderr) = audit_status(&r.root, &[fifo]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("neither a directory nor a PyOxidizer packed resources file"));
    let (code, _) = audit_status(&r.root, &["--manifest", r.path(fifo).to_str().unwrap()]);
    assert_eq!(code, Some(2));

    // The link's absolute target names a broken file on the host and the
    // real fixture at the same path inside the root: the root's is read.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("app.pyor");
    std::fs::write(&target, &FIXTURE[..40]).unwrap();
    let inside = r.path(target.to_str().unwrap());
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    std::fs::write(&inside, FIXTURE).unwrap();
    std::os::unix::fs::symlink(&target, r.path("/opt/app/link.packed")).unwrap();
    let report = audit(&r.root, &["/opt/app/link.packed"]);
    let found = all(&report);
    let at = format!("{}/app.sourceless", target.display());
    assert!(
        found.contains(&("sourceless-bytecode".into(), at)),
        "{found:#?}"
    );
    assert!(!found.iter().any(|(rule, _)| rule == "packed-malformed"));

    // As --manifest, a host path through a link out of the root is not
    // the root's file: refused, never audited from the host.
    let away = tempfile::tempdir().unwrap();
    std::fs::write(away.path().join("app.packed"), FIXTURE).unwrap();
    std::os::unix::fs::symlink(away.path(), r.path("/opt/away")).unwrap();
    let through = r.path("/opt/away/app.packed");
    let (code, stderr) = audit_status(&r.root, &["--manifest", through.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no regular file under"), "{stderr}");

    for (name, bytes) in [("cut.packed", &FIXTURE[..60]), ("tiny.packed", &b"pye"[..])] {
        let file = format!("/opt/app/{name}");
        std::fs::write(r.path(&file), bytes).unwrap();
        let report = audit(&r.root, &[&file]);
        assert!(
            all(&report).contains(&("packed-malformed".into(), file.clone())),
            "{file}"
        );
    }
}
