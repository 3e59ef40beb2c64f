//! The floor under any audit that hashes every owned file: read and SHA-256
//! every regular file below a directory on all cores, with pyvet's own
//! hashing code, and do nothing else (no manifest, no metadata compare, no
//! bytecode). `bench/audit.sh` runs it beside `pyvet audit --root` and
//! `rpm -V` on the same tree, so the audit's cost above plain hashing is
//! visible.
//!
//! Usage: `hash_floor DIR [ALGO]` (ALGO as pyvet names digests: `sha256`,
//! the default, or `md5` for dpkg's sums); prints the file count. Files are
//! not `stat`ed (the walk uses `d_type`), so this is below what `rpm -V`
//! itself must do.

use std::path::{Path, PathBuf};

use pyvet::digest::Algo;
use rayon::prelude::*;

/// Regular files below `dir`, never following a symlink.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = std::env::args().nth(1) else {
        return Err("usage: hash_floor DIR [ALGO]".into());
    };
    let algo = match std::env::args().nth(2) {
        None => Algo::Sha256,
        Some(name) => Algo::from_name(&name).ok_or(format!("unknown digest {name}"))?,
    };
    let mut files = Vec::new();
    walk(Path::new(&dir), &mut files)?;
    files
        .par_iter()
        .try_for_each(|path| -> std::io::Result<()> {
            let mut f = std::fs::File::open(path)?;
            let (digest, _) = algo.hash_stream(&mut f, None, &mut [])?;
            std::hint::black_box(digest);
            Ok(())
        })?;
    println!("{} files hashed", files.len());
    Ok(())
}
