//! Hard limits on what any parser will accept.
//!
//! pyvet reads files an attacker may have written. Every count, length and
//! decompressed size that comes from input is checked against one of these
//! before memory is allocated for it; hitting one is a typed error.

/// Most index entries in one RPM header (rpm's `hdrchkTags`: 0x0000ffff).
pub const RPM_HEADER_MAX_TAGS: u32 = 0x0000_ffff;
/// RPM header data stores must be smaller than this (rpm's `hdrchkData`: 256 MiB, exclusive).
pub const RPM_HEADER_MAX_DATA: u32 = 0x1000_0000;
/// Largest file (a database, a package, a text database) read whole into memory.
pub const MAX_INPUT_FILE: u64 = 1 << 30;
/// Largest decompressed member of a `.deb` (control or data tar stream).
pub const MAX_DECOMPRESSED: u64 = 4 << 30;
/// Largest decompressed control member of a `.deb`.
pub const MAX_CONTROL_DECOMPRESSED: u64 = 64 << 20;
/// Longest line accepted in a text database (dpkg, apk, RECORD, md5sums).
pub const MAX_LINE: usize = 1 << 20;
/// Longest path accepted from any manifest (Linux PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Deepest directory a walk of a tree descends to, counted from where it
/// starts (a Python tree's top): a directory this many levels down is
/// listed as an entry and reported, never looked into. Real Python trees
/// are under 30 levels deep (`site-packages/google/cloud/…/types` is about
/// 12), so 128 leaves four times that; and at 32 bytes a level 128 levels
/// make PATH_MAX (4096 bytes), past which a path-based tree cannot open a
/// directory anyway. Without a bound, a nest of 100,000 directories (legal,
/// one `mkdir` loop away) costs a walk its stack or its time.
pub const MAX_TREE_DEPTH: usize = 128;
/// Deepest nesting of marshal objects (CPython's own MAX_MARSHAL_STACK_DEPTH is 2000).
pub const MARSHAL_MAX_DEPTH: usize = 2000;
/// Most objects in one marshal stream.
pub const MARSHAL_MAX_OBJECTS: usize = 1 << 20;
/// Most file entries one text database (apk `installed`, one pip `RECORD`)
/// may describe; a generous bound on a whole distribution (~10^5–10^6 files)
/// that keeps a hostile file from turning each short line into a 200-byte entry.
pub const MAX_TEXT_DB_ENTRIES: usize = 1 << 21;
/// Longest field in a pip `RECORD` (Python's `csv.field_size_limit()` default).
pub const RECORD_MAX_FIELD: usize = 128 << 10;
/// Most index entries in an RPM signature header (rpm's `hdrblobVerifyLengths`).
pub const RPM_SIGNATURE_MAX_TAGS: u32 = 32;
/// Largest data store of an RPM signature header (rpm's `hdrblobVerifyLengths`: 64 MiB).
pub const RPM_SIGNATURE_MAX_DATA: u32 = 64 << 20;
/// Largest rpmdb header blob: rpm's own header limits (`il`, `dl`, 16-byte index entries).
pub const RPMDB_MAX_BLOB: u64 = 8 + 16 * RPM_HEADER_MAX_TAGS as u64 + RPM_HEADER_MAX_DATA as u64;
/// Most memory an xz/lzma decoder may use for one `.deb` member (xz -9 needs 65 MiB).
pub const MAX_DECODER_MEMORY: u64 = 256 << 20;
/// Largest tar extension header (PAX `x`/`g` records) read into memory.
pub const MAX_TAR_EXTENDED_HEADER: u64 = 1 << 20;
/// Largest `.pyc` read for judging (the biggest in CPython's own stdlib is a few MiB).
pub const MAX_PYC_FILE: u64 = 64 << 20;
/// Largest Python source read to hash or to compile for `--deep`.
pub const MAX_SOURCE_FILE: u64 = 64 << 20;
/// Largest zstd window (log2) a `.deb` member may declare: zstd's own default
/// decoder limit (128 MiB), kept explicit so a library default cannot raise it.
pub const MAX_ZSTD_WINDOW_LOG: u32 = 27;
/// Largest JSON document of an image (index, manifest, config, manifest.json).
pub const MAX_IMAGE_JSON: u64 = 16 << 20;
/// Most layers in one image (Docker's own limit is 127; overlayfs allows ~500).
pub const MAX_IMAGE_LAYERS: usize = 4096;
/// Most descriptors in one image index (or images in one `manifest.json`).
pub const MAX_INDEX_ENTRIES: usize = 1 << 16;
/// Deepest nesting of image indexes.
pub const MAX_INDEX_DEPTH: usize = 8;
/// Most members of an image archive (an OCI layout or `docker save` tar).
pub const MAX_ARCHIVE_MEMBERS: usize = 1 << 20;
/// Most tar entries in one layer: ~4 million, an order of magnitude above the
/// biggest distribution images, far below what exhausts memory.
pub const MAX_LAYER_ENTRIES: u64 = 1 << 22;
/// Most entries in a whole image after its layers are applied.
pub const MAX_IMAGE_ENTRIES: u64 = 1 << 23;
/// Largest decompressed layer: a bomb is stopped here.
pub const MAX_LAYER_DECOMPRESSED: u64 = 64 << 30;
/// Most file contents of an image held in memory at once (Python sources,
/// bytecode, `.pth` files and package databases: what the checks read whole).
pub const MAX_IMAGE_RESIDENT: u64 = 2 << 30;
/// Largest decompressed source in `__pysources__` checked against its pyc;
/// past it, the source is reported as a compression bomb.
pub const MAX_PYSOURCE_DECOMPRESSED: u64 = 16 << 20;
/// Largest zip on the import path read into memory (a whole stdlib zipped
/// is 10–40 MiB).
pub const ZIP_MAX_FILE: u64 = 512 << 20;
/// Most members of one zip (the most a zip without zip64 can declare).
pub const ZIP_MAX_ENTRIES: u64 = 0xFFFF;
/// Largest uncompressed zip member read (the largest pyc or source judged).
pub const ZIP_MAX_MEMBER: u64 = MAX_PYC_FILE;
/// Most bytes decompressed from one zip in all (a zip bomb's members each
/// stay under [`ZIP_MAX_MEMBER`]).
pub const ZIP_MAX_TOTAL: u64 = 1 << 30;
/// Most file content a package tree holds in memory (the files a caller asked
/// for, e.g. the `.py` sources `pyvet size` compresses; a whole CPython stdlib's
/// sources are about 30 MiB).
pub const MAX_PACKAGE_TREE_CONTENT: u64 = 512 << 20;
/// Most decompressed bytes an rpm payload may hold after its cpio
/// `TRAILER!!!` entry (rpm writes a few bytes of padding; cpio(1) pads to
/// 512-byte blocks): more is a decompression bomb, refused without reading it.
pub const MAX_PAYLOAD_TRAILING: u64 = 64 << 10;
/// Largest PyOxidizer packed resources file read into memory (a whole
/// stdlib with sources and three bytecode levels is 30–60 MiB).
pub const PACKED_MAX_FILE: u64 = 512 << 20;
/// Most resources in one packed resources file (a whole stdlib is ~2000).
pub const PACKED_MAX_RESOURCES: usize = 1 << 20;
