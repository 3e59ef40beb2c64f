//! The deep check: proof that a pyc's code is the compilation of its source.
//!
//! A header that matches its source proves nothing about the code after it:
//! a tampered pyc can keep the header. With `--deep`, pyvet runs a *trusted*
//! interpreter of the pyc's version — given with `--interpreter 3.X=PATH` or
//! found on `PATH` as `python3.X`, never one inside an audited root —
//! isolated (`-I -S -B`), with a small fixed helper program
//! (`deep_helper.py`, embedded). pyvet feeds it the bytes it already read
//! (source, `co_filename`, pyc payload) over stdin, so the interpreter opens
//! no audited file; the helper compares `marshal.loads(payload)` with
//! `compile(source, co_filename, "exec", dont_inherit=True, optimize=N)`
//! field by field. All files of one version go through one interpreter start.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::bytecode::judge::{DeepInput, PycReport};
use crate::bytecode::magic::PyVersion;
use crate::bytecode::Verdict;
use crate::error::{Error, Result};

/// The helper program run by the trusted interpreter.
pub const HELPER: &str = include_str!("deep_helper.py");
/// First word of the helper's greeting line, and its protocol version.
const GREETING: &str = "pyvet-deep 1";
/// Interpreter flags: isolated mode, no `site`, never write bytecode.
const ISOLATION_FLAGS: [&str; 3] = ["-I", "-S", "-B"];
/// How much of the helper's stderr a reason quotes.
const STDERR_QUOTE: usize = 300;

/// Trusted interpreters for `--deep`, by version.
#[derive(Debug, Clone, Default)]
pub struct Interpreters {
    explicit: BTreeMap<PyVersion, PathBuf>,
    /// Interpreters inside this directory are refused (the audited root).
    exclude_root: Option<PathBuf>,
}

impl Interpreters {
    /// Parses `--interpreter VER=PATH` options; `exclude_root` is the tree
    /// being audited, whose interpreters are never trusted.
    pub fn discover(specs: &[String], exclude_root: Option<&Path>) -> Result<Self> {
        let mut explicit = BTreeMap::new();
        for spec in specs {
            let (ver, path) = spec
                .split_once('=')
                .and_then(|(v, p)| Some((PyVersion::parse(v)?, p)))
                .filter(|(_, p)| !p.is_empty())
                .ok_or_else(|| Error::Usage(format!("--interpreter {spec:?}: expected VERSION=PATH, e.g. 3.12=/usr/bin/python3.12")))?;
            explicit.insert(ver, PathBuf::from(path));
        }
        Ok(Interpreters {
            explicit,
            exclude_root: exclude_root.and_then(|r| r.canonicalize().ok()),
        })
    }

    /// The interpreter to trust for `version`, or why there is none.
    pub fn find(&self, version: PyVersion) -> std::result::Result<PathBuf, String> {
        self.candidates(version).map(|mut c| c.remove(0))
    }

    /// Interpreters to try for `version`, best first: the `--interpreter`
    /// one, else every `pythonX.Y` on `PATH` (a pyenv shim may fail to start
    /// when its version is not selected, and then the next is tried).
    pub fn candidates(&self, version: PyVersion) -> std::result::Result<Vec<PathBuf>, String> {
        if let Some(p) = self.explicit.get(&version) {
            return self.check_trusted(p).map(|p| vec![p]);
        }
        let name = format!("python{version}");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let (mut found, mut refused) = (Vec::new(), None);
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(&name);
            if is_executable(&candidate) {
                match self.check_trusted(&candidate) {
                    Ok(p) => found.push(p),
                    Err(e) => refused = Some(e),
                }
            }
        }
        if found.is_empty() {
            return Err(refused.unwrap_or_else(|| {
                format!("no {name} on PATH and no --interpreter {version}=PATH")
            }));
        }
        Ok(found)
    }

    fn check_trusted(&self, p: &Path) -> std::result::Result<PathBuf, String> {
        if let (Some(root), Ok(real)) = (&self.exclude_root, p.canonicalize()) {
            if real.starts_with(root) {
                return Err(format!(
                    "{} is inside the audited root; not trusted",
                    p.display()
                ));
            }
        }
        Ok(p.to_path_buf())
    }
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What the helper said about one pyc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Same,
    Differs(String),
    /// The helper could not compare (e.g. the source does not compile).
    Error(String),
}

/// Deep-checks every report whose code CPython would run, updating its
/// verdict to `diverges` or `unverified` where the proof fails.
pub fn check_all(reports: &mut [PycReport], interpreters: &Interpreters) {
    let mut by_version: BTreeMap<PyVersion, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter_mut().enumerate() {
        if !r.verdict.code_would_run() {
            continue;
        }
        match &r.deep {
            Some(d) if d.version.major == 3 => by_version.entry(d.version).or_default().push(i),
            Some(_) => unverified(r, "the deep check needs Python 3".into()),
            None => unverified(r, "no source to compare the code with".into()),
        }
    }
    for (version, indices) in by_version {
        let tasks: Vec<&DeepInput> = indices
            .iter()
            .filter_map(|&i| reports[i].deep.as_ref())
            .collect();
        let outcomes = first_working(interpreters, version, &tasks);
        for (n, &i) in indices.iter().enumerate() {
            let r = &mut reports[i];
            match &outcomes {
                Err(why) => unverified(r, format!("no trusted Python {version}: {why}")),
                Ok((interp, o)) => apply(r, o.get(&n), interp),
            }
        }
    }
}

/// Runs the batch with the first candidate interpreter that works.
fn first_working(
    interpreters: &Interpreters,
    version: PyVersion,
    tasks: &[&DeepInput],
) -> std::result::Result<(PathBuf, HashMap<usize, Outcome>), String> {
    let mut failures = Vec::new();
    for interp in interpreters.candidates(version)? {
        match run_batch(&interp, version, tasks) {
            Ok(o) => return Ok((interp, o)),
            Err(e) => failures.push(e),
        }
    }
    Err(failures.join("; "))
}

fn unverified(r: &mut PycReport, why: String) {
    r.verdict = Verdict::Unverified;
    r.reason = format!("{}; deep check not done: {why}", r.reason);
}

fn apply(r: &mut PycReport, outcome: Option<&Outcome>, interp: &Path) {
    match outcome {
        Some(Outcome::Same) => {
            r.reason = format!(
                "{}; code equals the compilation of the source by {}",
                r.reason,
                interp.display()
            )
        }
        Some(Outcome::Differs(d)) => {
            r.verdict = Verdict::Diverges;
            r.reason = format!("code is not the compilation of its source: {d}");
        }
        Some(Outcome::Error(e)) => {
            r.verdict = Verdict::Diverges;
            r.reason = format!("source does not compile to this code: {e}");
        }
        None => unverified(
            r,
            format!("{} gave no answer for this file", interp.display()),
        ),
    }
}

/// Runs one helper process over `tasks` (all of `version`); outcomes by task index.
pub fn run_batch(
    interp: &Path,
    version: PyVersion,
    tasks: &[&DeepInput],
) -> std::result::Result<HashMap<usize, Outcome>, String> {
    let mut child = Command::new(interp)
        .args(ISOLATION_FLAGS)
        .arg("-c")
        .arg(HELPER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", interp.display()))?;
    let input = encode(tasks);
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let result = read_answers(BufReader::new(stdout), version, tasks);
    let _ = writer.join();
    let stderr = finish(&mut child);
    result.map_err(|e| format!("{}: {e}{stderr}", interp.display()))
}

/// Waits for the helper and returns a quote of its stderr, if any.
fn finish(child: &mut Child) -> String {
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.by_ref().take(64 * 1024).read_to_string(&mut err);
    }
    let _ = child.wait();
    let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
    if err.is_empty() {
        String::new()
    } else {
        let quote: String = err
            .chars()
            .rev()
            .take(STDERR_QUOTE)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(" (stderr: {quote})")
    }
}

/// The stdin stream the helper reads (see `deep_helper.py`).
fn encode(tasks: &[&DeepInput]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, t) in tasks.iter().enumerate() {
        out.extend_from_slice(&(id as u32).to_le_bytes());
        out.push(t.optimize);
        for blob in [&t.filename, &t.source, &t.payload] {
            out.extend_from_slice(&(blob.len() as u32).to_le_bytes());
            out.extend_from_slice(blob);
        }
    }
    out
}

fn read_answers(
    mut out: impl BufRead,
    version: PyVersion,
    tasks: &[&DeepInput],
) -> std::result::Result<HashMap<usize, Outcome>, String> {
    let mut line = String::new();
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    check_greeting(line.trim_end(), version, tasks.first().map(|t| t.magic))?;
    let mut answers = HashMap::new();
    for line in out.lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut parts = line.splitn(3, '\t');
        let (Some(id), Some(status), detail) =
            (parts.next(), parts.next(), parts.next().unwrap_or(""))
        else {
            return Err(format!("unexpected helper output {line:?}"));
        };
        let id: usize = id
            .parse()
            .map_err(|_| format!("unexpected helper output {line:?}"))?;
        let outcome = match status {
            "same" => Outcome::Same,
            "differs" => Outcome::Differs(detail.to_string()),
            "error" => Outcome::Error(detail.to_string()),
            _ => return Err(format!("unexpected helper output {line:?}")),
        };
        answers.insert(id, outcome);
    }
    Ok(answers)
}

/// The helper must be the interpreter we asked for: same version, same magic.
fn check_greeting(
    line: &str,
    version: PyVersion,
    magic: Option<[u8; 4]>,
) -> std::result::Result<(), String> {
    let rest = line
        .strip_prefix(GREETING)
        .ok_or_else(|| format!("did not start the helper (said {line:?})"))?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let said = match words.as_slice() {
        [major, minor, magic_hex] => (format!("{major}.{minor}"), *magic_hex),
        _ => return Err(format!("unexpected greeting {line:?}")),
    };
    if said.0 != version.to_string() {
        return Err(format!("is Python {}, not {version}", said.0));
    }
    if let Some(m) = magic {
        let want = crate::bytecode::accept::hex(&m);
        if said.1 != want {
            return Err(format!("writes magic {}, the pyc has {want}", said.1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_specs() {
        let i = Interpreters::discover(&["3.12=/opt/py/bin/python3.12".into()], None).unwrap();
        assert_eq!(
            i.find(PyVersion::new(3, 12)).unwrap(),
            Path::new("/opt/py/bin/python3.12")
        );
        for bad in ["3.12", "x=/p", "3.12=", "=/p"] {
            assert!(
                matches!(
                    Interpreters::discover(&[bad.into()], None),
                    Err(Error::Usage(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn interpreter_inside_root_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let py = d.path().join("python3.12");
        std::fs::write(&py, "").unwrap();
        let i =
            Interpreters::discover(&[format!("3.12={}", py.display())], Some(d.path())).unwrap();
        let e = i.find(PyVersion::new(3, 12)).unwrap_err();
        assert!(e.contains("inside the audited root"), "{e}");
    }

    #[test]
    fn greetings() {
        let v = PyVersion::new(3, 11);
        let m = Some([0xa7, 0x0d, 0x0d, 0x0a]);
        assert!(check_greeting("pyvet-deep 1 3 11 a70d0d0a", v, m).is_ok());
        assert!(check_greeting("pyvet-deep 1 3 12 cb0d0d0a", v, m)
            .unwrap_err()
            .contains("not 3.11"));
        assert!(check_greeting("pyvet-deep 1 3 11 a60d0d0a", v, m)
            .unwrap_err()
            .contains("magic"));
        assert!(check_greeting("pyenv: python3.11: command not found", v, m).is_err());
    }

    #[test]
    fn answers_parse() {
        let t = DeepInput {
            version: PyVersion::new(3, 11),
            magic: [0xa7, 0x0d, 0x0d, 0x0a],
            optimize: 0,
            filename: vec![],
            payload: vec![],
            source: vec![],
        };
        let text = "pyvet-deep 1 3 11 a70d0d0a\n0\tsame\t\n1\tdiffers\tmodule.co_code: x\n2\terror\tSyntaxError: y\n";
        let a = read_answers(text.as_bytes(), t.version, &[&t]).unwrap();
        assert_eq!(a[&0], Outcome::Same);
        assert_eq!(a[&1], Outcome::Differs("module.co_code: x".into()));
        assert_eq!(a[&2], Outcome::Error("SyntaxError: y".into()));
        assert!(read_answers(
            "pyvet-deep 1 3 11 a70d0d0a\nzz\n".as_bytes(),
            t.version,
            &[&t]
        )
        .is_err());
    }
}
