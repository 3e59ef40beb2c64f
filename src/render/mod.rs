//! Renderers: results are data, and these turn them into text, JSON or SARIF.
//! [`progress`] is the one part that draws while a command runs.

pub mod audit_json;
pub mod audit_text;
pub mod json;
pub mod progress;
pub mod pyc;
pub mod rpm;
pub mod sarif;
pub mod size;
pub mod subset;
pub mod text;

/// Writes a rendered report; a closed pipe (`pyvet … | head`) is not an error.
pub fn write_out(out: &mut dyn std::io::Write, text: &str) -> crate::Result<()> {
    written(out.write_all(text.as_bytes()).and_then(|_| out.flush()))
}

/// A write to stdout: a closed pipe (`pyvet ... | head`) is no error.
pub(crate) fn written(r: std::io::Result<()>) -> crate::Result<()> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::Error::io("<stdout>", e))
        }
        _ => Ok(()),
    }
}
