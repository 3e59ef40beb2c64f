//! Loads one rpmdb and builds pyvet's path -> owners index; used by
//! `bench/index.sh` to compare with `rpm -qa --qf '[%{FILENAMES}\n]'`.
//!
//! Usage: `rpmdb_index <db file> <sqlite|bdb|ndb> [repeat] [extract]`; with
//! `extract` it only pulls the raw header blobs out of the container.

use std::path::Path;
use std::time::Instant;

use pyvet::db::rpmdb::{bdb, ndb, read_with_errors, sqlite, Kind};

/// Extracts the raw header blobs only; returns how many.
fn blob_count(path: &Path, kind: Kind) -> Result<usize, Box<dyn std::error::Error>> {
    Ok(match kind {
        Kind::Sqlite => sqlite::records(path)?.len(),
        Kind::Bdb => bdb::records(&std::fs::read(path)?)?.len(),
        Kind::Ndb => ndb::records(&std::fs::read(path)?)?.len(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(kind)) = (args.get(1), args.get(2)) else {
        return Err("usage: rpmdb_index <db file> <sqlite|bdb|ndb> [repeat] [extract]".into());
    };
    let kind = match kind.as_str() {
        "sqlite" => Kind::Sqlite,
        "bdb" => Kind::Bdb,
        "ndb" => Kind::Ndb,
        other => return Err(format!("unknown kind {other}").into()),
    };
    let repeat: u32 = args.get(3).map_or(Ok(1), |r| r.parse())?;
    let extract_only = args.get(4).is_some_and(|m| m == "extract");
    for _ in 0..repeat {
        if extract_only {
            let t = Instant::now();
            let blobs = blob_count(Path::new(path), kind)?;
            eprintln!(
                "{blobs} header blobs extracted in {:.2} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
            continue;
        }
        let t0 = Instant::now();
        let (manifest, issues) = read_with_errors(Path::new(path), kind)?;
        let t1 = Instant::now();
        let owners = manifest.owners();
        let t2 = Instant::now();
        let files: usize = manifest.packages.iter().map(|p| p.files.len()).sum();
        eprintln!(
            "{} packages, {} issues, {files} file entries, {} distinct paths; load {:.2} ms, index {:.2} ms",
            manifest.packages.len(),
            issues.len(),
            owners.len(),
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
