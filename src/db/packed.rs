//! A PyOxidizer packed resources file as a manifest: what
//! `oxidized_importer` would import from it, one entry per blob.
//!
//! The file is one "package" named after it (version `pyembed3`, the format
//! version), each resource's parts listed under the file's own path as the
//! audit names them: `FILE/NAME.py` (source), `FILE/NAME.pyc`,
//! `FILE/NAME.opt-1.pyc`, `FILE/NAME.opt-2.pyc` (bytecode, a bare code
//! object), `FILE/NAME.so` (an extension module or shared library),
//! `FILE/NAME/DATA` (package and distribution data), `FILE/NAME` (file
//! data), each with its size and SHA-256. Parts the index names by relative
//! path are listed as links to that path.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::digest::Algo;
use crate::error::{Error, Result};
use crate::format::packed::{DataFile, Packed, Resource};
use crate::fsutil;
use crate::limits::PACKED_MAX_FILE;
use crate::manifest::{Backend, FileEntry, FileKind, Manifest, Package, Source};

/// The format version, as the package's version.
const VERSION: &str = "pyembed3";
const OPT_SUFFIX: [&str; 3] = [".pyc", ".opt-1.pyc", ".opt-2.pyc"];

/// Reads a packed resources file.
pub fn read(path: &Path) -> Result<Manifest> {
    let bytes = fsutil::read_capped(path, PACKED_MAX_FILE)?;
    let packed = Packed::parse(&bytes).map_err(|e| Error::format(path, e))?;
    let name = path.file_name().map_or_else(
        || "packed-resources".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let files = packed
        .resources
        .iter()
        .flat_map(|r| entries(path, r))
        .collect();
    Ok(Manifest {
        packages: vec![Package {
            name,
            epoch: None,
            version: VERSION.into(),
            release: None,
            arch: None,
            source: Source {
                backend: Backend::PackedResources,
                file: path.to_path_buf(),
            },
            install_time: None,
            files,
        }],
    })
}

fn blob(path: PathBuf, data: &[u8]) -> FileEntry {
    let mut e = FileEntry::new(path, FileKind::File);
    e.size = Some(data.len() as u64);
    e.digest = Some(Algo::Sha256.hash_bytes(data));
    e
}

fn link(path: PathBuf, to: &[u8]) -> FileEntry {
    let mut e = FileEntry::new(path, FileKind::Symlink);
    e.link = Some(Path::new(OsStr::from_bytes(to)).into());
    e
}

fn entries(file: &Path, r: &Resource) -> Vec<FileEntry> {
    let at = |suffix: &str| file.join(format!("{}{suffix}", r.name));
    let mut out = Vec::new();
    out.extend(r.source.map(|s| blob(at(".py"), s)));
    out.extend(r.relative.source.map(|s| link(at(".py"), s)));
    for (level, suffix) in OPT_SUFFIX.iter().enumerate() {
        out.extend(r.bytecode[level].map(|b| blob(at(suffix), b)));
        out.extend(r.relative.bytecode[level].map(|b| link(at(suffix), b)));
    }
    for native in [r.extension_module, r.shared_library].into_iter().flatten() {
        out.push(blob(at(".so"), native));
    }
    out.extend(r.relative.extension_module.map(|p| link(at(".so"), p)));
    let data = |d: &DataFile| at("").join(OsStr::from_bytes(d.name));
    for d in r.package_data.iter().chain(&r.distribution_data) {
        out.push(blob(data(d), d.data));
    }
    for d in r
        .relative
        .package_data
        .iter()
        .chain(&r.relative.distribution_data)
    {
        out.push(link(data(d), d.data));
    }
    out.extend(r.file_data.map(|d| blob(at(""), d)));
    out.extend(r.relative.file_data.map(|p| link(at(""), p)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_lists_its_modules() {
        let p = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/packed/app.pyor"
        ));
        let m = read(p).unwrap();
        let pkg = &m.packages[0];
        assert_eq!(
            (pkg.name.as_str(), pkg.version.as_str()),
            ("app.pyor", VERSION)
        );
        let names: Vec<String> = pkg
            .files
            .iter()
            .map(|f| f.path.strip_prefix(p).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "app.py",
                "app.pyc",
                "app/data.txt",
                "app.good.py",
                "app.good.pyc",
                "app.good.opt-1.pyc",
                "app.good.opt-2.pyc",
                "app.sourceless.pyc",
                "app.tampered.py",
                "app.tampered.pyc",
            ]
        );
    }
}
