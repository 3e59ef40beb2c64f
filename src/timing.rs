//! Phase timings for benchmarks: with `PYVET_TIMINGS` set in the
//! environment, [`phase`] prints to stderr how long after the first call
//! each phase ended, so `bench/audit.sh` can show where an audit's time
//! goes. Nothing else reads or prints them.

use std::sync::OnceLock;
use std::time::Instant;

/// Marks the end of a phase (the first call starts the clock).
pub fn phase(what: &str) {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    let start = START.get_or_init(|| std::env::var_os("PYVET_TIMINGS").map(|_| Instant::now()));
    if let Some(s) = start {
        eprintln!(
            "pyvet: timing: {:8.2} ms {what}",
            s.elapsed().as_secs_f64() * 1e3
        );
    }
}
