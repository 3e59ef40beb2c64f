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
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};

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
/// How much of the helper's stderr a reason quotes, in characters.
const STDERR_QUOTE: usize = 300;
/// How much of the helper's stderr is kept while draining it.
const STDERR_KEEP: usize = 64 * 1024;

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
                Ok((interp, batch)) => apply(r, batch, n, interp),
            }
        }
    }
}

/// Runs the batch with the first candidate interpreter that works.
fn first_working(
    interpreters: &Interpreters,
    version: PyVersion,
    tasks: &[&DeepInput],
) -> std::result::Result<(PathBuf, Batch), String> {
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

fn apply(r: &mut PycReport, batch: &Batch, task: usize, interp: &Path) {
    match batch.answers.get(&task) {
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
            format!(
                "{} gave no answer for this file{}",
                interp.display(),
                batch.complaint
            ),
        ),
    }
}

/// What one helper process said.
#[derive(Debug, Default)]
pub struct Batch {
    /// Outcomes by task index; a task without one was not answered.
    pub answers: HashMap<usize, Outcome>,
    /// ` (stderr: …)` when the helper complained, else empty.
    pub complaint: String,
}

/// Runs one helper process over `tasks` (all of `version`).
pub fn run_batch(
    interp: &Path,
    version: PyVersion,
    tasks: &[&DeepInput],
) -> std::result::Result<Batch, String> {
    let mut child = Command::new(interp)
        .args(ISOLATION_FLAGS)
        .arg("-c")
        .arg(HELPER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", interp.display()))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{}: no pipes to the helper", interp.display()));
    };
    // Feeding, answering and complaining run at once, so no pipe can fill up and stall the others.
    let (result, complaints) = std::thread::scope(|scope| {
        scope.spawn(move || send(stdin, tasks));
        let complaints = scope.spawn(move || tail(stderr));
        let result = read_answers(BufReader::new(stdout), version, tasks);
        (result, complaints.join().unwrap_or_default())
    });
    let _ = child.wait();
    let quote = quote(&complaints);
    match result {
        Ok(answers) => Ok(Batch {
            answers,
            complaint: quote,
        }),
        Err(e) => Err(format!("{}: {e}{quote}", interp.display())),
    }
}

/// Writes the records the helper reads (see `deep_helper.py`); stops
/// quietly if the helper has gone.
fn send(stdin: ChildStdin, tasks: &[&DeepInput]) {
    let mut w = BufWriter::new(stdin);
    for (id, t) in tasks.iter().enumerate() {
        let mut head = (id as u32).to_le_bytes().to_vec();
        head.push(t.optimize);
        if w.write_all(&head).is_err() {
            return;
        }
        for blob in [&t.filename, &t.source, &t.payload] {
            let len = (blob.len() as u32).to_le_bytes();
            if w.write_all(&len).and_then(|_| w.write_all(blob)).is_err() {
                return;
            }
        }
    }
    let _ = w.flush();
}

/// Drains the helper's stderr, keeping only its last [`STDERR_KEEP`] bytes.
fn tail(mut stderr: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > STDERR_KEEP {
            kept.drain(..kept.len() - STDERR_KEEP);
        }
    }
    kept
}

/// ` (stderr: …)` with the end of what the helper complained, on one line.
fn quote(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    if line.is_empty() {
        return String::new();
    }
    let start = line
        .char_indices()
        .rev()
        .nth(STDERR_QUOTE)
        .map_or(0, |(i, _)| i);
    format!(" (stderr: {})", &line[start..])
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

    fn task() -> DeepInput {
        DeepInput {
            version: PyVersion::new(3, 11),
            magic: [0xa7, 0x0d, 0x0d, 0x0a],
            optimize: 0,
            filename: b"m.py".to_vec(),
            payload: vec![0; 100_000],
            source: vec![b'#'; 100_000],
        }
    }

    /// A stand-in "interpreter" (a shell script) speaking the helper protocol.
    fn fake(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("python3.11");
        std::fs::write(&p, format!("#!/bin/sh\ncat >/dev/null &\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn a_helper_that_stops_early_answers_what_it_did() {
        let d = tempfile::tempdir().unwrap();
        let py = fake(d.path(), "echo 'pyvet-deep 1 3 11 a70d0d0a'; printf '0\\tsame\\t\\n'; echo 'Fatal  error:\n boom' >&2; exit 1");
        let (a, b) = (task(), task());
        let batch = run_batch(&py, PyVersion::new(3, 11), &[&a, &b]).unwrap();
        assert_eq!(batch.answers.len(), 1);
        assert_eq!(batch.answers[&0], Outcome::Same);
        assert_eq!(batch.complaint, " (stderr: Fatal error: boom)");
    }

    #[test]
    fn a_chatty_helper_does_not_stall() {
        let d = tempfile::tempdir().unwrap();
        let py = fake(
            d.path(),
            "head -c 1000000 /dev/zero | tr '\\0' x >&2; echo 'pyvet-deep 1 3 11 a70d0d0a'; printf '0\\tdiffers\\tmodule.co_code: x\\n'",
        );
        let a = task();
        let batch = run_batch(&py, PyVersion::new(3, 11), &[&a]).unwrap();
        assert_eq!(
            batch.answers[&0],
            Outcome::Differs("module.co_code: x".into())
        );
        assert!(
            batch.complaint.len() < STDERR_QUOTE + 20,
            "{}",
            batch.complaint.len()
        );
    }

    #[test]
    fn a_failing_start_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let py = fake(
            d.path(),
            "echo 'pyenv: python3.11: command not found' >&2; exit 127",
        );
        let e = run_batch(&py, PyVersion::new(3, 11), &[&task()]).unwrap_err();
        assert!(
            e.contains("did not start the helper") && e.contains("command not found"),
            "{e}"
        );
    }
}
