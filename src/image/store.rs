//! Where an image's files live: a directory (an OCI layout) or a tar
//! archive (an OCI layout packed in a tar, or a `docker save` archive).
//!
//! A tar archive is indexed once (name → offset and size of the member's
//! data); a member is then read straight from the archive, never unpacked.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::ImageError;
use crate::format::tar::{self, EntryType};
use crate::limits::MAX_ARCHIVE_MEMBERS;

/// A directory or an indexed tar archive.
#[derive(Debug)]
pub enum Store {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        /// Member name (no leading `./`) → (data offset, size).
        members: HashMap<String, (u64, u64)>,
    },
}

impl Store {
    /// Opens `path`: a directory as is, a regular file as a tar archive.
    pub fn open(path: &Path) -> Result<Store, ImageError> {
        let meta = std::fs::metadata(path).map_err(|e| ImageError::io(path, e))?;
        if meta.is_dir() {
            return Ok(Store::Dir(path.to_path_buf()));
        }
        let (file, _) =
            crate::fsutil::open_regular(path).map_err(|e| ImageError::Archive(format!("{e}")))?;
        let members = index_tar(path, file)?;
        Ok(Store::Tar {
            file: path.to_path_buf(),
            members,
        })
    }

    /// Whether a member exists.
    pub fn has(&self, name: &str) -> bool {
        match self {
            Store::Dir(d) => d.join(name).is_file(),
            Store::Tar { members, .. } => members.contains_key(name),
        }
    }

    /// Opens a member for reading; also returns its size.
    pub fn open_member(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        match self {
            Store::Dir(d) => {
                let p = d.join(name);
                let (f, m) = crate::fsutil::open_regular(&p).map_err(|e| match e {
                    crate::Error::Io { source, .. }
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        ImageError::Missing(name.to_string())
                    }
                    other => ImageError::Archive(other.to_string()),
                })?;
                Ok((Box::new(BufReader::with_capacity(1 << 17, f)), m.len()))
            }
            Store::Tar { file, members } => {
                let &(offset, size) = members
                    .get(name)
                    .ok_or_else(|| ImageError::Missing(name.to_string()))?;
                let (mut f, _) = crate::fsutil::open_regular(file)
                    .map_err(|e| ImageError::Archive(e.to_string()))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| ImageError::io(file, e))?;
                let r = BufReader::with_capacity(1 << 17, f).take(size);
                Ok((Box::new(r), size))
            }
        }
    }

    /// Reads a small member whole, refusing one larger than `max`.
    pub fn read_member(&self, name: &str, max: u64) -> Result<Vec<u8>, ImageError> {
        let (r, size) = self.open_member(name)?;
        if size > max {
            return Err(ImageError::Archive(format!(
                "{name}: {size} bytes, more than the limit of {max}"
            )));
        }
        let mut buf = Vec::new();
        r.take(max)
            .read_to_end(&mut buf)
            .map_err(|e| ImageError::io(Path::new(name), e))?;
        Ok(buf)
    }
}

/// Indexes the members of an uncompressed tar archive.
fn index_tar(path: &Path, file: File) -> Result<HashMap<String, (u64, u64)>, ImageError> {
    let mut reader = tar::Reader::new(BufReader::with_capacity(1 << 16, file));
    let mut members = HashMap::new();
    let bad = |e: tar::TarError| ImageError::Archive(format!("{}: {e}", path.display()));
    while let Some(entry) = reader.next_entry_seeking().map_err(bad)? {
        if members.len() >= MAX_ARCHIVE_MEMBERS {
            return Err(ImageError::Archive(format!(
                "{}: more than {MAX_ARCHIVE_MEMBERS} members",
                path.display()
            )));
        }
        let name = member_name(&entry.path);
        match entry.kind {
            EntryType::File => {
                members.insert(name, (reader.data_offset(), entry.size));
            }
            // A link to an earlier member reads as that member.
            EntryType::HardLink => {
                if let Some(&loc) = members.get(&member_name(&entry.link)) {
                    members.insert(name, loc);
                }
            }
            _ => {}
        }
    }
    Ok(members)
}

/// A member name without leading `./` or `/`.
fn member_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut s = s.as_ref();
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            return s.to_string();
        }
    }
}
