//! An `.rpm`'s payload: the compressed cpio archive after the main header.
//!
//! The header is authoritative (as for rpm itself): every cpio entry must
//! name a file of the header, with the header's size, and every file the
//! header lists (but `%ghost`s, which are never in a payload) must be in
//! the archive. The payload is decompressed as a stream per
//! `PAYLOADCOMPRESSOR`, through a reader that fails once
//! [`PayloadLimits::payload`] bytes have come out; an entry whose declared
//! data would end past that limit is refused from its header, before any
//! of it is decompressed. Only the content of the files the caller wants is
//! kept, each capped, all together capped ([`Kept`]). After the cpio
//! trailer the stream is read to its end (so the compressor's checksum
//! covers everything), but no further than [`MAX_PAYLOAD_TRAILING`] bytes.
//!
//! Hard links: rpm writes every member of a hard-link set, the data with the
//! last one and size 0 for the others; members share the header's inode.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::db::deb::{Capped, LimitExceeded};
use crate::error::{Error, Result};
use crate::format::cpio::{self, CpioError};
use crate::format::rpmheader::{Header, HeaderError, Tag};
use crate::limits::{MAX_DECODER_MEMORY, MAX_PAYLOAD_TRAILING, MAX_ZSTD_WINDOW_LOG};
use crate::manifest::{FileEntry, FileFlags, FileKind};
use crate::tree::package::{Kept, KeptTooLarge, PayloadLimits};

/// Why a payload was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    #[error("payload format {found:?} is not supported (only cpio)")]
    UnsupportedFormat { found: String },
    #[error("payload compressor {found:?} is not supported (gzip, xz, lzma, zstd)")]
    UnsupportedCompressor { found: String },
    #[error("payload decompresses to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("payload: decompression failed: {0}")]
    Decompress(#[source] io::Error),
    #[error("payload: {0}")]
    Cpio(#[source] CpioError),
    #[error("payload entry {name:?} is not a file of the header")]
    Unmapped { name: String },
    #[error("{}: {payload} bytes in the payload, {header} in the header", .path.display())]
    SizeMismatch {
        path: PathBuf,
        header: u64,
        payload: u64,
    },
    #[error("{}: listed in the header, absent from the payload", .path.display())]
    Missing { path: PathBuf },
    #[error("{}: twice in the payload", .path.display())]
    Duplicate { path: PathBuf },
    #[error("payload holds more than {max} bytes after its cpio trailer")]
    Trailing { max: u64 },
    #[error(transparent)]
    Kept(#[from] KeptTooLarge),
}

/// An `.rpm`'s files (its header's, `%ghost`s left out, in header order)
/// and the content of the regular files `want` accepts.
pub fn read(
    path: &Path,
    want: &(dyn Fn(&Path) -> bool + Sync),
    limits: &PayloadLimits,
) -> Result<(Vec<FileEntry>, Kept)> {
    let opened = super::open(path)?;
    let files = crate::db::rpm::files(&opened.header).map_err(|e| Error::format(path, e))?;
    let inodes = inodes(&opened.header, files.len()).map_err(|e| Error::format(path, e))?;
    let string = |tag| -> Result<Option<String>> {
        let s = opened
            .header
            .string(tag)
            .map_err(|e| Error::format(path, e))?;
        Ok(s.map(|s| s.into_owned()))
    };
    let (format, compressor) = (string(Tag::PAYLOADFORMAT)?, string(Tag::PAYLOADCOMPRESSOR)?);
    let input = BufReader::new(opened.payload.take(opened.payload_len));
    let reader = decompressor(format, compressor, input).map_err(|e| Error::format(path, e))?;
    let mut walk = Walk {
        files: &files,
        by_path: files
            .iter()
            .enumerate()
            .map(|(i, f)| (&*f.path, i))
            .collect(),
        sizes: payload_sizes(&files, inodes.as_deref()),
        inodes,
        want,
        limits,
        kept: Kept::new(limits.kept),
        seen: vec![false; files.len()],
        carriers: HashMap::new(),
        pending: HashMap::new(),
    };
    let capped = Capped {
        inner: reader,
        left: limits.payload,
    };
    walk.run(capped).map_err(|e| Error::format(path, e))?;
    let kept = walk.kept;
    let files = files
        .into_iter()
        .filter(|f| !f.flags.contains(FileFlags::GHOST))
        .collect();
    Ok((files, kept))
}

/// The header's `FILEINODES` (rpm renumbers them per package), if present.
fn inodes(h: &Header, n: usize) -> std::result::Result<Option<Vec<u32>>, HeaderError> {
    let v = h.u32_array(Tag::FILEINODES)?;
    match v {
        Some(v) if v.len() != n => Err(HeaderError::ArrayLength {
            tag: Tag::FILEINODES,
            expected: n,
            actual: v.len(),
        }),
        v => Ok(v),
    }
}

/// A streaming decompressor for `PAYLOADCOMPRESSOR`. Absent means gzip, as
/// for rpm; and as rpm's gzip reader (zlib's `gzread`) passes data that does
/// not start with the gzip magic through unchanged, so does this one: that
/// is how rpm reads the uncompressed payloads some tools write.
fn decompressor<'a>(
    format: Option<String>,
    compressor: Option<String>,
    mut input: impl io::BufRead + 'a,
) -> std::result::Result<Box<dyn Read + 'a>, PayloadError> {
    if let Some(format) = format.filter(|f| f != "cpio") {
        return Err(PayloadError::UnsupportedFormat { found: format });
    }
    let compressor = compressor.unwrap_or_else(|| "gzip".to_owned());
    let decode_err = |e: liblzma::stream::Error| PayloadError::Decompress(e.into());
    Ok(match compressor.as_str() {
        "gzip" => {
            let head = input.fill_buf().map_err(PayloadError::Decompress)?;
            let gzip = !head.is_empty() && head.iter().zip(GZIP_MAGIC).all(|(&a, b)| a == b);
            if gzip {
                Box::new(flate2::read::MultiGzDecoder::new(input))
            } else {
                Box::new(input)
            }
        }
        "xz" => {
            let s = liblzma::stream::Stream::new_stream_decoder(
                MAX_DECODER_MEMORY,
                liblzma::stream::CONCATENATED,
            )
            .map_err(decode_err)?;
            Box::new(liblzma::read::XzDecoder::new_stream(input, s))
        }
        "lzma" => {
            let s = liblzma::stream::Stream::new_lzma_decoder(MAX_DECODER_MEMORY)
                .map_err(decode_err)?;
            Box::new(liblzma::read::XzDecoder::new_stream(input, s))
        }
        "zstd" => {
            let mut z =
                zstd::stream::read::Decoder::new(input).map_err(PayloadError::Decompress)?;
            // The window is the decoder's buffer, sized by the frame header.
            z.window_log_max(MAX_ZSTD_WINDOW_LOG)
                .map_err(PayloadError::Decompress)?;
            Box::new(z)
        }
        _ => return Err(PayloadError::UnsupportedCompressor { found: compressor }),
    })
}

/// The data size each file has in the payload: the header's, but 0 for
/// every member of a hard-link set (regular files sharing an inode) except
/// the last in header order, which carries the data.
fn payload_sizes(files: &[FileEntry], inodes: Option<&[u32]>) -> Vec<u64> {
    let mut sizes: Vec<u64> = files.iter().map(|f| f.size.unwrap_or(0)).collect();
    let Some(inodes) = inodes else {
        return sizes;
    };
    let linkable = |f: &FileEntry| f.kind == FileKind::File && !f.flags.contains(FileFlags::GHOST);
    let mut last: HashMap<u32, usize> = HashMap::new();
    for (i, _) in files.iter().enumerate().filter(|(_, f)| linkable(f)) {
        last.insert(inodes[i], i);
    }
    for (i, f) in files.iter().enumerate() {
        if linkable(f) && last.get(&inodes[i]) != Some(&i) {
            sizes[i] = 0;
        }
    }
    sizes
}

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// State of one pass over the archive.
struct Walk<'a> {
    files: &'a [FileEntry],
    by_path: HashMap<&'a Path, usize>,
    /// Each file's data size in the payload ([`payload_sizes`]).
    sizes: Vec<u64>,
    inodes: Option<Vec<u32>>,
    want: &'a (dyn Fn(&Path) -> bool + Sync),
    limits: &'a PayloadLimits,
    kept: Kept,
    seen: Vec<bool>,
    /// Inode -> the path whose content was kept for it.
    carriers: HashMap<u32, PathBuf>,
    /// Inode -> wanted paths that came (with size 0) before their data.
    pending: HashMap<u32, Vec<PathBuf>>,
}

impl Walk<'_> {
    fn run<R: Read>(&mut self, input: R) -> std::result::Result<(), PayloadError> {
        let mut cpio = cpio::Reader::with_stripped_sizes(input, self.sizes.clone());
        let limit = self.limits.payload;
        while let Some(entry) = cpio.next_entry().map_err(|e| cpio_error(e, limit))? {
            let i = self.index_of(&entry)?;
            self.check(i, &entry)?;
            if cpio.entry_end() > limit {
                return Err(PayloadError::TooLarge { limit });
            }
            self.content(i, &entry, &mut cpio)?;
        }
        // Read to the end of the compressed stream (padding at most): its
        // checksum then vouches for everything read, and a cut payload is an
        // error even when the cut falls after the trailer.
        let max = MAX_PAYLOAD_TRAILING;
        let trailing = io::copy(&mut cpio.into_inner().take(max + 1), &mut io::sink())
            .map_err(|e| cpio_error(CpioError::Io(e), limit))?;
        if trailing > max {
            return Err(PayloadError::Trailing { max });
        }
        let missing = self
            .files
            .iter()
            .zip(&self.seen)
            .find(|(f, seen)| !**seen && !f.flags.contains(FileFlags::GHOST));
        match missing {
            Some((f, _)) => Err(PayloadError::Missing {
                path: f.path.to_path_buf(),
            }),
            None => Ok(()),
        }
    }

    /// The header index an entry stands for: given (stripped form) or by path.
    fn index_of(&self, entry: &cpio::Entry) -> std::result::Result<usize, PayloadError> {
        if let Some(i) = entry.index {
            return Ok(i as usize);
        }
        let unmapped = || PayloadError::Unmapped {
            name: String::from_utf8_lossy(&entry.name).into_owned(),
        };
        let path = archive_path(&entry.name).ok_or_else(unmapped)?;
        self.by_path
            .get(path.as_path())
            .copied()
            .ok_or_else(unmapped)
    }

    /// Sizes agree with the header, and no file comes twice.
    fn check(&mut self, i: usize, entry: &cpio::Entry) -> std::result::Result<(), PayloadError> {
        let f = &self.files[i];
        if std::mem::replace(&mut self.seen[i], true) {
            return Err(PayloadError::Duplicate {
                path: f.path.to_path_buf(),
            });
        }
        if f.kind == FileKind::File && entry.size != self.sizes[i] {
            return Err(PayloadError::SizeMismatch {
                path: f.path.to_path_buf(),
                header: self.sizes[i],
                payload: entry.size,
            });
        }
        Ok(())
    }

    fn inode(&self, i: usize) -> Option<u32> {
        self.inodes.as_ref().map(|v| v[i])
    }

    /// Keeps the entry's data if it (or a member of its hard-link set) is wanted.
    fn content<R: Read>(
        &mut self,
        i: usize,
        entry: &cpio::Entry,
        cpio: &mut cpio::Reader<R>,
    ) -> std::result::Result<(), PayloadError> {
        let f = &self.files[i];
        if f.kind != FileKind::File {
            return Ok(());
        }
        let wanted = (self.want)(&f.path);
        let ino = self.inode(i);
        if entry.size == 0 && f.size.unwrap_or(0) > 0 {
            // A hard link whose data comes with another member.
            if let (true, Some(ino)) = (wanted, ino) {
                match self.carriers.get(&ino) {
                    Some(from) => self.kept.link(&f.path, &from.clone()),
                    None => self
                        .pending
                        .entry(ino)
                        .or_default()
                        .push(f.path.to_path_buf()),
                }
            }
            return Ok(());
        }
        let waiting = ino
            .and_then(|n| self.pending.remove(&n))
            .unwrap_or_default();
        if (!wanted && waiting.is_empty()) || entry.size > self.limits.file {
            return Ok(());
        }
        let limit = self.limits.payload;
        let data = cpio
            .read_data(self.limits.file)
            .map_err(|e| cpio_error(e, limit))?;
        let path = f.path.to_path_buf();
        self.kept.insert(&path, data)?;
        for p in waiting {
            self.kept.link(&p, &path);
        }
        if let Some(ino) = ino {
            self.carriers.insert(ino, path.clone());
        }
        if !wanted {
            self.kept.remove(&path);
        }
        Ok(())
    }
}

/// Decompression failures and the size limit arrive as I/O errors.
fn cpio_error(e: CpioError, limit: u64) -> PayloadError {
    match e {
        CpioError::Io(e) if e.get_ref().is_some_and(|i| i.is::<LimitExceeded>()) => {
            PayloadError::TooLarge { limit }
        }
        CpioError::Io(e) => PayloadError::Decompress(e),
        e => PayloadError::Cpio(e),
    }
}

/// `./usr/x` as rpm stores it becomes `/usr/x`, the header's spelling; a
/// source rpm's bare names (`foo.spec`) stay bare, as in its header.
/// Anything with `..` maps to nothing.
fn archive_path(raw: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let rest = match raw.strip_prefix(b".") {
        Some(r) if r.starts_with(b"/") => r,
        _ => raw,
    };
    let path = Path::new(std::ffi::OsStr::from_bytes(rest));
    if path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return None;
    }
    Some(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rpm/pyvet-fixture-digest10.rpm"
    );

    /// The fixture holds a 5 GiB `%ghost`, so rpmbuild wrote the stripped
    /// (`07070X`) form; its hard-link pair carries the data on the second
    /// member only.
    #[test]
    fn stripped_payload_of_a_real_package() {
        let all = |_: &Path| true;
        let (files, kept) = read(Path::new(FIXTURE), &all, &PayloadLimits::default()).unwrap();
        assert_eq!(files.len(), 14, "the two %ghost files are left out");
        let content = |p: &str| kept.get(Path::new(p)).map(|d| d.to_vec());
        let pkg = "/usr/lib/pyvet-fixture/pkg";
        assert_eq!(content(&format!("{pkg}/mod.py")).unwrap(), b"VALUE = 42\n");
        assert_eq!(content(&format!("{pkg}/hardlink-a")).unwrap(), b"x\n");
        assert_eq!(content(&format!("{pkg}/hardlink-b")).unwrap(), b"x\n");
        assert_eq!(content(&format!("{pkg}/empty")).unwrap(), b"");
        assert_eq!(
            content("/etc/pyvet-fixture/private.conf").unwrap(),
            b"secret\n"
        );
        assert_eq!(
            content(&format!("{pkg}/link-to-mod")),
            None,
            "a symlink has no content"
        );
        // Only what `want` accepts is kept.
        let py = |p: &Path| p.extension().is_some_and(|e| e == "py");
        let (_, kept) = read(Path::new(FIXTURE), &py, &PayloadLimits::default()).unwrap();
        assert!(kept.get(Path::new(&format!("{pkg}/mod.py"))).is_some());
        assert!(kept.get(Path::new("/etc/pyvet-fixture/app.conf")).is_none());
    }

    /// The payload error inside `e`, which must name the package.
    fn payload_error(e: Error) -> PayloadError {
        let Error::Format { path, source } = e else {
            panic!("{e:?}")
        };
        assert!(path.ends_with("pkg.rpm"), "{}", path.display());
        match *source {
            crate::error::FormatError::RpmPayload(p) => p,
            other => panic!("{other:?}"),
        }
    }

    /// The fixture with its payload cut or replaced, at `dir/pkg.rpm`.
    fn with_payload(dir: &Path, payload: impl FnOnce(&[u8]) -> Vec<u8>) -> PathBuf {
        let bytes = std::fs::read(FIXTURE).unwrap();
        let (_, at) = super::super::parse_header(&bytes).unwrap();
        let mut out = bytes[..at as usize].to_vec();
        out.extend(payload(&bytes[at as usize..]));
        let p = dir.join("pkg.rpm");
        std::fs::write(&p, out).unwrap();
        p
    }

    #[test]
    fn a_truncated_payload_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        for keep in [0, 10, 100, 170] {
            let p = with_payload(d.path(), |pl| pl[..keep].to_vec());
            let e = read(&p, &|_| true, &PayloadLimits::default()).unwrap_err();
            assert!(
                matches!(
                    payload_error(e),
                    PayloadError::Decompress(_)
                        | PayloadError::Cpio(
                            CpioError::Truncated { .. } | CpioError::NoTrailer { .. }
                        )
                ),
                "payload cut at {keep}"
            );
        }
    }

    /// The decompressed payload of the fixture, gzip'd again after `edit`.
    fn regzip(pl: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(pl)
            .read_to_end(&mut raw)
            .unwrap();
        edit(&mut raw);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &raw).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn a_payload_past_its_limit_is_refused() {
        let limits = PayloadLimits {
            payload: 200,
            ..PayloadLimits::default()
        };
        let e = read(Path::new(FIXTURE), &|_| true, &limits).unwrap_err();
        assert!(e.to_string().contains("more than 200 bytes"), "{e}");
        let Error::Format { source, .. } = e else {
            panic!()
        };
        assert!(matches!(
            *source,
            crate::error::FormatError::RpmPayload(PayloadError::TooLarge { limit: 200 })
        ));
    }

    #[test]
    fn entries_must_match_the_header() {
        let d = tempfile::tempdir().unwrap();
        // The first entry (index 0, app.conf) renamed to index 0x0e: a file
        // of the header (big.img, a ghost) whose size is 5 GiB: refused
        // from the header long before 5 GiB are decompressed.
        let p = with_payload(d.path(), |pl| {
            regzip(pl, |raw| raw[6..14].copy_from_slice(b"0000000e"))
        });
        let e = read(&p, &|_| true, &PayloadLimits::default()).unwrap_err();
        assert!(matches!(payload_error(e), PayloadError::TooLarge { .. }),);
        // An index past the header's file list.
        let p = with_payload(d.path(), |pl| {
            regzip(pl, |raw| raw[6..14].copy_from_slice(b"00001000"))
        });
        let e = read(&p, &|_| true, &PayloadLimits::default()).unwrap_err();
        assert!(matches!(
            payload_error(e),
            PayloadError::Cpio(CpioError::StrippedIndex {
                index: 0x1000,
                files: 16,
                ..
            })
        ));
        // app.conf twice (index 1 -> 0): the second one is a duplicate.
        let p = with_payload(d.path(), |pl| {
            regzip(pl, |raw| {
                let at = find(raw, b"07070X00000001");
                raw[at + 6..at + 14].copy_from_slice(b"00000000");
            })
        });
        let e = read(&p, &|_| true, &PayloadLimits::default()).unwrap_err();
        let PayloadError::Duplicate { path } = payload_error(e) else {
            panic!()
        };
        assert_eq!(path, Path::new("/etc/pyvet-fixture/app.conf"));
    }

    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    #[test]
    fn kept_content_is_capped() {
        let limits = PayloadLimits {
            kept: 20,
            ..PayloadLimits::default()
        };
        let e = read(Path::new(FIXTURE), &|_| true, &limits).unwrap_err();
        assert!(e.to_string().contains("more than 20 bytes"), "{e}");
        // A file over the per-file cap is left out, not an error.
        let limits = PayloadLimits {
            file: 10,
            ..PayloadLimits::default()
        };
        let (_, kept) = read(Path::new(FIXTURE), &|_| true, &limits).unwrap();
        assert!(kept
            .get(Path::new("/usr/lib/pyvet-fixture/pkg/__init__.py"))
            .is_none());
        assert!(kept.get(Path::new("/etc/pyvet-fixture/app.conf")).is_some());
    }

    #[test]
    fn archive_paths() {
        assert_eq!(archive_path(b"./usr/x"), Some(PathBuf::from("/usr/x")));
        assert_eq!(archive_path(b"/usr/x"), Some(PathBuf::from("/usr/x")));
        assert_eq!(archive_path(b"foo.spec"), Some(PathBuf::from("foo.spec")));
        assert_eq!(archive_path(b".hidden"), Some(PathBuf::from(".hidden")));
        assert_eq!(archive_path(b"./usr/../etc"), None);
    }
}
