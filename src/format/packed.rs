//! A bounded reader of PyOxidizer's packed resources (`pyembed\x03`), the
//! index `oxidized_importer` imports modules from.
//!
//! A packed resources file holds Python modules (source, and bytecode at
//! optimisation levels 0, 1 and 2), package data files, extension modules
//! and shared libraries in one blob: the package database sees one file,
//! the interpreter sees modules. The layout (version 3, as the
//! `python-packed-resources` crate writes it):
//!
//! - the magic `pyembed\x03`;
//! - a header: the number of blob sections (u8), the length of the blob
//!   index (u32), the number of resources (u32), the length of the resource
//!   index (u32), all little-endian;
//! - the blob index: per section the resource field it holds, its length
//!   (u64) and its interior padding (none, or a NUL after every blob);
//! - the resource index: per resource a run of fields (`name`, flags,
//!   lengths of its blobs), each blob length taken in order from its
//!   field's section;
//! - the blob sections, one after another, in the order of the blob index.
//!
//! The reference parser trusts every length (it slices past the end and
//! panics, and takes names as unchecked UTF-8). This one trusts nothing: the
//! two indexes must end exactly where the header says, the sections must lie
//! inside the input, every blob inside its own section, counts must fit in
//! the bytes that would describe them before anything is allocated
//! ([`PACKED_MAX_RESOURCES`] at most), names must be UTF-8. Any violation is
//! a typed [`PackedError`]; nothing here panics on any input.

use crate::limits::PACKED_MAX_RESOURCES;

/// Magic of version 3, the only version `oxidized_importer` reads.
pub const MAGIC: &[u8; 8] = b"pyembed\x03";
/// The magic and the fixed header after it.
pub const HEADER_LEN: usize = 8 + 1 + 4 + 4 + 4;
/// Fewest resource index bytes one resource takes (start, name field and its
/// u16 length, end).
const MIN_ENTRY: usize = 1 + 1 + 2 + 1;

/// Blob index field types.
mod blob_field {
    pub const END_OF_INDEX: u8 = 0x00;
    pub const START_OF_ENTRY: u8 = 0x01;
    pub const RESOURCE_FIELD: u8 = 0x02;
    pub const LENGTH: u8 = 0x03;
    pub const PADDING: u8 = 0x04;
    pub const END_OF_ENTRY: u8 = 0xff;
}

/// Resource index field types (`python_packed_resources::ResourceField`).
pub mod field {
    pub const END_OF_INDEX: u8 = 0x00;
    pub const START_OF_ENTRY: u8 = 0x01;
    pub const NAME: u8 = 0x03;
    pub const IS_PACKAGE: u8 = 0x04;
    pub const IS_NAMESPACE_PACKAGE: u8 = 0x05;
    pub const SOURCE: u8 = 0x06;
    pub const BYTECODE: u8 = 0x07;
    pub const BYTECODE_OPT1: u8 = 0x08;
    pub const BYTECODE_OPT2: u8 = 0x09;
    pub const EXTENSION_MODULE: u8 = 0x0a;
    pub const PACKAGE_DATA: u8 = 0x0b;
    pub const DISTRIBUTION_DATA: u8 = 0x0c;
    pub const SHARED_LIBRARY: u8 = 0x0d;
    pub const SHARED_LIBRARY_DEPS: u8 = 0x0e;
    pub const REL_SOURCE: u8 = 0x0f;
    pub const REL_BYTECODE: u8 = 0x10;
    pub const REL_BYTECODE_OPT1: u8 = 0x11;
    pub const REL_BYTECODE_OPT2: u8 = 0x12;
    pub const REL_EXTENSION_MODULE: u8 = 0x13;
    pub const REL_PACKAGE_DATA: u8 = 0x14;
    pub const REL_DISTRIBUTION_DATA: u8 = 0x15;
    pub const IS_MODULE: u8 = 0x16;
    pub const IS_BUILTIN_EXTENSION: u8 = 0x17;
    pub const IS_FROZEN: u8 = 0x18;
    pub const IS_EXTENSION: u8 = 0x19;
    pub const IS_SHARED_LIBRARY: u8 = 0x1a;
    pub const IS_FILE_DATA: u8 = 0x1b;
    pub const FILE_EXECUTABLE: u8 = 0x1c;
    pub const FILE_DATA: u8 = 0x1d;
    pub const FILE_DATA_PATH: u8 = 0x1e;
    pub const END_OF_ENTRY: u8 = 0xff;
}

/// Why a packed resources file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackedError {
    #[error("{len} bytes, shorter than the {HEADER_LEN}-byte header")]
    TooShort { len: usize },
    #[error("magic {found:02x?} is not pyembed\\x03")]
    BadMagic { found: Vec<u8> },
    #[error("the indexes ({blob_index} + {resource_index} bytes) run past the end of the {len}-byte file")]
    IndexesOutOfBounds {
        blob_index: u64,
        resource_index: u64,
        len: usize,
    },
    #[error("{count} resources cannot fit in a {index}-byte resource index")]
    CountTooLarge { count: u64, index: u64 },
    #[error("{count} resources, more than the limit of {max}")]
    TooManyResources { count: u64, max: usize },
    #[error("the {what} index is truncated at byte {at}")]
    Truncated { what: &'static str, at: usize },
    #[error("the {what} index ends at byte {end}, the header says {declared}")]
    IndexLength {
        what: &'static str,
        end: usize,
        declared: usize,
    },
    #[error("unknown {what} index field 0x{byte:02x} at byte {at}")]
    UnknownField {
        what: &'static str,
        byte: u8,
        at: usize,
    },
    #[error("blob section {index} lacks its {missing}")]
    IncompleteSection { index: usize, missing: &'static str },
    #[error("two blob sections hold field 0x{field:02x}")]
    DuplicateSection { field: u8 },
    #[error("blob section for field 0x{field:02x}: bad interior padding {value}")]
    BadPadding { field: u8, value: u8 },
    #[error("blob index declares {declared} sections and lists {listed}")]
    SectionCount { declared: u8, listed: usize },
    #[error(
        "blob sections ({size} bytes from byte {start}) run past the end of the {len}-byte file"
    )]
    SectionsOutOfBounds { start: usize, size: u64, len: usize },
    #[error("resource index declares {declared} resources and lists {listed}")]
    ResourceCount { declared: u64, listed: usize },
    #[error("resource {index}: no name")]
    MissingName { index: usize },
    #[error("resource {index}: name is not UTF-8")]
    NameNotUtf8 { index: usize },
    #[error(
        "resource {index}: a blob of field 0x{field:02x} ({length} bytes) runs past its section"
    )]
    BlobOutOfSection {
        index: usize,
        field: u8,
        length: u64,
    },
    #[error("resource {index}: field 0x{field:02x} has no blob section")]
    NoSection { index: usize, field: u8 },
}

/// A data file of a package: its name and bytes, or a relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile<'a> {
    pub name: &'a [u8],
    pub data: &'a [u8],
}

/// Relative file system paths a resource names (beside the packed file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelativePaths<'a> {
    pub source: Option<&'a [u8]>,
    pub bytecode: [Option<&'a [u8]>; 3],
    pub extension_module: Option<&'a [u8]>,
    pub package_data: Vec<DataFile<'a>>,
    pub distribution_data: Vec<DataFile<'a>>,
    pub file_data: Option<&'a [u8]>,
}

/// Flags of a resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub module: bool,
    pub package: bool,
    pub namespace_package: bool,
    pub builtin_extension: bool,
    pub frozen: bool,
    pub extension: bool,
    pub shared_library: bool,
    pub file_data: bool,
    pub executable: bool,
}

/// One resource of the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource<'a> {
    /// The module name (`json.decoder`), or a file name for file data.
    pub name: &'a str,
    pub flags: Flags,
    /// In-memory source.
    pub source: Option<&'a [u8]>,
    /// In-memory bytecode by optimisation level: marshalled code objects,
    /// without a pyc header (`oxidized_importer` unmarshals them as is).
    pub bytecode: [Option<&'a [u8]>; 3],
    pub extension_module: Option<&'a [u8]>,
    pub shared_library: Option<&'a [u8]>,
    pub shared_library_deps: Vec<&'a [u8]>,
    /// `importlib.resources` data of a package.
    pub package_data: Vec<DataFile<'a>>,
    /// `importlib.metadata` files of a distribution.
    pub distribution_data: Vec<DataFile<'a>>,
    /// Arbitrary file data embedded.
    pub file_data: Option<&'a [u8]>,
    pub relative: RelativePaths<'a>,
}

/// One blob section, as the blob index describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobSection {
    /// The resource field whose blobs it holds.
    pub field: u8,
    /// Its length, interior padding included.
    pub length: u64,
    /// The bytes its entry takes in the blob index.
    pub index_len: usize,
    /// Whether a NUL follows every blob.
    pub nul_padded: bool,
}

/// A parsed packed resources file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed<'a> {
    pub resources: Vec<Resource<'a>>,
    /// The blob sections, in file order.
    pub sections: Vec<BlobSection>,
}

/// Whether `head` starts with the magic.
pub fn is_packed(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// A little-endian cursor over one index, never past its end.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// Where the index starts in the file (for messages).
    base: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PackedError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(PackedError::Truncated {
                what: self.what,
                at: self.base + self.data.len(),
            });
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PackedError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64, PackedError> {
        let b = self.take(n)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// One blob section being consumed.
#[derive(Debug, Clone, Copy)]
struct Section {
    /// Absolute offsets of the next blob and of the section's end.
    next: usize,
    end: usize,
    nul_padded: bool,
}

/// The header fields after the magic.
struct Header {
    sections: u8,
    blob_index: usize,
    count: u64,
    resource_index: usize,
}

impl<'a> Packed<'a> {
    /// Parses a whole packed resources file.
    pub fn parse(data: &'a [u8]) -> Result<Packed<'a>, PackedError> {
        let h = header(data)?;
        let blob_start = HEADER_LEN + h.blob_index;
        let blob_index = Cursor {
            data: &data[HEADER_LEN..blob_start],
            pos: 0,
            base: HEADER_LEN,
            what: "blob",
        };
        let data_start = blob_start + h.resource_index;
        let (mut sections, listed) = sections(blob_index, h.sections, data_start, data.len())?;
        let index = Cursor {
            data: &data[blob_start..data_start],
            pos: 0,
            base: blob_start,
            what: "resource",
        };
        let resources = Reader {
            data,
            index,
            sections: &mut sections,
        }
        .resources(h.count)?;
        Ok(Packed {
            resources,
            sections: listed,
        })
    }
}

fn header(data: &[u8]) -> Result<Header, PackedError> {
    if data.len() < HEADER_LEN {
        return Err(PackedError::TooShort { len: data.len() });
    }
    if !is_packed(data) {
        return Err(PackedError::BadMagic {
            found: data[..MAGIC.len()].to_vec(),
        });
    }
    let mut c = Cursor {
        data: &data[MAGIC.len()..HEADER_LEN],
        pos: 0,
        base: MAGIC.len(),
        what: "header",
    };
    let sections = c.u8()?;
    let blob_index = c.uint(4)?;
    let count = c.uint(4)?;
    let resource_index = c.uint(4)?;
    let indexes = blob_index + resource_index;
    if indexes > (data.len() - HEADER_LEN) as u64 {
        return Err(PackedError::IndexesOutOfBounds {
            blob_index,
            resource_index,
            len: data.len(),
        });
    }
    if count > resource_index / MIN_ENTRY as u64 {
        return Err(PackedError::CountTooLarge {
            count,
            index: resource_index,
        });
    }
    if count > PACKED_MAX_RESOURCES as u64 {
        return Err(PackedError::TooManyResources {
            count,
            max: PACKED_MAX_RESOURCES,
        });
    }
    Ok(Header {
        sections,
        blob_index: blob_index as usize,
        count,
        resource_index: resource_index as usize,
    })
}

/// Where each field's section starts and ends, by field.
type Sections = [Option<Section>; 256];

/// The blob index: where each field's section starts and ends, and the
/// sections as listed. A section per field at most; together they must fit
/// in the file.
fn sections(
    mut c: Cursor,
    declared: u8,
    data_start: usize,
    len: usize,
) -> Result<(Sections, Vec<BlobSection>), PackedError> {
    let mut out = [None; 256];
    let mut listed = Vec::new();
    let mut offset = data_start as u64;
    // An empty index (no sections, length 0) has no end marker.
    if declared == 0 && c.data.is_empty() {
        return Ok((out, listed));
    }
    loop {
        let at = c.at();
        match c.u8()? {
            blob_field::END_OF_INDEX => break,
            blob_field::START_OF_ENTRY => {
                let (field, size, nul_padded) = section_entry(&mut c, listed.len())?;
                if out[usize::from(field)].is_some() {
                    return Err(PackedError::DuplicateSection { field });
                }
                let end = offset.checked_add(size).filter(|&e| e <= len as u64);
                let Some(end) = end else {
                    return Err(PackedError::SectionsOutOfBounds {
                        start: data_start,
                        size: offset.saturating_add(size) - data_start as u64,
                        len,
                    });
                };
                out[usize::from(field)] = Some(Section {
                    next: offset as usize,
                    end: end as usize,
                    nul_padded,
                });
                listed.push(BlobSection {
                    field,
                    length: size,
                    index_len: c.at() - at,
                    nul_padded,
                });
                offset = end;
            }
            byte => {
                return Err(PackedError::UnknownField {
                    what: "blob",
                    byte,
                    at,
                })
            }
        }
    }
    end_exactly(&c)?;
    if listed.len() != usize::from(declared) {
        return Err(PackedError::SectionCount {
            declared,
            listed: listed.len(),
        });
    }
    Ok((out, listed))
}

/// One blob index entry after its start marker: field, length, padding.
fn section_entry(c: &mut Cursor, index: usize) -> Result<(u8, u64, bool), PackedError> {
    let (mut field, mut size, mut padding) = (None, None, None);
    loop {
        let at = c.at();
        match c.u8()? {
            blob_field::RESOURCE_FIELD => field = Some(c.u8()?),
            blob_field::LENGTH => size = Some(c.uint(8)?),
            blob_field::PADDING => padding = Some(c.u8()?),
            blob_field::END_OF_ENTRY => break,
            byte => {
                return Err(PackedError::UnknownField {
                    what: "blob",
                    byte,
                    at,
                })
            }
        }
    }
    let field = field.ok_or(PackedError::IncompleteSection {
        index,
        missing: "field",
    })?;
    let size = size.ok_or(PackedError::IncompleteSection {
        index,
        missing: "length",
    })?;
    let nul_padded = match padding {
        None | Some(1) => false,
        Some(2) => true,
        Some(value) => return Err(PackedError::BadPadding { field, value }),
    };
    Ok((field, size, nul_padded))
}

/// An index must end exactly where the header says it does.
fn end_exactly(c: &Cursor) -> Result<(), PackedError> {
    match c.remaining() {
        0 => Ok(()),
        _ => Err(PackedError::IndexLength {
            what: c.what,
            end: c.at(),
            declared: c.base + c.data.len(),
        }),
    }
}

/// Walks the resource index, taking each blob from its section.
struct Reader<'a, 's> {
    data: &'a [u8],
    index: Cursor<'a>,
    sections: &'s mut Sections,
}

impl<'a> Reader<'a, '_> {
    fn resources(mut self, declared: u64) -> Result<Vec<Resource<'a>>, PackedError> {
        let mut out = Vec::new();
        if declared == 0 && self.index.data.is_empty() {
            return Ok(out);
        }
        loop {
            let at = self.index.at();
            match self.index.u8()? {
                field::END_OF_INDEX => break,
                field::START_OF_ENTRY if (out.len() as u64) < declared => {
                    let r = self.entry(out.len())?;
                    out.push(r);
                }
                field::START_OF_ENTRY => {
                    return Err(PackedError::ResourceCount {
                        declared,
                        listed: out.len() + 1,
                    })
                }
                byte => {
                    return Err(PackedError::UnknownField {
                        what: "resource",
                        byte,
                        at,
                    })
                }
            }
        }
        end_exactly(&self.index)?;
        if out.len() as u64 != declared {
            return Err(PackedError::ResourceCount {
                declared,
                listed: out.len(),
            });
        }
        Ok(out)
    }

    /// The next blob of `field`'s section, `length` bytes. An empty blob
    /// needs no section: the writer makes none for a field whose blobs are
    /// all empty (a tree of empty `__init__.py` sources).
    fn blob(&mut self, index: usize, field: u8, length: u64) -> Result<&'a [u8], PackedError> {
        let Some(s) = self.sections[usize::from(field)].as_mut() else {
            return match length {
                0 => Ok(&[]),
                _ => Err(PackedError::NoSection { index, field }),
            };
        };
        let pad = u64::from(s.nul_padded);
        let end = (s.next as u64)
            .checked_add(length)
            .filter(|&e| e + pad <= s.end as u64);
        let Some(end) = end else {
            return Err(PackedError::BlobOutOfSection {
                index,
                field,
                length,
            });
        };
        let blob = &self.data[s.next..end as usize];
        s.next = (end + pad) as usize;
        Ok(blob)
    }

    /// A blob whose length is an `n`-byte integer of the index.
    fn sized(&mut self, index: usize, field: u8, n: usize) -> Result<&'a [u8], PackedError> {
        let length = self.index.uint(n)?;
        self.blob(index, field, length)
    }

    /// `count` (an `n`-byte integer) pairs of a u16-long name and a blob
    /// whose length is a `len`-byte integer.
    fn pairs(
        &mut self,
        index: usize,
        field: u8,
        len: usize,
    ) -> Result<Vec<DataFile<'a>>, PackedError> {
        let count = self.index.uint(4)?;
        let mut out = Vec::new();
        for _ in 0..count {
            // Each pair takes index bytes: a lying count runs out of them.
            let name = self.sized(index, field, 2)?;
            let data = self.sized(index, field, len)?;
            out.push(DataFile { name, data });
        }
        Ok(out)
    }

    fn entry(&mut self, index: usize) -> Result<Resource<'a>, PackedError> {
        let mut r = Resource::default();
        let mut name = None;
        loop {
            let at = self.index.at();
            let f = self.index.u8()?;
            match f {
                field::END_OF_ENTRY => break,
                field::NAME => {
                    let raw = self.sized(index, f, 2)?;
                    let s =
                        std::str::from_utf8(raw).map_err(|_| PackedError::NameNotUtf8 { index })?;
                    name = Some(s);
                }
                field::IS_PACKAGE => r.flags.package = true,
                field::IS_NAMESPACE_PACKAGE => r.flags.namespace_package = true,
                field::IS_MODULE => r.flags.module = true,
                field::IS_BUILTIN_EXTENSION => r.flags.builtin_extension = true,
                field::IS_FROZEN => r.flags.frozen = true,
                field::IS_EXTENSION => r.flags.extension = true,
                field::IS_SHARED_LIBRARY => r.flags.shared_library = true,
                field::IS_FILE_DATA => r.flags.file_data = true,
                field::FILE_EXECUTABLE => r.flags.executable = true,
                field::SOURCE => r.source = Some(self.sized(index, f, 4)?),
                field::BYTECODE => r.bytecode[0] = Some(self.sized(index, f, 4)?),
                field::BYTECODE_OPT1 => r.bytecode[1] = Some(self.sized(index, f, 4)?),
                field::BYTECODE_OPT2 => r.bytecode[2] = Some(self.sized(index, f, 4)?),
                field::EXTENSION_MODULE => r.extension_module = Some(self.sized(index, f, 4)?),
                field::PACKAGE_DATA => r.package_data = self.pairs(index, f, 8)?,
                field::DISTRIBUTION_DATA => r.distribution_data = self.pairs(index, f, 8)?,
                field::SHARED_LIBRARY => r.shared_library = Some(self.sized(index, f, 8)?),
                field::SHARED_LIBRARY_DEPS => {
                    let count = self.index.uint(2)?;
                    r.shared_library_deps.clear();
                    for _ in 0..count {
                        r.shared_library_deps.push(self.sized(index, f, 2)?);
                    }
                }
                field::FILE_DATA => r.file_data = Some(self.sized(index, f, 8)?),
                field::REL_SOURCE => r.relative.source = Some(self.sized(index, f, 4)?),
                field::REL_BYTECODE => r.relative.bytecode[0] = Some(self.sized(index, f, 4)?),
                field::REL_BYTECODE_OPT1 => r.relative.bytecode[1] = Some(self.sized(index, f, 4)?),
                field::REL_BYTECODE_OPT2 => r.relative.bytecode[2] = Some(self.sized(index, f, 4)?),
                field::REL_EXTENSION_MODULE => {
                    r.relative.extension_module = Some(self.sized(index, f, 4)?)
                }
                field::REL_PACKAGE_DATA => r.relative.package_data = self.pairs(index, f, 4)?,
                field::REL_DISTRIBUTION_DATA => {
                    r.relative.distribution_data = self.pairs(index, f, 4)?
                }
                field::FILE_DATA_PATH => r.relative.file_data = Some(self.sized(index, f, 4)?),
                byte => {
                    return Err(PackedError::UnknownField {
                        what: "resource",
                        byte,
                        at,
                    })
                }
            }
        }
        r.name = name.ok_or(PackedError::MissingName { index })?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's own empty file (python-packed-resources' test_write_empty).
    const EMPTY: &[u8] = b"pyembed\x03\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00";

    #[test]
    fn empty_files_parse() {
        assert!(Packed::parse(EMPTY).unwrap().resources.is_empty());
        // No indexes at all: the header alone.
        let bare = b"pyembed\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        assert!(Packed::parse(bare).unwrap().resources.is_empty());
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            Packed::parse(b"pyembed"),
            Err(PackedError::TooShort { len: 7 })
        );
        let mut v2 = EMPTY.to_vec();
        v2[7] = 2;
        assert!(matches!(
            Packed::parse(&v2),
            Err(PackedError::BadMagic { .. })
        ));
        // An absurd resource count is refused before anything is allocated.
        let mut absurd = EMPTY.to_vec();
        absurd[13..17].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Packed::parse(&absurd),
            Err(PackedError::CountTooLarge { .. })
        ));
        let mut long = EMPTY.to_vec();
        long[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Packed::parse(&long),
            Err(PackedError::IndexesOutOfBounds { .. })
        ));
    }

    /// One resource `foo` with source `x`, written as the writer does.
    fn foo() -> Vec<u8> {
        let mut d = MAGIC.to_vec();
        d.push(2);
        d.extend(27u32.to_le_bytes()); // blob index: 2 × 13 + end
        d.extend(1u32.to_le_bytes());
        d.extend(11u32.to_le_bytes()); // start, name+u16, source+u32, end, end of index
        for (f, len) in [(field::NAME, 3u64), (field::SOURCE, 1)] {
            d.extend([1, 2, f, 3]);
            d.extend(len.to_le_bytes());
            d.push(0xff);
        }
        d.push(0);
        d.extend([1, field::NAME, 3, 0, field::SOURCE, 1, 0, 0, 0, 0xff, 0]);
        d.extend(b"foox");
        d
    }

    /// `foo` with an empty source and no source section, as the writer
    /// writes it.
    fn empty_source() -> Vec<u8> {
        let mut d = MAGIC.to_vec();
        d.push(1);
        d.extend(14u32.to_le_bytes()); // blob index: 13 + end
        d.extend(1u32.to_le_bytes());
        d.extend(11u32.to_le_bytes());
        d.extend([1, 2, field::NAME, 3]);
        d.extend(3u64.to_le_bytes());
        d.extend([0xff, 0]);
        d.extend([1, field::NAME, 3, 0, field::SOURCE, 0, 0, 0, 0, 0xff, 0]);
        d.extend(b"foo");
        d
    }

    #[test]
    fn an_empty_blob_needs_no_section() {
        let d = empty_source();
        let p = Packed::parse(&d).unwrap();
        assert_eq!(p.resources[0].source, Some(&b""[..]));
        assert_eq!(
            p.sections,
            [BlobSection {
                field: field::NAME,
                length: 3,
                index_len: 13,
                nul_padded: false
            }]
        );
        // A blob with bytes still needs its section.
        let mut d = d;
        let at = d.len() - 3 - 6;
        d[at] = 1;
        assert_eq!(
            Packed::parse(&d),
            Err(PackedError::NoSection {
                index: 0,
                field: field::SOURCE
            })
        );
    }

    #[test]
    fn a_resource_parses() {
        let d = foo();
        let p = Packed::parse(&d).unwrap();
        assert_eq!(p.resources.len(), 1);
        assert_eq!(p.resources[0].name, "foo");
        assert_eq!(p.resources[0].source, Some(&b"x"[..]));
        assert_eq!(p.resources[0].bytecode, [None; 3]);
    }

    /// Written by PyOxidizer's writer from python3.11's bytecode
    /// (tests/fixtures/packed/make.sh).
    const APP: &[u8] = include_bytes!("../../tests/fixtures/packed/app.pyor");

    #[test]
    fn the_real_writers_file_parses() {
        let p = Packed::parse(APP).unwrap();
        let names: Vec<&str> = p.resources.iter().map(|r| r.name).collect();
        assert_eq!(names, ["app", "app.good", "app.sourceless", "app.tampered"]);
        let app = &p.resources[0];
        assert!(app.flags.package && app.flags.module);
        assert_eq!(app.package_data.len(), 1);
        assert_eq!(app.package_data[0].name, b"data.txt");
        assert_eq!(app.package_data[0].data, b"some package data\n");
        let good = &p.resources[1];
        assert!(good.source.unwrap().starts_with(b"def greet():"));
        assert!(good.bytecode.iter().all(Option::is_some));
        let sourceless = &p.resources[2];
        assert_eq!(sourceless.source, None);
        assert!(sourceless.bytecode[0].is_some() && sourceless.bytecode[1].is_none());
        // The bytecode is a bare marshalled code object (TYPE_CODE, maybe FLAG_REF).
        assert_eq!(good.bytecode[0].unwrap()[0] & 0x7f, b'c');
    }

    #[test]
    fn every_cut_of_the_real_file_is_an_error() {
        for cut in 0..APP.len() {
            assert!(Packed::parse(&APP[..cut]).is_err(), "cut at {cut}");
        }
        // Every byte flipped: an error or a parse, never a panic.
        for at in 0..APP.len() {
            let mut d = APP.to_vec();
            d[at] ^= 0xff;
            let _ = Packed::parse(&d);
        }
    }

    #[test]
    fn lies_are_errors() {
        // A blob longer than its section.
        let mut d = foo();
        let src_len = d.len() - 10;
        d[src_len] = 9;
        assert!(matches!(
            Packed::parse(&d),
            Err(PackedError::BlobOutOfSection { field: 6, .. })
        ));
        // Sections longer than the file.
        let mut d = foo();
        d[HEADER_LEN + 4] = 0xff;
        assert!(matches!(
            Packed::parse(&d),
            Err(PackedError::SectionsOutOfBounds { .. })
        ));
        // A non-UTF-8 name.
        let mut d = foo();
        let n = d.len() - 4;
        d[n] = 0xff;
        assert_eq!(
            Packed::parse(&d),
            Err(PackedError::NameNotUtf8 { index: 0 })
        );
        // Every cut point is an error, never a panic.
        let d = foo();
        for cut in 0..d.len() {
            assert!(Packed::parse(&d[..cut]).is_err(), "cut at {cut}");
        }
    }
}
