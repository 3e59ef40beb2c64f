//! What a PyOxidizer packed resources file costs in each layout.
//!
//! A packed file (`pyembed\x03`, [`crate::format::packed`]) is one file of
//! the tree that holds a module's source and its bytecode at opt 0, 1 and 2,
//! as a status-quo tree holds `X.py` and its `__pycache__` pycs. The layouts
//! keep and drop those parts by the rules they apply to files
//! (`kept_size`, in [`crate::size`]): an embedded source is a source, an embedded
//! bytecode of a module with a source is the `__pycache__` pyc of that
//! level, one without a source is the only form of its module (as a
//! legacy-location `X.pyc` is) and stays, and so does everything else
//! (extension modules, shared libraries, data). What a layout does to
//! paths has no counterpart inside the file: nothing is moved, no marker is
//! written, and option 2's source stays plain, since the format stores a
//! source as it is (`oxidized_importer` hands it to tracebacks unchanged).
//!
//! Each layout's file is priced as PyOxidizer's writer would write it
//! without the dropped blobs: each takes its bytes, its padding and its
//! 5-byte resource index field with it, and a blob section left empty its
//! blob index entry. tests/packed.rs checks the figures against the
//! writer's own output.

use std::path::PathBuf;

use serde::Serialize;

use super::Class;
use crate::format::packed::{field, Packed, Resource};
use crate::layout::{Target, LAYOUTS};

/// Resource index bytes of a source or bytecode field: its type and its
/// u32 length.
const FIELD_INDEX: u64 = 1 + 4;

/// What a packed file holds, and what each layout keeps of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedSize {
    /// The file, as the command line or the walk names it.
    pub path: PathBuf,
    /// Its size as it is.
    pub bytes: u64,
    pub resources: u64,
    /// Its bytes by kind; together exactly [`PackedSize::bytes`].
    pub parts: Vec<Part>,
    /// Its size in each layout, in [`LAYOUTS`] order.
    pub layouts: Vec<PackedLayout>,
}

/// One kind of content of a packed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    pub part: &'static str,
    pub count: u64,
    pub bytes: u64,
}

/// A packed file's size in one layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedLayout {
    pub name: &'static str,
    pub bytes: u64,
}

/// A source or bytecode blob: what a layout may drop.
struct Blob {
    field: u8,
    class: Class,
    has_pyc: bool,
    /// Its bytes in its section, padding included.
    cost: u64,
}

impl PackedSize {
    /// Prices a parsed file of `len` bytes.
    pub fn of(path: PathBuf, len: u64, packed: &Packed) -> PackedSize {
        let blobs = blobs(packed);
        let layouts = LAYOUTS
            .iter()
            .filter_map(|(name, _)| {
                let t = Target::named(name)?;
                Some(PackedLayout {
                    name,
                    bytes: in_layout(&t, len, packed, &blobs),
                })
            })
            .collect();
        PackedSize {
            path,
            bytes: len,
            resources: packed.resources.len() as u64,
            parts: parts(len, packed),
            layouts,
        }
    }

    /// Its size in the layout `name` (as it is for an unknown one).
    pub fn in_layout(&self, name: &str) -> u64 {
        self.layouts
            .iter()
            .find(|l| l.name == name)
            .map_or(self.bytes, |l| l.bytes)
    }
}

/// The file's size once the layout's dropped blobs are gone.
fn in_layout(t: &Target, len: u64, packed: &Packed, blobs: &[Blob]) -> u64 {
    let mut dropped = 0u64;
    let mut left: Vec<(u8, u64)> = packed
        .sections
        .iter()
        .map(|s| (s.field, s.length))
        .collect();
    for b in blobs {
        if super::kept_size(t, b.class, b.has_pyc, b.cost, None).is_some() {
            continue;
        }
        dropped += b.cost + FIELD_INDEX;
        if let Some(s) = left.iter_mut().find(|(f, _)| *f == b.field) {
            s.1 = s.1.saturating_sub(b.cost);
        }
    }
    // A section left empty is no longer written, nor its index entry.
    for (s, (_, rest)) in packed.sections.iter().zip(&left) {
        if s.length > 0 && *rest == 0 {
            dropped += s.index_len as u64;
        }
    }
    len.saturating_sub(dropped)
}

/// Every source and bytecode blob, in memory or named by relative path.
fn blobs(packed: &Packed) -> Vec<Blob> {
    let mut out = Vec::new();
    for r in &packed.resources {
        let pad = |f: u8| {
            let padded = packed.sections.iter().any(|s| s.field == f && s.nul_padded);
            u64::from(padded)
        };
        let has_source = r.source.is_some() || r.relative.source.is_some();
        let has_pyc = r.bytecode[0].is_some() || r.relative.bytecode[0].is_some();
        let sources = [
            (field::SOURCE, r.source),
            (field::REL_SOURCE, r.relative.source),
        ];
        for (f, b) in sources {
            out.extend(b.map(|b| Blob {
                field: f,
                class: Class::Source,
                has_pyc,
                cost: b.len() as u64 + pad(f),
            }));
        }
        for level in 0..3u8 {
            let l = usize::from(level);
            let fields = [
                (field::BYTECODE + level, r.bytecode[l]),
                (field::REL_BYTECODE + level, r.relative.bytecode[l]),
            ];
            for (f, b) in fields {
                out.extend(b.map(|b| Blob {
                    field: f,
                    // Without a source it is the module: kept, as a
                    // legacy-location pyc is.
                    class: match has_source {
                        true => Class::Cache(Some(level)),
                        false => Class::Other,
                    },
                    has_pyc,
                    cost: b.len() as u64 + pad(f),
                }));
            }
        }
    }
    out
}

/// The file's bytes by kind; what no kind holds (header, indexes, names,
/// padding, dependency names) is the index.
fn parts(len: u64, packed: &Packed) -> Vec<Part> {
    let rs = &packed.resources;
    let mut out = vec![
        part("sources", rs.iter().filter_map(|r| r.source)),
        part("bytecode opt-0", rs.iter().filter_map(|r| r.bytecode[0])),
        part("bytecode opt-1", rs.iter().filter_map(|r| r.bytecode[1])),
        part("bytecode opt-2", rs.iter().filter_map(|r| r.bytecode[2])),
        part(
            "extension modules",
            rs.iter().filter_map(|r| r.extension_module),
        ),
        part(
            "shared libraries",
            rs.iter().filter_map(|r| r.shared_library),
        ),
        part(
            "package data",
            rs.iter()
                .flat_map(|r| r.package_data.iter().map(|d| d.data)),
        ),
        part(
            "distribution data",
            rs.iter()
                .flat_map(|r| r.distribution_data.iter().map(|d| d.data)),
        ),
        part("file data", rs.iter().filter_map(|r| r.file_data)),
        part("relative paths", rs.iter().flat_map(relative_paths)),
    ];
    let held: u64 = out.iter().map(|p| p.bytes).sum();
    out.push(Part {
        part: "index and names",
        count: rs.len() as u64,
        bytes: len.saturating_sub(held),
    });
    out
}

fn part<'a>(name: &'static str, blobs: impl Iterator<Item = &'a [u8]>) -> Part {
    let (count, bytes) = blobs.fold((0, 0), |(c, b), x| (c + 1, b + x.len() as u64));
    Part {
        part: name,
        count,
        bytes,
    }
}

/// The files beside the packed file a resource names: their paths.
fn relative_paths<'a>(r: &Resource<'a>) -> Vec<&'a [u8]> {
    let p = &r.relative;
    let mut out: Vec<&[u8]> = [p.source, p.extension_module, p.file_data]
        .into_iter()
        .chain(p.bytecode)
        .flatten()
        .collect();
    out.extend(
        p.package_data
            .iter()
            .chain(&p.distribution_data)
            .map(|d| d.data),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever a hostile file makes the parser accept, its parts add up
    /// to it: no blob is counted twice or past the file.
    #[test]
    fn every_file_that_parses_is_priced_whole() {
        let app = include_bytes!("../../tests/fixtures/packed/app.pyor");
        let mut parsed = 0;
        for at in 0..app.len() {
            let mut d = app.to_vec();
            d[at] ^= 0x5a;
            let Ok(p) = Packed::parse(&d) else { continue };
            parsed += 1;
            let s = PackedSize::of(PathBuf::new(), d.len() as u64, &p);
            let held: u64 = s.parts.iter().map(|x| x.bytes).sum();
            assert_eq!(held, d.len() as u64, "flip at {at}");
        }
        // Blob bytes flipped leave the indexes intact: many still parse.
        assert!(parsed > app.len() / 2, "{parsed} of {}", app.len());
    }
}
