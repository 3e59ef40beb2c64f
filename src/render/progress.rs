//! The audit's progress spinner on stderr.
//!
//! Checks only add to the [`Sink`]'s counters; a thread of this module reads
//! them ten times a second and redraws one spinner line (stage, elapsed
//! time, files checked, bytes hashed, pycs judged). It is drawn only when
//! stderr is a terminal and `--no-progress` was not given, and it is cleared
//! before the report is written, so neither a pipe nor a log ever sees it.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::audit::{Counters, Sink};

/// How often the counters are read and the spinner redrawn.
const TICK: Duration = Duration::from_millis(100);

/// Whether to draw: stderr is a terminal and the user did not say no.
pub fn wanted(no_progress: bool) -> bool {
    !no_progress && std::io::stderr().is_terminal()
}

/// A running spinner; dropping it stops the thread and clears the line.
pub struct Progress {
    bar: ProgressBar,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts the spinner fed from `sink`'s counters; `show == false` gives
    /// a progress that draws nothing and starts no thread.
    pub fn start(show: bool, sink: Arc<Sink>) -> Progress {
        if !show {
            return Progress {
                bar: ProgressBar::hidden(),
                stop: None,
                thread: None,
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}")
                .expect("valid template"),
        );
        let (tx, rx) = mpsc::channel::<()>();
        let b = bar.clone();
        let thread = std::thread::spawn(move || loop {
            b.set_message(counts(&sink.counters));
            b.tick();
            if rx.recv_timeout(TICK) != Err(RecvTimeoutError::Timeout) {
                break;
            }
        });
        Progress {
            bar,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Names what the audit is doing now.
    pub fn stage(&self, what: &'static str) {
        self.bar.set_prefix(what);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// `1403 files checked, 51.5 MiB hashed, 200 pycs judged`.
pub fn counts(c: &Counters) -> String {
    let bytes = c.bytes_hashed.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
    format!(
        "{} files checked, {bytes:.1} MiB hashed, {} pycs judged",
        c.files_checked.load(Ordering::Relaxed),
        c.pycs_judged.load(Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_reads_the_counters() {
        let c = Counters::default();
        assert_eq!(counts(&c), "0 files checked, 0.0 MiB hashed, 0 pycs judged");
        c.add_file();
        c.add_file();
        c.add_bytes(3 * 1024 * 1024 / 2);
        c.add_pyc();
        assert_eq!(counts(&c), "2 files checked, 1.5 MiB hashed, 1 pycs judged");
    }

    #[test]
    fn a_hidden_progress_starts_no_thread_and_stops_cleanly() {
        let p = Progress::start(false, Arc::new(Sink::default()));
        assert!(p.thread.is_none());
        p.stage("checking");
    }

    #[test]
    fn a_shown_progress_stops_when_dropped() {
        // Drawn to a stderr that is not a terminal here: indicatif draws
        // nothing, but the thread runs and must end on drop.
        let p = Progress::start(true, Arc::new(Sink::default()));
        p.stage("checking");
        assert!(p.thread.is_some());
        drop(p);
    }
}
