//! The audit report as text, JSON and SARIF, for one synthetic report with
//! findings of every kind of evidence (owned, bytecode, unowned, audit) and
//! a path that is not UTF-8. The formats are public interfaces: any change
//! shows up as a snapshot diff. The SARIF log is also validated against the
//! official OASIS SARIF 2.1.0 schema (tests/fixtures/sarif/PROVENANCE).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use pyvet::audit::finding::{BytecodeFacts, FileFacts, LayerFacts, PackageRef, VerifyFacts};
use pyvet::audit::{rules, Finding, Report, Severity, Summary, SCHEMA};
use pyvet::render::audit_text::TextOptions;
use serde_json::Value;

fn python_libs() -> PackageRef {
    PackageRef {
        name: "python3-libs".into(),
        nevra: "python3-libs-3.11.9-1.fc40.x86_64".into(),
        backend: "rpmdb-sqlite",
    }
}

fn file(kind: &'static str, mode: u32, uid: u32, size: u64, selinux: Option<&str>) -> FileFacts {
    FileFacts {
        kind,
        mode,
        uid,
        gid: uid,
        size,
        mtime: 1_700_000_000,
        ctime: 1_700_000_100,
        selinux: selinux.map(str::to_string),
    }
}

fn digest_mismatch() -> Finding {
    let mut f = Finding::new(
        rules::DIGEST_MISMATCH,
        "/usr/lib64/python3.11/os.py",
        "content differs from python3-libs-3.11.9-1.fc40.x86_64",
    )
    .package(Some(python_libs()));
    let label = "system_u:object_r:lib_t:s0";
    f.evidence.file = Some(file("file", 0o100644, 0, 39_812, Some(label)));
    f.evidence.verify = Some(Box::new(VerifyFacts {
        result: "S.5....T.".into(),
        attr: ' ',
        differs: vec!["size", "digest", "mtime"],
        unchecked: vec![],
        expected: BTreeMap::from([
            ("size", "39786".to_string()),
            (
                "digest",
                "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            ),
            ("mtime", "1690000000".into()),
        ]),
        actual: BTreeMap::from([
            ("size", "39812".to_string()),
            (
                "digest",
                "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1".into(),
            ),
            ("mtime", "1700000000".into()),
        ]),
    }));
    f
}

fn missing() -> Finding {
    let mut f = Finding::new(
        rules::MISSING,
        "/usr/lib/python3/dist-packages/six.py",
        "python3-six owns this file and it is not there",
    )
    .package(Some(PackageRef {
        name: "python3-six".into(),
        nevra: "python3-six-1.16.0-4.all".into(),
        backend: "dpkg",
    }));
    f.evidence.verify = Some(Box::new(VerifyFacts {
        result: "missing".into(),
        attr: ' ',
        differs: vec![],
        unchecked: vec!["size", "mode", "user", "group", "mtime"],
        expected: BTreeMap::new(),
        actual: BTreeMap::new(),
    }));
    f
}

/// A sourceless pyc whose name is not UTF-8 (and holds a newline).
fn sourceless() -> Finding {
    let path = PathBuf::from(OsStr::from_bytes(b"/usr/lib64/python3.11/\xffevil\n.pyc"));
    let mut f = Finding::new(
        rules::SOURCELESS_BYTECODE,
        path,
        "imported as module \"\\xffevil\\n\" without any check",
    );
    f.evidence.file = Some(file("file", 0o100644, 0, 1_234, None));
    f.evidence.bytecode = Some(Box::new(BytecodeFacts {
        verdict: "sourceless",
        reason: "no source beside a legacy-location pyc".into(),
        python: Some("3.11".into()),
        kind: Some("timestamp"),
        opt_level: Some("0".into()),
        source: None,
        source_package: None,
        co_filename: Some("/tmp/build/evil.py".into()),
        after_install_secs: None,
    }));
    f.evidence.layer = Some(Box::new(LayerFacts {
        digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        created_by: Some("RUN python3 -c 'import compileall'".into()),
    }));
    f
}

fn root_written() -> Finding {
    let mut f = Finding::new(
        rules::ROOT_WRITTEN_BYTECODE,
        "/usr/lib64/python3.11/json/__pycache__/decoder.cpython-311.opt-1.pyc",
        "valid for /usr/lib64/python3.11/json/decoder.py, written by root, owned by nothing",
    );
    f.evidence.file = Some(file(
        "file",
        0o100644,
        0,
        13_345,
        Some("unconfined_u:object_r:lib_t:s0"),
    ));
    f.evidence.bytecode = Some(Box::new(BytecodeFacts {
        verdict: "valid",
        reason: "timestamp and size match the source".into(),
        python: Some("3.11".into()),
        kind: Some("timestamp"),
        opt_level: Some("1".into()),
        source: Some("/usr/lib64/python3.11/json/decoder.py".into()),
        source_package: Some("python3-libs-3.11.9-1.fc40.x86_64".into()),
        co_filename: Some("/usr/lib64/python3.11/json/decoder.py".into()),
        after_install_secs: Some(86_400),
    }));
    f
}

/// An unowned module the policy lowered to a warning (under usr/local).
fn unowned_module() -> Finding {
    let mut f = Finding::new(
        rules::UNOWNED_MODULE,
        "/usr/local/lib/python3.11/site-packages/helper.py",
        "nothing owns this module",
    );
    f.severity = Severity::Warning;
    f.evidence.file = Some(file("file", 0o100666, 1000, 120, None));
    f.extra("site_dir", "/usr/local/lib/python3.11/site-packages")
}

/// As the bytecode check writes it: the message ends with the reason.
fn generated() -> Finding {
    let mut f = Finding::new(
        rules::GENERATED_BYTECODE,
        "/usr/lib/python3/dist-packages/__pycache__/six.cpython-311.pyc",
        "bytecode the distribution generates at install time: mtime and size match the source",
    );
    f.evidence.file = Some(file("file", 0o100644, 0, 41_256, None));
    f.evidence.bytecode = Some(Box::new(BytecodeFacts {
        verdict: "valid",
        reason: "mtime and size match the source".into(),
        python: Some("3.11".into()),
        kind: Some("timestamp"),
        opt_level: None,
        source: Some("/usr/lib/python3/dist-packages/six.py".into()),
        source_package: Some("python3-six".into()),
        co_filename: Some("/usr/lib/python3/dist-packages/six.py".into()),
        after_install_secs: Some(27),
    }));
    f
}

fn sample() -> Report {
    // In the order the audit sorts them: severity, then path.
    let findings = vec![
        missing(),
        digest_mismatch(),
        sourceless(),
        root_written(),
        unowned_module(),
        generated(),
    ];
    let mut by_severity = BTreeMap::new();
    let mut by_rule = BTreeMap::new();
    for f in &findings {
        *by_severity.entry(f.severity.as_str()).or_insert(0) += 1;
        *by_rule.entry(f.rule.id).or_insert(0) += 1;
    }
    Report {
        schema: SCHEMA,
        root: "/srv/images/fedora40".into(),
        policy: "fedora".into(),
        summary: Summary {
            packages: 2,
            python_trees: vec!["/usr/lib/python3.11".into(), "/usr/lib64/python3.11".into()],
            files_checked: 1_403,
            bytes_hashed: 54_012_345,
            pycs_judged: 612,
            findings: findings.len(),
            by_severity,
            by_rule,
        },
        findings,
        accepted: Vec::new(),
        errors: vec!["/srv/images/fedora40/var/lib/rpm/rpmdb.sqlite-wal: permission denied".into()],
    }
}

/// The text report listing every finding (`-v`), or with `colour`.
fn text(show: Severity, colour: bool) -> String {
    pyvet::render::audit_text::render(
        &sample(),
        TextOptions {
            colour,
            show,
            ..TextOptions::default()
        },
    )
}

#[test]
fn audit_text() {
    insta::assert_snapshot!(text(Severity::Info, false));
}

/// The default: infos counted per rule in the summary, not listed.
#[test]
fn audit_text_default_counts_infos() {
    let text = pyvet::render::audit_text::render(&sample(), TextOptions::default());
    insta::assert_snapshot!(text);
}

/// `--show error`: warnings and infos counted, each rule on its own line.
#[test]
fn audit_text_errors_only_counts_the_rest() {
    let text = text(Severity::Error, false);
    assert!(!text.contains("WARNING ("), "{text}");
    assert!(!text.contains("INFO ("), "{text}");
    assert!(text.contains("ERROR (3)"), "{text}");
    let summary: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("  not listed"))
        .take(4)
        .collect();
    assert_eq!(
        summary,
        [
            "  not listed     warning  root-written-bytecode  1  Python run as root wrote this pyc into a system location",
            "                 warning  unowned-module         1  an unowned .py, extension module or zip where imports would find it",
            "                 info     generated-bytecode     1  bytecode the distribution generates at install time",
            "                 run with --show warning to list the warnings, -v (--show info) to list them all",
        ]
    );
}

#[test]
fn audit_text_has_no_control_characters_but_newlines() {
    let text = text(Severity::Info, false);
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
    assert!(text.contains("  sourceless-bytecode  /usr/lib64/python3.11/\\xffevil\\n.pyc\n"));
}

#[test]
fn audit_text_in_colour_only_adds_styles() {
    let plain = text(Severity::Info, false);
    let colour = text(Severity::Info, true);
    assert!(
        colour.contains("\u{1b}[1m\u{1b}[31mERROR (3)\u{1b}[0m"),
        "{colour}"
    );
    assert_eq!(strip_ansi(&colour), plain);
    let counted = text(Severity::Error, true);
    assert_eq!(strip_ansi(&counted), text(Severity::Error, false));
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn audit_json() {
    insta::assert_snapshot!(pyvet::render::audit_json::render(&sample()));
}

#[test]
fn audit_sarif() {
    insta::assert_snapshot!(pyvet::render::sarif::render(&sample()));
}

#[test]
fn sarif_is_valid_against_the_official_schema() {
    let v = common::sarif::validator();
    let doc: Value = serde_json::from_str(&pyvet::render::sarif::render(&sample())).unwrap();
    assert_eq!(common::sarif::errors(&v, &doc), Vec::<String>::new());
}

/// A change that makes a valid SARIF log invalid.
type Breakage = fn(&mut Value);

/// The validator is not a rubber stamp: each of these breaks the schema.
#[test]
fn sarif_validation_rejects_invalid_documents() {
    let v = common::sarif::validator();
    let good = pyvet::render::sarif::log(&sample());
    let breakages: [(&str, Breakage); 6] = [
        ("no version", |d| {
            d.as_object_mut().unwrap().remove("version");
        }),
        ("version 2.0.0", |d| d["version"] = "2.0.0".into()),
        ("level fatal", |d| {
            d["runs"][0]["results"][0]["level"] = "fatal".into()
        }),
        ("negative ruleIndex", |d| {
            d["runs"][0]["results"][0]["ruleIndex"] = (-2).into()
        }),
        ("unknown property", |d| {
            d["runs"][0]["tool"]["driver"]["colour"] = "red".into()
        }),
        ("$schema not a uri", |d| {
            d["$schema"] = "sarif schema 2.1.0".into()
        }),
    ];
    for (what, breakage) in breakages {
        let mut bad = good.clone();
        breakage(&mut bad);
        assert!(!v.is_valid(&bad), "{what}: accepted");
    }
    let mut bad_uri = good.clone();
    bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"] = "usr/lib/a b.py".into();
    assert!(
        !v.is_valid(&bad_uri),
        "an unencoded space in a uri-reference"
    );
    assert!(v.is_valid(&good));
}

#[test]
fn sarif_results_point_at_their_rules_and_paths() {
    let doc = pyvet::render::sarif::log(&sample());
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), rules::ALL.len());
    let results = run["results"].as_array().unwrap();
    let got: Vec<(String, String, String)> = results
        .iter()
        .map(|r| {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
            let loc = &r["locations"][0]["physicalLocation"]["artifactLocation"];
            assert_eq!(loc["uriBaseId"], "ROOT");
            (
                r["ruleId"].as_str().unwrap().to_string(),
                r["level"].as_str().unwrap().to_string(),
                loc["uri"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("missing", "error", "usr/lib/python3/dist-packages/six.py"),
        ("digest-mismatch", "error", "usr/lib64/python3.11/os.py"),
        (
            "sourceless-bytecode",
            "error",
            "usr/lib64/python3.11/%FFevil%0A.pyc",
        ),
        (
            "root-written-bytecode",
            "warning",
            "usr/lib64/python3.11/json/__pycache__/decoder.cpython-311.opt-1.pyc",
        ),
        (
            "unowned-module",
            "warning",
            "usr/local/lib/python3.11/site-packages/helper.py",
        ),
        (
            "generated-bytecode",
            "note",
            "usr/lib/python3/dist-packages/__pycache__/six.cpython-311.pyc",
        ),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        run["originalUriBaseIds"]["ROOT"]["uri"],
        "file:///srv/images/fedora40/"
    );
    assert_eq!(
        results[2]["properties"]["path_bytes"],
        "L3Vzci9saWI2NC9weXRob24zLjExL/9ldmlsCi5weWM="
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    let unowned = rules.iter().find(|r| r["id"] == "unowned-module").unwrap();
    assert_eq!(unowned["defaultConfiguration"]["level"], "error");
}
