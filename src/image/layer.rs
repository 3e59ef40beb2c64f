//! Reading one layer blob: verify it, decompress it, and index its tar
//! entries in a single pass.
//!
//! The compressed bytes are hashed as they are read (the blob digest), and
//! so is the decompressed stream (the diff_id); a layer whose digests do not
//! match is refused as a whole, so nothing from it is ever trusted. While
//! the stream passes, each regular file is either kept in memory (what the
//! checks read whole: Python sources and bytecode, `.pth` files, package
//! databases; capped) or hashed with the algorithms the audit is expected
//! to ask for, its first bytes kept (the magic the checks look at), so
//! that no file needs a second read in the common case: a second read
//! decompresses the layer again from its start. What a pass gathers is
//! handed out only once the layer's digests matched at its end; a file read
//! again is handed out only once its layer matched again.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use sha2::digest::DynDigest;
use sha2::Digest as _;

use super::store::Store;
use super::{ImageError, LayerError, LayerErrorKind};
use crate::digest::{Algo, Digest};
use crate::format::tar::{self, EntryType, TarError};
use crate::limits::{MAX_INPUT_FILE, MAX_PYC_FILE, MAX_SOURCE_FILE, MAX_ZSTD_WINDOW_LOG};
use crate::tree::Head;

/// One layer as the image describes it.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    /// How findings name it: the blob digest (an OCI layout) or the
    /// diff_id (a `docker save` archive, whose layers have no descriptor).
    pub digest: String,
    /// Expected sha256 of the blob as stored, when the manifest gives it.
    pub blob_digest: Option<String>,
    /// Expected sha256 of the decompressed tar stream.
    pub diff_id: String,
    /// Member of the store holding the blob.
    pub member: String,
    /// Declared blob size, when the manifest gives it.
    pub size: Option<u64>,
    pub created_by: Option<String>,
}

/// Limits and choices for reading layers.
#[derive(Debug, Clone)]
pub struct ScanLimits {
    pub max_decompressed: u64,
    pub max_entries: u64,
    /// Entries all layers together may hold (before later layers replace
    /// earlier entries), so that memory stays bounded across layers too.
    pub max_total_entries: u64,
    /// Digests computed for every file not kept in memory.
    pub algos: Vec<Algo>,
}

/// A regular file's content, as far as the first pass keeps it.
#[derive(Debug, Clone)]
pub enum Content {
    /// The whole file, in memory.
    Resident(Arc<[u8]>),
    /// Only its digests and first bytes; the rest can be read again from
    /// the layer.
    Hashed {
        data_offset: u64,
        digests: Vec<Digest>,
        /// The first [`crate::tree::HEAD_LEN`] bytes (fewer in a shorter file): what the
        /// checks that only look at a file's magic read, so that they never
        /// decompress the layer again to reach it.
        head: Head,
    },
}

/// One tar entry of a layer, its path normalised (relative, no `.`/`..`).
#[derive(Debug, Clone)]
pub struct LayerEntry {
    pub path: Vec<u8>,
    pub kind: EntryType,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    /// A symlink's target as stored; a hard link's target normalised.
    pub link: Vec<u8>,
    pub rdev: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
    pub content: Option<Content>,
}

/// Everything one layer changes.
#[derive(Debug, Default)]
pub struct Changeset {
    pub entries: Vec<LayerEntry>,
    /// Paths whose lower-layer entries are removed (`.wh.NAME`).
    pub whiteouts: Vec<Vec<u8>>,
    /// Directories whose lower-layer children are removed (`.wh..wh..opq`).
    pub opaques: Vec<Vec<u8>>,
}

const WHITEOUT: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BUF: usize = 128 << 10;

/// Reads a stream, refusing more than `max` bytes, and hands what it read
/// to a thread that hashes it with sha256 (so that verifying a layer's two
/// digests runs beside its decompression, on another core).
struct Hashing<R> {
    inner: R,
    tx: Option<SyncSender<Vec<u8>>>,
    /// Read but not yet handed to the hasher.
    pending: Vec<u8>,
    hasher: Option<JoinHandle<String>>,
    n: u64,
    max: u64,
    over: fn(u64) -> io::Error,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.inner.read(buf)?;
        self.n += got as u64;
        if self.n > self.max {
            return Err((self.over)(self.max));
        }
        if self.tx.is_some() {
            self.pending.extend_from_slice(&buf[..got]);
            if self.pending.len() >= HASH_CHUNK {
                self.flush();
            }
        }
        Ok(got)
    }
}

/// Chunks in flight to a hashing thread (bounded memory), and their size:
/// tar headers are read 512 bytes at a time, and one message per header
/// would cost more than hashing it.
const HASH_QUEUE: usize = 8;
const HASH_CHUNK: usize = 256 << 10;

impl<R> Hashing<R> {
    /// `verify`: hash what passes (else only count and cap it).
    fn new(inner: R, max: u64, over: fn(u64) -> io::Error, verify: bool) -> Self {
        let (tx, hasher) = if verify {
            let (tx, rx) = sync_channel::<Vec<u8>>(HASH_QUEUE);
            let h = std::thread::spawn(move || {
                let mut d = sha2::Sha256::new();
                for chunk in rx {
                    sha2::Digest::update(&mut d, &chunk);
                }
                format!("sha256:{}", hex(&sha2::Digest::finalize(d)))
            });
            (Some(tx), Some(h))
        } else {
            (None, None)
        };
        Hashing {
            inner,
            pending: Vec::with_capacity(if tx.is_some() { HASH_CHUNK } else { 0 }),
            tx,
            hasher,
            n: 0,
            max,
            over,
        }
    }

    /// The sha256 of everything read (empty when not verifying), the
    /// count, and the stream.
    /// Hands what was read so far to the hashing thread.
    fn flush(&mut self) {
        if let Some(tx) = &self.tx {
            let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(HASH_CHUNK));
            // A send fails only if the hasher is gone; `digest` then says so.
            let _ = tx.send(chunk);
        }
    }

    fn digest(mut self) -> (String, u64, R) {
        self.flush();
        drop(self.tx.take());
        let d = self
            .hasher
            .take()
            .map(|h| h.join().unwrap_or_else(|_| "hashing failed".into()))
            .unwrap_or_default();
        (d, self.n, self.inner)
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Marks an I/O error raised because a limit was hit, not by the OS.
#[derive(Debug, thiserror::Error)]
enum Over {
    #[error("the blob is larger than its descriptor's {0} bytes")]
    Blob(u64),
    #[error("decompresses to more than {0} bytes (a decompression bomb?)")]
    Bomb(u64),
}

fn blob_over(max: u64) -> io::Error {
    io::Error::other(Over::Blob(max))
}
fn bomb(max: u64) -> io::Error {
    io::Error::other(Over::Bomb(max))
}

type Blob = BufReader<Hashing<Box<dyn Read + Send>>>;

/// The decompressor a blob's first bytes call for.
enum Decoded {
    // Boxed: zlib-rs keeps its state inline, and one is open per layer.
    Gzip(Box<flate2::read::MultiGzDecoder<Blob>>),
    Zstd(zstd::stream::read::Decoder<'static, Blob>),
    Plain(Blob),
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Gzip(r) => r.read(buf),
            Decoded::Zstd(r) => r.read(buf),
            Decoded::Plain(r) => r.read(buf),
        }
    }
}

impl Decoded {
    fn open(mut blob: Blob) -> io::Result<Decoded> {
        let head = blob.fill_buf()?;
        if head.starts_with(GZIP_MAGIC) {
            return Ok(Decoded::Gzip(Box::new(flate2::read::MultiGzDecoder::new(
                blob,
            ))));
        }
        if head.starts_with(ZSTD_MAGIC) {
            let mut z = zstd::stream::read::Decoder::with_buffer(blob)?;
            z.window_log_max(MAX_ZSTD_WINDOW_LOG)?;
            return Ok(Decoded::Zstd(z));
        }
        Ok(Decoded::Plain(blob))
    }

    fn into_blob(self) -> Blob {
        match self {
            Decoded::Gzip(r) => r.into_inner(),
            Decoded::Zstd(r) => r.finish(),
            Decoded::Plain(r) => r,
        }
    }
}

/// Opens a layer's decompressed stream, hashing each side that has a
/// digest to match: a `docker save` layer has no blob digest (its blob
/// is checked by its diff_id alone), and an uncompressed blob whose
/// digest is its diff_id is hashed once for both.
fn open_stream(
    store: &Store,
    info: &LayerInfo,
    max_decompressed: u64,
) -> Result<Hashing<Decoded>, ImageError> {
    let (r, actual) = store.open_member(&info.member)?;
    let max = info.size.unwrap_or(actual);
    let hash_blob = info.blob_digest.is_some();
    let blob = BufReader::with_capacity(BUF, Hashing::new(r, max, blob_over, hash_blob));
    let fail = |e| layer_err(info, None, LayerErrorKind::Io(e));
    let decoded = Decoded::open(blob).map_err(fail)?;
    let same = matches!(decoded, Decoded::Plain(_))
        && info.blob_digest.as_deref() == Some(info.diff_id.as_str());
    Ok(Hashing::new(decoded, max_decompressed, bomb, !same))
}

fn layer_err(info: &LayerInfo, entry: Option<&[u8]>, kind: LayerErrorKind) -> ImageError {
    ImageError::Layer(Box::new(LayerError {
        layer: info.digest.clone(),
        entry: entry.map(|e| String::from_utf8_lossy(e).into_owned()),
        kind,
    }))
}

/// Turns a tar or I/O error into a layer error, naming a hit limit plainly.
fn tar_err(info: &LayerInfo, entry: Option<&[u8]>, e: TarError) -> ImageError {
    let kind = match e {
        TarError::Io(io) => io_kind(io),
        other => LayerErrorKind::Tar(other),
    };
    layer_err(info, entry, kind)
}

fn io_kind(io: io::Error) -> LayerErrorKind {
    match io.get_ref().and_then(|e| e.downcast_ref::<Over>()) {
        Some(Over::Bomb(max)) => LayerErrorKind::Bomb(*max),
        Some(Over::Blob(max)) => LayerErrorKind::BlobTooLarge(*max),
        None => LayerErrorKind::Io(io),
    }
}

/// Reads one layer: verifies it and returns what it changes.
pub fn scan(
    store: &Store,
    info: &LayerInfo,
    limits: &ScanLimits,
    resident_budget: &AtomicU64,
    total_entries: &AtomicU64,
) -> Result<Changeset, ImageError> {
    let stream = open_stream(store, info, limits.max_decompressed)?;
    let mut reader = tar::Reader::new(stream);
    let mut out = Changeset::default();
    let mut last: Option<Vec<u8>> = None;
    let mut count = 0u64;
    let files = FileHasher::start(limits.algos.clone());
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => return Err(tar_err(info, last.as_deref(), e)),
        };
        count += 1;
        let total = total_entries.fetch_add(1, Ordering::Relaxed) + 1;
        if count > limits.max_entries {
            return Err(layer_err(
                info,
                Some(&entry.path),
                LayerErrorKind::TooManyEntries(limits.max_entries),
            ));
        }
        if total > limits.max_total_entries {
            return Err(ImageError::TooManyEntries(limits.max_total_entries));
        }
        last = Some(entry.path.clone());
        let bad = |k| layer_err(info, Some(&entry.path), k);
        let path = normalise(&entry.path).map_err(bad)?;
        if let Some(change) = whiteout(&path) {
            match change {
                Whiteout::Opaque(dir) => out.opaques.push(dir),
                Whiteout::Path(p) => out.whiteouts.push(p),
                Whiteout::Ignored => {}
            }
            continue;
        }
        let content = match entry.kind {
            EntryType::File => Some(
                read_content(
                    &mut reader,
                    &path,
                    entry.size,
                    resident_budget,
                    &files,
                    out.entries.len(),
                )
                .map_err(|e| tar_err(info, Some(&entry.path), e))?,
            ),
            _ => None,
        };
        let link = match entry.kind {
            EntryType::HardLink => normalise(&entry.link).map_err(bad)?,
            _ => entry.link,
        };
        let rdev = libc::makedev(entry.dev.0 as u32, entry.dev.1 as u32);
        out.entries.push(LayerEntry {
            path,
            kind: entry.kind,
            mode: entry.mode | entry.kind.mode_bits(),
            uid: u32::try_from(entry.uid).unwrap_or(u32::MAX),
            gid: u32::try_from(entry.gid).unwrap_or(u32::MAX),
            size: if entry.kind == EntryType::File {
                entry.size
            } else {
                0
            },
            mtime: entry.mtime,
            link,
            rdev,
            xattrs: entry.xattrs,
            content,
        });
    }
    for (index, digests) in files.finish() {
        if let Some(Content::Hashed { digests: d, .. }) = &mut out.entries[index].content {
            *d = digests;
        }
    }
    finish(reader.into_inner(), info).map_err(|e| match e {
        ImageError::Layer(mut l) => {
            l.entry = None;
            ImageError::Layer(l)
        }
        other => other,
    })?;
    Ok(out)
}

/// Drains both streams to their ends and checks both digests and the size.
fn finish(mut stream: Hashing<Decoded>, info: &LayerInfo) -> Result<(), ImageError> {
    let fail = |e: io::Error| layer_err(info, None, io_kind(e));
    io::copy(&mut stream, &mut io::sink()).map_err(fail)?;
    let (diff_id, _, decoded) = stream.digest();
    let mut blob = decoded.into_blob();
    io::copy(&mut blob, &mut io::sink()).map_err(fail)?;
    let (blob_digest, blob_size, _) = blob.into_inner().digest();
    // Not hashed separately: the stream is the blob (see `open_stream`).
    let diff_id = if diff_id.is_empty() {
        blob_digest.clone()
    } else {
        diff_id
    };
    if let Some(size) = info.size {
        if blob_size != size {
            return Err(layer_err(
                info,
                None,
                LayerErrorKind::Truncated {
                    expected: size,
                    actual: blob_size,
                },
            ));
        }
    }
    let checks = [
        ("blob digest", info.blob_digest.as_deref(), blob_digest),
        ("diff_id", Some(info.diff_id.as_str()), diff_id),
    ];
    for (what, expected, actual) in checks {
        if let Some(expected) = expected {
            if expected != actual {
                return Err(layer_err(
                    info,
                    None,
                    LayerErrorKind::DigestMismatch {
                        what,
                        expected: expected.to_string(),
                        actual,
                    },
                ));
            }
        }
    }
    Ok(())
}

/// Keeps a file in memory when the checks read it whole, else hands it to
/// the file hasher (its digests are filled in when the layer is done).
fn read_content<R: Read>(
    reader: &mut tar::Reader<R>,
    path: &[u8],
    size: u64,
    budget: &AtomicU64,
    files: &FileHasher,
    index: usize,
) -> Result<Content, TarError> {
    if keep_whole(path, size) && take_budget(budget, size) {
        let data = reader.read_data(size)?;
        return Ok(Content::Resident(data.into()));
    }
    let data_offset = reader.data_offset();
    let mut left = size;
    let mut data = reader.data();
    let mut head = None;
    loop {
        let want = left.min(HASH_CHUNK as u64);
        let mut chunk = Vec::with_capacity(want as usize);
        (&mut data).take(want).read_to_end(&mut chunk)?;
        left -= chunk.len() as u64;
        head.get_or_insert_with(|| Head::of(&chunk));
        let end = (left == 0 || chunk.is_empty()).then_some(index);
        files.send(FileChunk { data: chunk, end });
        if end.is_some() {
            break;
        }
    }
    Ok(Content::Hashed {
        data_offset,
        digests: Vec::new(),
        head: head.unwrap_or_default(),
    })
}

/// Each closed file's digests, by entry index.
type FileDigests = Vec<(usize, Vec<Digest>)>;

/// Part of a file for the file hasher; `end` closes the file at that entry index.
struct FileChunk {
    data: Vec<u8>,
    end: Option<usize>,
}

/// Hashes the files the first pass does not keep, on a thread of its own,
/// beside the decompression.
struct FileHasher {
    tx: Option<SyncSender<FileChunk>>,
    worker: Option<JoinHandle<FileDigests>>,
}

impl FileHasher {
    fn start(algos: Vec<Algo>) -> Self {
        let (tx, rx) = sync_channel::<FileChunk>(HASH_QUEUE);
        let worker = std::thread::spawn(move || {
            let fresh =
                || -> Vec<Box<dyn DynDigest + Send>> { algos.iter().map(|&a| hasher(a)).collect() };
            let mut out = Vec::new();
            let mut hashers = fresh();
            for chunk in rx {
                for h in &mut hashers {
                    h.update(&chunk.data);
                }
                if let Some(index) = chunk.end {
                    let done = std::mem::replace(&mut hashers, fresh());
                    let digests = algos
                        .iter()
                        .zip(done)
                        .map(|(&algo, h)| Digest {
                            algo,
                            bytes: h.finalize().to_vec().into(),
                        })
                        .collect();
                    out.push((index, digests));
                }
            }
            out
        });
        FileHasher {
            tx: Some(tx),
            worker: Some(worker),
        }
    }

    fn send(&self, chunk: FileChunk) {
        if let Some(tx) = &self.tx {
            // Fails only if the worker is gone; `finish` then has no digests.
            let _ = tx.send(chunk);
        }
    }

    /// Every closed file's digests, by entry index.
    fn finish(mut self) -> FileDigests {
        drop(self.tx.take());
        self.worker
            .take()
            .and_then(|w| w.join().ok())
            .unwrap_or_default()
    }
}

fn take_budget(budget: &AtomicU64, size: u64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(size)
        })
        .is_ok()
}

/// A streaming hasher for `algo`.
pub(crate) fn hasher(algo: Algo) -> Box<dyn DynDigest + Send> {
    match algo {
        Algo::Md5 => Box::new(md5::Md5::default()),
        Algo::Sha1 => Box::new(sha1::Sha1::default()),
        Algo::Sha224 => Box::new(sha2::Sha224::default()),
        Algo::Sha256 => Box::new(sha2::Sha256::default()),
        Algo::Sha384 => Box::new(sha2::Sha384::default()),
        Algo::Sha512 => Box::new(sha2::Sha512::default()),
    }
}

/// Directories holding package databases, as paths inside the image.
const DB_DIRS: [&[u8]; 5] = [
    b"var/lib/dpkg/",
    b"var/lib/rpm/",
    b"usr/lib/sysimage/rpm/",
    b"lib/apk/db/",
    b"usr/lib/apk/db/",
];
/// Single files the audit reads whole.
const WHOLE_FILES: [&[u8]; 4] = [
    b"etc/passwd",
    b"etc/group",
    b"etc/os-release",
    b"usr/lib/os-release",
];

/// What the checks read whole (and the package databases).
fn keep_whole(path: &[u8], size: u64) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let ext = |e: &[u8]| name.ends_with(e);
    if ext(b".py") || ext(b".pth") || ext(b".pyi") {
        return size <= MAX_SOURCE_FILE;
    }
    if ext(b".pyc") || ext(b".pyo") {
        return size <= MAX_PYC_FILE;
    }
    if ext(b".zip") {
        return size <= crate::limits::ZIP_MAX_FILE;
    }
    if DB_DIRS.iter().any(|d| path.starts_with(d)) || WHOLE_FILES.contains(&path) {
        return size <= MAX_INPUT_FILE;
    }
    name == b"RECORD" && path.ends_with(b".dist-info/RECORD") && size <= MAX_INPUT_FILE
}

/// A tar name as a path relative to the image root: leading `./` and `.`
/// components dropped. Absolute names and `..` are refused: a layer that
/// uses them tries to write outside the root.
pub fn normalise(raw: &[u8]) -> Result<Vec<u8>, LayerErrorKind> {
    if raw.first() == Some(&b'/') {
        return Err(LayerErrorKind::Absolute);
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err(LayerErrorKind::Escape),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

enum Whiteout {
    Opaque(Vec<u8>),
    Path(Vec<u8>),
    /// Other `.wh..wh.` names (AUFS bookkeeping): hidden, no effect.
    Ignored,
}

fn whiteout(path: &[u8]) -> Option<Whiteout> {
    let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    };
    let rest = name.strip_prefix(WHITEOUT)?;
    if name == OPAQUE {
        return Some(Whiteout::Opaque(dir.to_vec()));
    }
    if rest.starts_with(WHITEOUT) || rest.is_empty() {
        return Some(Whiteout::Ignored);
    }
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(rest);
    Some(Whiteout::Path(p))
}

/// Reads `len` bytes of one file again from its layer, at `data_offset`
/// in the decompressed stream: for a file the one pass neither kept nor
/// could answer for. The layer is read to its end and both digests checked
/// before the bytes are returned: the blob may have changed on disk since
/// the pass, and bytes nobody checked are never handed out.
pub fn read_again(
    store: &Store,
    info: &LayerInfo,
    data_offset: u64,
    len: u64,
    max_decompressed: u64,
) -> Result<Vec<u8>, ImageError> {
    let mut stream = open_stream(store, info, max_decompressed)?;
    let fail = |e| layer_err(info, None, io_kind(e));
    let skipped = io::copy(&mut (&mut stream).take(data_offset), &mut io::sink()).map_err(fail)?;
    let mut data = Vec::new();
    (&mut stream)
        .take(len)
        .read_to_end(&mut data)
        .map_err(fail)?;
    if skipped < data_offset || (data.len() as u64) < len {
        let offset = data_offset + data.len() as u64;
        let kind = LayerErrorKind::Tar(TarError::Truncated { offset });
        return Err(layer_err(info, None, kind));
    }
    finish(stream, info)?;
    Ok(data)
}

/// A second pass over a layer computing `algo` for every file at one of
/// `offsets` (data offsets): when the audit asks for a digest the first
/// pass did not compute, every file of the layer gets it at once. The blob
/// is verified again: it may have changed on disk since the first pass,
/// and digests of bytes nobody checked would be trusted.
pub fn digest_pass(
    store: &Store,
    info: &LayerInfo,
    algo: Algo,
    offsets: &std::collections::HashSet<u64>,
    max_decompressed: u64,
) -> Result<std::collections::HashMap<u64, Digest>, ImageError> {
    let stream = open_stream(store, info, max_decompressed)?;
    let mut reader = tar::Reader::new(stream);
    let mut out = std::collections::HashMap::new();
    while let Some(entry) = reader.next_entry().map_err(|e| tar_err(info, None, e))? {
        if entry.kind != EntryType::File || !offsets.contains(&reader.data_offset()) {
            continue;
        }
        let at = reader.data_offset();
        let d = algo
            .hash_reader(&mut reader.data())
            .map_err(|e| layer_err(info, Some(&entry.path), io_kind(e)))?;
        out.insert(at, d);
    }
    finish(reader.into_inner(), info)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_escapes_refused() {
        assert_eq!(normalise(b"./usr//lib/./x").unwrap(), b"usr/lib/x");
        assert_eq!(normalise(b"./").unwrap(), b"");
        assert!(matches!(
            normalise(b"/etc/x"),
            Err(LayerErrorKind::Absolute)
        ));
        assert!(matches!(
            normalise(b"a/../../x"),
            Err(LayerErrorKind::Escape)
        ));
    }

    #[test]
    fn whiteouts() {
        assert!(matches!(whiteout(b"a/.wh..wh..opq"), Some(Whiteout::Opaque(d)) if d == b"a"));
        assert!(matches!(whiteout(b"a/.wh.b"), Some(Whiteout::Path(p)) if p == b"a/b"));
        assert!(matches!(whiteout(b".wh.b"), Some(Whiteout::Path(p)) if p == b"b"));
        assert!(matches!(
            whiteout(b"a/.wh..wh.plnk"),
            Some(Whiteout::Ignored)
        ));
        assert!(whiteout(b"a/b.wh.c").is_none());
    }

    #[test]
    fn a_second_pass_verifies_the_blob_again() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("lib.so"), b"first").unwrap();
        let blob = d.path().join("layer.tar");
        let ok = std::process::Command::new("tar")
            .args([
                "-cf",
                blob.to_str().unwrap(),
                "-C",
                src.to_str().unwrap(),
                "lib.so",
            ])
            .status()
            .unwrap();
        assert!(ok.success());
        let bytes = std::fs::read(&blob).unwrap();
        let sha = format!("sha256:{}", Algo::Sha256.hash_bytes(&bytes).hex());
        let info = LayerInfo {
            digest: sha.clone(),
            blob_digest: Some(sha.clone()),
            diff_id: sha,
            member: "layer.tar".into(),
            size: Some(bytes.len() as u64),
            created_by: None,
        };
        let store = Store::open(d.path()).unwrap();
        let offsets = [512u64].into_iter().collect();
        let pass = || digest_pass(&store, &info, Algo::Sha1, &offsets, 1 << 20);
        assert_eq!(pass().unwrap()[&512], Algo::Sha1.hash_bytes(b"first"));
        // The same size, other content: what the first pass trusted is gone.
        let at = bytes.windows(5).position(|w| w == b"first").unwrap();
        let mut changed = bytes.clone();
        changed[at..at + 5].copy_from_slice(b"other");
        std::fs::write(&blob, &changed).unwrap();
        let err = pass().unwrap_err().to_string();
        assert!(err.contains("digest"), "{err}");
    }

    #[test]
    fn what_is_kept_whole() {
        assert!(keep_whole(b"usr/lib/python3.11/os.py", 10));
        assert!(keep_whole(b"var/lib/dpkg/status", 10));
        assert!(keep_whole(
            b"usr/lib/python3/dist-packages/a-1.dist-info/RECORD",
            10
        ));
        assert!(!keep_whole(b"usr/bin/python3.11", 10));
        assert!(!keep_whole(
            b"usr/lib/python3.11/os.py",
            MAX_SOURCE_FILE + 1
        ));
    }
}
