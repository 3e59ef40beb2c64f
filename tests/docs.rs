//! The committed man pages and shell completions are exactly what
//! `cargo run --example gen-docs` generates, and every page renders cleanly.

mod docgen;

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_docs_match_the_generator() {
    let mut drifted = Vec::new();
    for file in docgen::generate() {
        if std::fs::read(root().join(&file.path)).ok().as_deref() != Some(&file.text[..]) {
            drifted.push(file.path);
        }
    }
    assert!(
        drifted.is_empty(),
        "generated files out of date: {drifted:?}; run `{}` and commit the result",
        docgen::REGENERATE
    );
}

/// Every page the generator writes, and pyvet-policy(5), render with
/// `groff -ww` (all warnings) without a single diagnostic.
#[test]
fn every_man_page_renders_without_warnings() {
    let mut pages: Vec<String> = docgen::generate()
        .into_iter()
        .map(|f| f.path)
        .filter(|p| p.starts_with("man/"))
        .collect();
    pages.push("man/pyvet-policy.5".into());
    for page in pages {
        let out = Command::new("groff")
            .args(["-ww", "-man", "-Tutf8", "-z"])
            .arg(root().join(&page))
            .output()
            .expect("groff is installed (.ci/run installs groff-base)");
        assert!(out.status.success(), "{page}: groff failed");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{page}");
    }
}

/// One page per subcommand (and per `policy` subcommand), named as `man`
/// looks them up.
#[test]
fn every_subcommand_has_its_page() {
    use clap::CommandFactory;
    let paths: Vec<String> = docgen::generate().into_iter().map(|f| f.path).collect();
    let cmd = pyvet::cli::Cli::command();
    for sub in cmd.get_subcommands() {
        let page = format!("man/pyvet-{}.1", sub.get_name());
        assert!(paths.contains(&page), "{page}");
        for child in sub.get_subcommands() {
            let page = format!("man/pyvet-{}-{}.1", sub.get_name(), child.get_name());
            assert!(paths.contains(&page), "{page}");
        }
    }
    for f in [
        "completions/pyvet.bash",
        "completions/_pyvet",
        "completions/pyvet.fish",
    ] {
        assert!(paths.iter().any(|p| p == f), "{f}");
    }
}

/// `--version` names the version and every CPython whose magic pyvet knows.
#[test]
fn version_lists_the_supported_pythons() {
    let out = Command::new(env!("CARGO_BIN_EXE_pyvet"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let versions: Vec<String> = pyvet::bytecode::magic::known_versions()
        .map(|v| v.to_string())
        .collect();
    let expected = format!(
        "pyvet {}\nsupported CPython versions: {}\n",
        env!("CARGO_PKG_VERSION"),
        versions.join(" ")
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

/// pyvet.spec and debian/changelog package the version Cargo.toml builds.
#[test]
fn packaging_versions_match_the_crate() {
    let read = |f: &str| std::fs::read_to_string(root().join(f)).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let spec = read("pyvet.spec");
    assert!(
        spec.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Version:", version]),
        "pyvet.spec Version is not {version}"
    );
    let changelog = read("debian/changelog");
    let first = changelog.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("pyvet ({version}) ")),
        "debian/changelog's first entry is not {version}: {first}"
    );
}
