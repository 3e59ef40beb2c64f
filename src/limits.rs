//! Hard limits on what any parser will accept.
//!
//! pyvet reads files an attacker may have written. Every count, length and
//! decompressed size that comes from input is checked against one of these
//! before memory is allocated for it; hitting one is a typed error.

/// Most index entries in one RPM header (rpm's `hdrchkTags`: 0x0000ffff).
pub const RPM_HEADER_MAX_TAGS: u32 = 0x0000_ffff;
/// Largest RPM header data store (rpm's `hdrchkData`: 256 MiB).
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
/// Deepest nesting of marshal objects (CPython's own MAX_MARSHAL_STACK_DEPTH is 2000).
pub const MARSHAL_MAX_DEPTH: usize = 2000;
/// Most objects in one marshal stream.
pub const MARSHAL_MAX_OBJECTS: usize = 1 << 20;
/// Largest `.pyc` read for judging (the biggest in CPython's own stdlib is a few MiB).
pub const MAX_PYC_FILE: u64 = 64 << 20;
/// Largest Python source read to hash or to compile for `--deep`.
pub const MAX_SOURCE_FILE: u64 = 64 << 20;
