//! Plain text output, one line per item, for people and for `grep`.

use std::fmt::Write;

use crate::manifest::Manifest;

/// One line per package: `name-[epoch:]version-release.arch  N files  source`.
pub fn manifest(m: &Manifest) -> String {
    let mut s = String::new();
    for p in &m.packages {
        let _ = writeln!(
            s,
            "{}  {} files  {}:{}",
            p.nevra(),
            p.files.len(),
            p.source.backend.as_str(),
            p.source.file.display()
        );
    }
    s
}
