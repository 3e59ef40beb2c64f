//! Policies end to end: `pyvet policy check` reports every problem of a
//! file with its line at once, `pyvet policy show` prints what loads back,
//! every shipped file is a built-in policy, `[[expect]]` entries that match
//! nothing are reported, and accepted findings (a policy's `[[accept]]`, a
//! `--baseline` report) do not fail the run while their absence is
//! reported. Scenario roots are the rpm-installed stdlib subset.

mod common;

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

use common::rpmroot::RpmRoot;

fn pyvet() -> Command {
    Command::cargo_bin("pyvet").unwrap()
}

fn output(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn policy_check_reports_every_problem_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"site\"\nlayout = \"option3\"\nmarkers = [\"dont-write-bytecode\", \"colour\"]\n\n[[expect]]\npaths = [\"/usr/lib/python3.11/**/{a,b\"]\nsourcez = \"py\"\n\n[rules]\nmarker-missing = \"warn\"\nmarker-typo = \"deny\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = output(pyvet().args(["policy", "check"]).arg(&bad));
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    let f = bad.display();
    assert_eq!(
        stderr,
        format!(
            "pyvet: error: {f}: line 2: bad value \"option3\" for `layout`: one of status-quo, py-opt0, option1, option2, option2-prefix, minimal, debian, alpine, pycache-prefix, custom\n\
             pyvet: error: {f}: line 3: bad value \"colour\" for `markers`: one of dont-write-bytecode\n\
             pyvet: error: {f}: line 6: bad glob \"/usr/lib/python3.11/**/{{a,b\": unclosed alternate group; missing '}}' (maybe escape '{{' with '[{{]'?)\n\
             pyvet: error: {f}: line 7: unknown key `sourcez` in [[expect]]\n\
             pyvet: error: {f}: line 11: unknown rule id \"marker-typo\" (pyvet audit --explain all lists them)\n"
        )
    );
    let good = d.path().join("good.toml");
    std::fs::write(
        &good,
        "name = \"site\"\nlayout = \"option1\"\nmarkers = [\"dont-write-bytecode\"]\n",
    )
    .unwrap();
    let (code, stdout, _) = output(pyvet().args(["policy", "check"]).arg(&good));
    assert_eq!(code, Some(0));
    assert_eq!(stdout, format!("{}: ok (policy site)\n", good.display()));
    // The same problems stop an audit before it starts.
    let (code, _, stderr) = output(
        pyvet()
            .arg("audit")
            .arg("--root")
            .arg(d.path())
            .arg("--policy")
            .arg(&bad),
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(&format!("pyvet: error: {f}: line 2: bad value")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 5, "{stderr}");
}

#[test]
fn every_shipped_file_is_a_builtin_that_shows_and_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut builtin: Vec<String> = pyvet::policy::BUILTIN
        .iter()
        .map(|s| s.to_string())
        .collect();
    builtin.sort();
    assert_eq!(names, builtin);
    for name in &names {
        let file = dir.join(format!("{name}.toml"));
        let (code, _, stderr) = output(pyvet().args(["policy", "check"]).arg(&file));
        assert_eq!(code, Some(0), "{name}: {stderr}");
        let (code, shown, _) = output(pyvet().args(["policy", "show", name]));
        assert_eq!(code, Some(0));
        assert!(
            shown.starts_with(&format!("name = \"{name}\"\n")),
            "{shown}"
        );
        let again = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(again.path(), &shown).unwrap();
        let (_, reshown, _) = output(pyvet().args(["policy", "show"]).arg(again.path()));
        assert_eq!(reshown, shown, "{name}");
    }
    let (_, list, _) = output(pyvet().args(["policy", "show", "all"]));
    assert_eq!(list, pyvet::policy::BUILTIN.join("\n") + "\n");
}

fn audit(root: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let out = pyvet()
        .args(["audit", "--format", "json", "--root"])
        .arg(root)
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

/// (rule, severity, path) of a list of findings, without the owned-file
/// family (another check's).
fn listed(v: &Value) -> Vec<(String, String, String)> {
    v.as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|f| {
            pyvet::audit::rules::find(f["rule"].as_str().unwrap())
                .unwrap()
                .family
                != pyvet::audit::rules::Family::Owned
        })
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["severity"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn t(rule: &str, sev: &str, path: &str) -> (String, String, String) {
    (rule.into(), sev.into(), path.into())
}

#[test]
fn a_baseline_accepts_known_findings_only_new_ones_fail_and_gone_ones_are_reported() {
    let r = RpmRoot::status_quo();
    let notes = "/usr/lib/python3.11/json/notes.txt";
    std::fs::write(r.path(notes), "left behind\n").unwrap();
    let (code, first) = audit(&r.root, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        listed(&first["findings"]),
        [t("unowned-file", "warning", notes)]
    );
    let baseline = r.root.parent().unwrap().join("baseline.json");
    std::fs::write(&baseline, serde_json::to_vec(&first).unwrap()).unwrap();
    let base = baseline.to_str().unwrap();

    // The same tree against its baseline: accepted, the run passes.
    let (code, second) = audit(&r.root, &["--baseline", base]);
    assert_eq!(code, Some(0));
    assert_eq!(listed(&second["findings"]), []);
    assert_eq!(
        listed(&second["accepted"]),
        [t("unowned-file", "warning", notes)]
    );
    assert_eq!(
        second["accepted"][0]["accepted"],
        serde_json::json!({"by": format!("baseline {base}"), "reason": "in the baseline report"})
    );
    assert_eq!(second["summary"]["findings"], 0);
    // Text lists them apart; SARIF as results with an accepted suppression.
    let text = output(
        pyvet()
            .args(["audit", "--root"])
            .arg(&r.root)
            .args(["--baseline", base]),
    );
    assert_eq!(text.0, Some(0));
    assert!(
        text.1.contains(&format!(
            "\nACCEPTED (1, not failing the run)\n  unowned-file  {notes}  (baseline {base}: in the baseline report)\n"
        )),
        "{}",
        text.1
    );
    let sarif = output(
        pyvet()
            .args(["audit", "--format", "sarif", "--root"])
            .arg(&r.root)
            .args(["--baseline", base]),
    );
    let sarif = common::sarif::assert_valid(&sarif.1);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["ruleId"], "unowned-file");
    assert_eq!(
        suppressed[0]["suppressions"],
        serde_json::json!([{"kind": "external", "status": "accepted",
            "justification": format!("baseline {base}: in the baseline report")}])
    );

    // A new finding fails the run; the accepted one stays accepted.
    let stash = "/usr/lib/python3.11/stash.bin";
    std::fs::write(r.path(stash), "x").unwrap();
    let (code, third) = audit(&r.root, &["--baseline", base]);
    assert_eq!(code, Some(1));
    assert_eq!(
        listed(&third["findings"]),
        [t("unowned-file", "warning", stash)]
    );
    assert_eq!(
        listed(&third["accepted"]),
        [t("unowned-file", "warning", notes)]
    );

    // Fixed: the baseline's entry no longer occurs, and that is said.
    std::fs::remove_file(r.path(notes)).unwrap();
    std::fs::remove_file(r.path(stash)).unwrap();
    let (code, fourth) = audit(&r.root, &["--baseline", base]);
    assert_eq!(code, Some(1));
    assert_eq!(
        listed(&fourth["findings"]),
        [t("accepted-gone", "warning", notes)]
    );
    assert!(fourth.get("accepted").is_none());

    // A report of another schema is no baseline.
    std::fs::write(&baseline, "{\"schema\":\"pyvet-subset/1\"}").unwrap();
    let out = pyvet()
        .args(["audit", "--root"])
        .arg(&r.root)
        .args(["--baseline", base])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "pyvet: error: --baseline {base}: schema \"pyvet-subset/1\", not \"pyvet-audit/1\"\n"
        )
    );
}

#[test]
fn policy_accept_entries_and_unmatched_expectations() {
    let r = RpmRoot::status_quo();
    let notes = "/usr/lib/python3.11/json/notes.txt";
    std::fs::write(r.path(notes), "left behind\n").unwrap();
    let policy = r.root.parent().unwrap().join("site.toml");
    std::fs::write(
        &policy,
        "name = \"site\"\nlayout = \"status-quo\"\npycache = [0, 1, 2]\n\n\
         [[expect]]\npaths = [\"/usr/lib/python3.11/pydoc_data/**\"]\nlegacy-pycs = true\n\n\
         [[expect]]\npaths = [\"/usr/lib/python3.11/json/*.py\"]\noptimization-levels = [0, 1]\n\n\
         [[accept]]\nrule = \"unowned-file\"\npath = \"/usr/lib/python3.11/json/*.txt\"\nreason = \"the build leaves notes\"\n\n\
         [[accept]]\nrule = \"missing\"\npath = \"/usr/lib/python3.11/gone.py\"\nreason = \"removed by the admin\"\nrequired = true\n",
    )
    .unwrap();
    let (code, report) = audit(&r.root, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(
        listed(&report["findings"]),
        [
            t("accepted-gone", "error", "/usr/lib/python3.11/gone.py"),
            t(
                "policy-unmatched",
                "warning",
                "/usr/lib/python3.11/pydoc_data/**"
            ),
        ]
    );
    assert_eq!(
        listed(&report["accepted"]),
        [t("unowned-file", "warning", notes)]
    );
    let f = policy.display();
    assert_eq!(
        report["accepted"][0]["accepted"],
        serde_json::json!({"by": format!("policy {f}:13"), "reason": "the build leaves notes"})
    );
    // A glob as a finding's path is still a valid SARIF location.
    let sarif = output(
        pyvet()
            .args(["audit", "--format", "sarif", "--root"])
            .arg(&r.root)
            .arg("--policy")
            .arg(&policy),
    );
    common::sarif::assert_valid(&sarif.1);
    assert_eq!(
        report["findings"][1]["message"],
        format!("policy {f}:5: [[expect]] paths [\"/usr/lib/python3.11/pydoc_data/**\"] matched no path of the audited trees")
    );
}

#[test]
fn the_runtime_levels_of_a_path_decide_the_predictions() {
    let r = RpmRoot::status_quo();
    // Packaged at levels 0-2 and nothing changed: no level predicts a write.
    let policy = r.root.parent().unwrap().join("levels.toml");
    std::fs::write(
        &policy,
        "name = \"levels\"\noptimization-levels = [0, 1, 2]\n",
    )
    .unwrap();
    let (code, report) = audit(&r.root, &["--policy", policy.to_str().unwrap()]);
    assert_eq!((code, listed(&report["findings"])), (Some(0), vec![]));
    // json's opt-1 pycs gone: predicted only where the policy says -O runs.
    for m in ["decoder", "tool"] {
        std::fs::remove_file(r.path(&format!(
            "/usr/lib/python3.11/json/__pycache__/{m}.cpython-311.opt-1.pyc"
        )))
        .unwrap();
    }
    std::fs::write(
        &policy,
        "name = \"levels\"\n\n[[expect]]\npaths = [\"/usr/lib/python3.11/json/tool.py\"]\noptimization-levels = [0, 1]\n",
    )
    .unwrap();
    let (_, report) = audit(&r.root, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(
        listed(&report["findings"]),
        [t(
            "bytecode-write-attempt",
            "warning",
            "/usr/lib/python3.11/json/__pycache__/tool.cpython-311.opt-1.pyc"
        )]
    );
    // Interpreters with a PYTHONPYCACHEPREFIX never write into the tree.
    let (_, report) = audit(&r.root, &["--policy", "pycache-prefix"]);
    let got = listed(&report["findings"]);
    assert!(
        got.iter().all(|(rule, _, _)| rule == "layout-unexpected"),
        "{got:?}"
    );
    assert_eq!(
        got.len(),
        8 * 3 - 2,
        "every packaged pyc is unexpected there"
    );
}

#[test]
fn py_opt0_expects_opt0_pycs_only() {
    let r = RpmRoot::status_quo();
    let (code, report) = audit(&r.root, &["--policy", "fedora"]);
    assert_eq!((code, listed(&report["findings"])), (Some(0), vec![]));
    let (code, report) = audit(&r.root, &["--policy", "fedora-py-opt0"]);
    assert_eq!(code, Some(1));
    let mut want = Vec::new();
    for (dir, m) in [
        ("/usr/lib/python3.11/__pycache__", "bisect"),
        ("/usr/lib/python3.11/__pycache__", "colorsys"),
        ("/usr/lib/python3.11/__pycache__", "keyword"),
        ("/usr/lib/python3.11/json/__pycache__", "__init__"),
        ("/usr/lib/python3.11/json/__pycache__", "decoder"),
        ("/usr/lib/python3.11/json/__pycache__", "encoder"),
        ("/usr/lib/python3.11/json/__pycache__", "scanner"),
        ("/usr/lib/python3.11/json/__pycache__", "tool"),
    ] {
        for opt in [1, 2] {
            want.push(t(
                "layout-unexpected",
                "warning",
                &format!("{dir}/{m}.cpython-311.opt-{opt}.pyc"),
            ));
        }
    }
    assert_eq!(listed(&report["findings"]), want);
}
