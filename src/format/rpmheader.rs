//! RPM's header structure, parsed and validated without trusting the input.
//!
//! Every rpm package file and every rpmdb record is a "header": an index of
//! `(tag, type, offset, count)` entries followed by a data store. pyvet reads
//! headers an attacker may have written, so this parser applies the same
//! checks as rpm's `lib/header.cc` (`hdrblobInit`, `hdrblobVerifyRegion`,
//! `hdrblobVerifyInfo`, and the data accounting of `hdrblobImport`) before any
//! value is handed out: a header rpm itself would refuse is refused here too,
//! with an error that says which rule it broke.
//!
//! Values are only reached through typed accessors that check the entry's
//! data type, so a tag of the wrong type is an error, never a misread.

use std::borrow::Cow;

use crate::limits::{
    RPM_HEADER_MAX_DATA, RPM_HEADER_MAX_TAGS, RPM_SIGNATURE_MAX_DATA, RPM_SIGNATURE_MAX_TAGS,
};

/// The 8 bytes that precede a header in package files (`rpm_header_magic`).
pub const HEADER_INTRO: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0x00, 0x00, 0x00, 0x00];

/// Size of one index entry on disk: tag, type, offset, count (big-endian u32 each).
const ENTRY_SIZE: usize = 16;
/// Size of the `il` and `dl` words that start a header blob.
const LENGTHS_SIZE: usize = 8;
/// Size of a region trailer, also the `count` a region tag must have (`REGION_TAG_COUNT`).
const REGION_TRAILER_SIZE: u32 = ENTRY_SIZE as u32;
/// rpm refuses any entry count with bits above this for non-binary data (`HEADER_ARRAY_MAX`).
const MAX_ARRAY_COUNT: u32 = 0x000f_ffff;

/// Tag numbers (`RPMTAG_*`) pyvet reads.
#[derive(Debug, Clone, Copy)]
pub struct Tag;

impl Tag {
    /// Region tag of legacy (v3) headers.
    pub const HEADERIMAGE: u32 = 61;
    /// Region tag of signature headers.
    pub const HEADERSIGNATURES: u32 = 62;
    /// Region tag of the immutable main header.
    pub const HEADERIMMUTABLE: u32 = 63;
    /// First tag number that is not a region tag.
    pub const HEADERREGIONS: u32 = 64;
    /// Locale table of i18n strings; also the lowest ordinary tag number.
    pub const HEADERI18NTABLE: u32 = 100;
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const SUMMARY: u32 = 1004;
    pub const DESCRIPTION: u32 = 1005;
    pub const BUILDTIME: u32 = 1006;
    pub const INSTALLTIME: u32 = 1008;
    pub const SIZE: u32 = 1009;
    pub const LICENSE: u32 = 1014;
    pub const GROUP: u32 = 1016;
    pub const OS: u32 = 1021;
    pub const ARCH: u32 = 1022;
    pub const OLDFILENAMES: u32 = 1027;
    pub const FILESIZES: u32 = 1028;
    pub const FILESTATES: u32 = 1029;
    pub const FILEMODES: u32 = 1030;
    pub const FILERDEVS: u32 = 1033;
    /// Per-file `%verify` attributes (`RPMVERIFY_*` bits rpm -V checks).
    pub const FILEVERIFYFLAGS: u32 = 1045;
    pub const FILEMTIMES: u32 = 1034;
    /// `FILEMD5S` in old rpm; holds digests of `FILEDIGESTALGO`.
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const SOURCERPM: u32 = 1044;
    pub const FILEINODES: u32 = 1096;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const LONGFILESIZES: u32 = 5008;
    /// Per-file capabilities in `cap_to_text` form (empty: none).
    pub const FILECAPS: u32 = 5010;
    pub const LONGSIZE: u32 = 5009;
    pub const FILEDIGESTALGO: u32 = 5011;
    pub const PAYLOADDIGEST: u32 = 5092;
    /// The payload's archive format (`cpio`; absent means cpio).
    pub const PAYLOADFORMAT: u32 = 1124;
    /// The payload's compressor (`gzip`, `xz`, `lzma`, `zstd`, `bzip2`; absent means gzip).
    pub const PAYLOADCOMPRESSOR: u32 = 1125;
    /// Present in rpm v6 packages.
    pub const RPMFORMAT: u32 = 5114;
}

/// Header data types (`rpmTagType`).
#[derive(Debug, Clone, Copy)]
pub struct DataType;

impl DataType {
    pub const NULL: u32 = 0;
    pub const CHAR: u32 = 1;
    pub const INT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const INT32: u32 = 4;
    pub const INT64: u32 = 5;
    pub const STRING: u32 = 6;
    pub const BIN: u32 = 7;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;

    /// rpm's name for a data type, for error messages.
    pub fn name(ty: u32) -> &'static str {
        match ty {
            Self::NULL => "NULL",
            Self::CHAR => "CHAR",
            Self::INT8 => "INT8",
            Self::INT16 => "INT16",
            Self::INT32 => "INT32",
            Self::INT64 => "INT64",
            Self::STRING => "STRING",
            Self::BIN => "BIN",
            Self::STRING_ARRAY => "STRING_ARRAY",
            Self::I18NSTRING => "I18NSTRING",
            _ => "unknown",
        }
    }

    /// Bytes per item for fixed-size types; `None` for strings (and invalid types).
    fn item_size(ty: u32) -> Option<u32> {
        match ty {
            Self::NULL => Some(0),
            Self::CHAR | Self::INT8 | Self::BIN => Some(1),
            Self::INT16 => Some(2),
            Self::INT32 => Some(4),
            Self::INT64 => Some(8),
            _ => None,
        }
    }

    fn is_string_class(ty: u32) -> bool {
        matches!(ty, Self::STRING | Self::STRING_ARRAY | Self::I18NSTRING)
    }
}

/// The type rpm's tag table gives a tag pyvet knows; `None` for the rest
/// (rpm permits unknown tags for forward compatibility).
fn declared_type(tag: u32) -> Option<u32> {
    Some(match tag {
        Tag::HEADERI18NTABLE
        | Tag::OLDFILENAMES
        | Tag::FILEDIGESTS
        | Tag::FILELINKTOS
        | Tag::FILEUSERNAME
        | Tag::FILEGROUPNAME
        | Tag::BASENAMES
        | Tag::DIRNAMES => DataType::STRING_ARRAY,
        Tag::NAME
        | Tag::VERSION
        | Tag::RELEASE
        | Tag::LICENSE
        | Tag::OS
        | Tag::ARCH
        | Tag::SOURCERPM => DataType::STRING,
        Tag::SUMMARY | Tag::DESCRIPTION | Tag::GROUP => DataType::I18NSTRING,
        Tag::EPOCH
        | Tag::BUILDTIME
        | Tag::INSTALLTIME
        | Tag::SIZE
        | Tag::FILESIZES
        | Tag::FILEMTIMES
        | Tag::FILEFLAGS
        | Tag::FILEINODES
        | Tag::DIRINDEXES
        | Tag::FILEDIGESTALGO => DataType::INT32,
        Tag::FILEMODES | Tag::FILERDEVS => DataType::INT16,
        Tag::LONGFILESIZES | Tag::LONGSIZE => DataType::INT64,
        Tag::FILESTATES => DataType::CHAR,
        _ => return None,
    })
}

/// rpm's `hdrchkTagType`: a known tag must have its declared type, except
/// that string tags may use any string type.
fn tag_type_ok(tag: u32, ty: u32) -> bool {
    match declared_type(tag) {
        None => true,
        Some(d) if d == ty => true,
        Some(d) => DataType::is_string_class(d) && DataType::is_string_class(ty),
    }
}

/// What was wrong with one index entry (rpm's `hdrblobVerifyInfo` rules, in its order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryProblem {
    #[error("data at offset {offset} overlaps the previous entry, which ends at {previous_end}")]
    Overlap { previous_end: u32, offset: i32 },
    #[error("tag number below {min} outside the region entry")]
    TagBelowMinimum { min: u32 },
    #[error("type {ty} is not a header data type (0..=9)")]
    BadType { ty: u32 },
    #[error("count {count} is not within 1..={dl} (the data store size)")]
    BadCount { count: u32, dl: u32 },
    #[error("offset {offset} is not aligned to {align} bytes for {}", DataType::name(*ty))]
    Misaligned { ty: u32, offset: i32, align: u32 },
    #[error("offset {offset} is outside the data store of {dl} bytes")]
    OffsetOutOfRange { offset: i32, dl: u32 },
    #[error("count {count} exceeds rpm's array limit of {max}")]
    ArrayTooLong { count: u32, max: u32 },
    #[error("type {} where rpm's tag table says {}", DataType::name(*actual), DataType::name(*expected))]
    TypeMismatch { expected: u32, actual: u32 },
    #[error("a STRING entry must have count 1, not {count}")]
    StringCount { count: u32 },
    #[error("{count} NUL-terminated string(s) expected from offset {offset}, but the data store ends first")]
    Unterminated { offset: i32, count: u32 },
    #[error("{len} bytes at offset {offset} run past the data store of {dl} bytes")]
    DataOutOfRange { offset: i32, len: u32, dl: u32 },
    #[error("entry has no data (type NULL)")]
    NoData,
    #[error("data ending at {end} overlaps the region trailer at {trailer}")]
    OverlapsTrailer { end: u32, trailer: u32 },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    #[error("{what}: need {needed} bytes, only {available} present")]
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    #[error("bad header magic {found:02x?}, expected {:02x?}", HEADER_INTRO)]
    BadMagic { found: [u8; 8] },
    #[error("{il} index entries, more than the limit of {max}")]
    TooManyTags { il: u32, max: u32 },
    #[error("data store of {dl} bytes, more than the limit of {max}")]
    DataTooLarge { dl: u32, max: u32 },
    #[error("header of {size} bytes (8 + 16 * il + dl), limit is below {max}")]
    HeaderTooLarge { size: u64, max: u64 },
    #[error("header says it is {declared} bytes (8 + 16 * il + dl), the blob has {actual}")]
    SizeMismatch { declared: u64, actual: u64 },
    #[error("header has no index entries")]
    NoTags,
    #[error("region tag {tag}: type {ty} count {count}, expected type BIN (7) count 16")]
    BadRegionTag { tag: u32, ty: u32, count: u32 },
    #[error("region tag {tag}: trailer at offset {offset} + 16 lies outside the data store of {dl} bytes")]
    RegionOffsetOutOfRange { tag: u32, offset: i32, dl: u32 },
    #[error("region trailer: tag {tag} type {ty} count {count}, expected tag {expected_tag} type BIN (7) count 16")]
    BadRegionTrailer {
        expected_tag: u32,
        tag: u32,
        ty: u32,
        count: u32,
    },
    #[error("region size: trailer offset {trailer_offset} gives ril {ril} (il {il}) and rdl {rdl} (dl {dl})")]
    BadRegionSize {
        trailer_offset: i64,
        ril: i64,
        il: u32,
        rdl: u32,
        dl: u32,
    },
    #[error(
        "region of a package header must cover it whole: il {il} ril {ril}, dl {dl} rdl {rdl}"
    )]
    RegionNotWholeHeader {
        il: u32,
        ril: u32,
        dl: u32,
        rdl: u32,
    },
    #[error("index entry {index} (tag {tag}): {problem}")]
    Entry {
        index: u32,
        tag: u32,
        problem: EntryProblem,
    },
    #[error("entries account for {accounted} bytes of data, the data store has {dl}")]
    DataNotAccounted { accounted: u64, dl: u32 },
    #[error("tag {tag} has type {}, expected {expected}", DataType::name(*actual))]
    WrongType {
        tag: u32,
        expected: &'static str,
        actual: u32,
    },
    #[error("required tag {tag} ({name}) is missing")]
    MissingTag { tag: u32, name: &'static str },
    #[error("tag {tag} has {actual} values, expected one per file ({expected})")]
    ArrayLength {
        tag: u32,
        expected: usize,
        actual: usize,
    },
    #[error("file {file}: directory index {index} is not below the {dirs} directory names")]
    DirIndexOutOfRange {
        file: usize,
        index: u32,
        dirs: usize,
    },
    #[error("file {file}: digest {value:?} is not {algo} hex ({hex_len} hex digits)")]
    BadDigest {
        file: usize,
        algo: &'static str,
        hex_len: usize,
        value: String,
    },
    #[error("file {file}: path of {len} bytes, more than the limit of {max}")]
    PathTooLong { file: usize, len: usize, max: usize },
}

/// One validated index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub tag: u32,
    pub ty: u32,
    /// Offset into the data store (checked: `offset + len <= dl`).
    pub offset: u32,
    pub count: u32,
    /// Bytes of data the entry covers.
    pub len: u32,
}

/// A parsed and validated RPM header: index entries plus the data store.
#[derive(Debug, Clone)]
pub struct Header {
    entries: Vec<Entry>,
    data: Vec<u8>,
    /// The region tag (61, 62, 63) or `None` for a legacy header without one.
    region: Option<u32>,
    /// Index of the first entry after the region ("dribbles", which override
    /// same-tag entries inside it); `entries.len()` when there are none.
    dribbles_from: usize,
}

/// How strictly one header is checked; mirrors the arguments of `hdrblobRead`.
#[derive(Debug, Clone, Copy)]
struct Rules {
    /// Region tag the caller expects, or [`ANY_REGION`].
    region_tag: u32,
    /// Package files: the region must cover every entry and byte.
    exact_region: bool,
    max_tags: u32,
    max_data: u32,
}

/// `region_tag` value meaning "whichever region tag the first entry has".
const ANY_REGION: u32 = 0;

/// rpmdb blobs and `headerRead`: any region, or none.
const DB_RULES: Rules = Rules {
    region_tag: ANY_REGION,
    exact_region: false,
    max_tags: RPM_HEADER_MAX_TAGS,
    // rpm's HEADER_DATA_MAX is 0x0fffffff: one below the 256 MiB limit.
    max_data: RPM_HEADER_MAX_DATA - 1,
};

/// A package's main header (`hdrblobRead(fd, 1, 1, RPMTAG_HEADERIMMUTABLE)`).
const MAIN_RULES: Rules = Rules {
    region_tag: Tag::HEADERIMMUTABLE,
    exact_region: true,
    ..DB_RULES
};

/// A package's signature header (`hdrblobRead(fd, 1, 0, RPMTAG_HEADERSIGNATURES)`).
const SIGNATURE_RULES: Rules = Rules {
    region_tag: Tag::HEADERSIGNATURES,
    exact_region: false,
    max_tags: RPM_SIGNATURE_MAX_TAGS,
    max_data: RPM_SIGNATURE_MAX_DATA,
};

impl Header {
    /// Parses the rpmdb form: `il`, `dl` (big-endian u32 each), index, data. No intro.
    /// The blob must be exactly `8 + 16 * il + dl` bytes.
    pub fn parse(bytes: &[u8]) -> Result<Header, HeaderError> {
        let (h, used) = parse_blob(bytes, DB_RULES)?;
        if used != bytes.len() {
            return Err(HeaderError::SizeMismatch {
                declared: used as u64,
                actual: bytes.len() as u64,
            });
        }
        Ok(h)
    }

    /// Parses the on-disk form that starts with the 8-byte intro `8e ad e8 01 00 00 00 00`;
    /// returns the header and how many bytes it took (without alignment padding).
    pub fn parse_with_intro(bytes: &[u8]) -> Result<(Header, usize), HeaderError> {
        parse_with_intro_rules(bytes, DB_RULES)
    }

    /// Parses a package's main header (with intro) the way rpm reads one from
    /// a `.rpm`: an immutable region, when present, must cover the whole header.
    pub fn parse_package_main(bytes: &[u8]) -> Result<(Header, usize), HeaderError> {
        parse_with_intro_rules(bytes, MAIN_RULES)
    }

    /// Parses a package's signature header (with intro), with rpm's tighter
    /// limits for signature headers. The caller skips the padding to 8 bytes.
    pub fn parse_signature(bytes: &[u8]) -> Result<(Header, usize), HeaderError> {
        parse_with_intro_rules(bytes, SIGNATURE_RULES)
    }

    /// The size of a header with intro from its first 16 bytes, checked against
    /// the limits of a main header, so that a reader can fetch exactly that much.
    pub fn size_with_intro(first16: &[u8]) -> Result<usize, HeaderError> {
        size_from_intro(first16, DB_RULES)
    }

    /// Like [`Header::size_with_intro`] with the limits of a signature header.
    pub fn signature_size_with_intro(first16: &[u8]) -> Result<usize, HeaderError> {
        size_from_intro(first16, SIGNATURE_RULES)
    }

    /// The region tag, or `None` for a legacy header without a region.
    pub fn region_tag(&self) -> Option<u32> {
        self.region
    }

    /// Every entry, the region entry included, in index order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry rpm would return for `tag`: a dribble (an entry after the
    /// region) overrides the region's own, as in `hdrblobImport`.
    pub fn entry(&self, tag: u32) -> Option<&Entry> {
        let (region, dribbles) = self.entries.split_at(self.dribbles_from);
        if let Some(e) = dribbles.iter().find(|e| e.tag == tag) {
            return Some(e);
        }
        if tag == Tag::OLDFILENAMES && dribbles.iter().any(|e| e.tag == Tag::BASENAMES) {
            return None;
        }
        region.iter().find(|e| e.tag == tag)
    }

    pub fn has(&self, tag: u32) -> bool {
        self.entry(tag).is_some()
    }

    fn bytes_of(&self, e: &Entry) -> &[u8] {
        // Bounds were proven at parse time; `get` keeps this panic-free anyway.
        let start = e.offset as usize;
        self.data.get(start..start + e.len as usize).unwrap_or(&[])
    }

    fn typed(
        &self,
        tag: u32,
        ok: &[u32],
        expected: &'static str,
    ) -> Result<Option<&Entry>, HeaderError> {
        match self.entry(tag) {
            None => Ok(None),
            Some(e) if ok.contains(&e.ty) => Ok(Some(e)),
            Some(e) => Err(HeaderError::WrongType {
                tag,
                expected,
                actual: e.ty,
            }),
        }
    }

    /// Raw bytes of a STRING, or the first string of an I18NSTRING (rpm's
    /// fallback when no locale matches).
    pub fn string_bytes(&self, tag: u32) -> Result<Option<&[u8]>, HeaderError> {
        let ok = [DataType::STRING, DataType::I18NSTRING];
        let Some(e) = self.typed(tag, &ok, "STRING or I18NSTRING")? else {
            return Ok(None);
        };
        Ok(split_strings(self.bytes_of(e)).next())
    }

    /// Like [`Header::string_bytes`], with bytes that are not UTF-8 replaced.
    pub fn string(&self, tag: u32) -> Result<Option<Cow<'_, str>>, HeaderError> {
        Ok(self.string_bytes(tag)?.map(String::from_utf8_lossy))
    }

    /// Every string of a STRING_ARRAY (or I18NSTRING), as raw bytes.
    pub fn string_array(&self, tag: u32) -> Result<Option<Vec<&[u8]>>, HeaderError> {
        let ok = [DataType::STRING_ARRAY, DataType::I18NSTRING];
        let Some(e) = self.typed(tag, &ok, "STRING_ARRAY")? else {
            return Ok(None);
        };
        Ok(Some(split_strings(self.bytes_of(e)).collect()))
    }

    /// The bytes of a BIN entry.
    pub fn bin(&self, tag: u32) -> Result<Option<&[u8]>, HeaderError> {
        let ok = [DataType::BIN];
        Ok(self.typed(tag, &ok, "BIN")?.map(|e| self.bytes_of(e)))
    }

    /// The bytes of a CHAR, INT8 or BIN entry.
    pub fn u8_array(&self, tag: u32) -> Result<Option<&[u8]>, HeaderError> {
        let ok = [DataType::CHAR, DataType::INT8, DataType::BIN];
        Ok(self
            .typed(tag, &ok, "CHAR, INT8 or BIN")?
            .map(|e| self.bytes_of(e)))
    }

    /// The values of an INT16 entry.
    pub fn u16_array(&self, tag: u32) -> Result<Option<Vec<u16>>, HeaderError> {
        let ok = [DataType::INT16];
        let e = self.typed(tag, &ok, "INT16")?;
        Ok(e.map(|e| self.numbers(e, |c: [u8; 2]| u16::from_be_bytes(c))))
    }

    /// The values of an INT32 entry.
    pub fn u32_array(&self, tag: u32) -> Result<Option<Vec<u32>>, HeaderError> {
        let ok = [DataType::INT32];
        let e = self.typed(tag, &ok, "INT32")?;
        Ok(e.map(|e| self.numbers(e, |c: [u8; 4]| u32::from_be_bytes(c))))
    }

    /// The values of an INT64 entry.
    pub fn u64_array(&self, tag: u32) -> Result<Option<Vec<u64>>, HeaderError> {
        let ok = [DataType::INT64];
        let e = self.typed(tag, &ok, "INT64")?;
        Ok(e.map(|e| self.numbers(e, |c: [u8; 8]| u64::from_be_bytes(c))))
    }

    /// The first value of an INT32 entry.
    pub fn u32(&self, tag: u32) -> Result<Option<u32>, HeaderError> {
        Ok(self.u32_array(tag)?.and_then(|v| v.first().copied()))
    }

    fn numbers<const N: usize, T>(&self, e: &Entry, conv: impl Fn([u8; N]) -> T) -> Vec<T> {
        self.bytes_of(e)
            .chunks_exact(N)
            .filter_map(|c| c.try_into().ok().map(&conv))
            .collect()
    }
}

/// Splits NUL-terminated strings; the data was checked to hold `count` of them.
/// `memchr` finds the terminators: digests and paths make these arrays
/// tens of megabytes in a large rpmdb.
fn split_strings(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = data.strip_suffix(&[0]).unwrap_or(data);
    let mut start = 0;
    memchr::memchr_iter(0, body)
        .chain(std::iter::once(body.len()))
        .map(move |end| {
            let s = &body[start..end];
            start = end + 1;
            s
        })
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

fn truncated(what: &'static str, needed: u64, available: usize) -> HeaderError {
    HeaderError::Truncated {
        what,
        needed,
        available: available as u64,
    }
}

fn check_intro(bytes: &[u8]) -> Result<(), HeaderError> {
    let intro = bytes
        .get(..HEADER_INTRO.len())
        .ok_or_else(|| truncated("header intro", HEADER_INTRO.len() as u64, bytes.len()))?;
    if intro != HEADER_INTRO {
        let mut found = [0u8; 8];
        found.copy_from_slice(intro);
        return Err(HeaderError::BadMagic { found });
    }
    Ok(())
}

fn parse_with_intro_rules(bytes: &[u8], rules: Rules) -> Result<(Header, usize), HeaderError> {
    check_intro(bytes)?;
    let rest = &bytes[HEADER_INTRO.len()..];
    let (h, used) = parse_blob(rest, rules)?;
    Ok((h, used + HEADER_INTRO.len()))
}

fn size_from_intro(first16: &[u8], rules: Rules) -> Result<usize, HeaderError> {
    check_intro(first16)?;
    let (il, dl) = lengths(&first16[HEADER_INTRO.len()..], rules)?;
    Ok(HEADER_INTRO.len() + blob_size(il, dl) as usize)
}

/// Reads `il` and `dl` and checks them against the caps (`hdrblobVerifyLengths`).
fn lengths(bytes: &[u8], rules: Rules) -> Result<(u32, u32), HeaderError> {
    let (Some(il), Some(dl)) = (be32(bytes, 0), be32(bytes, 4)) else {
        return Err(truncated(
            "header lengths",
            LENGTHS_SIZE as u64,
            bytes.len(),
        ));
    };
    if il > rules.max_tags {
        return Err(HeaderError::TooManyTags {
            il,
            max: rules.max_tags,
        });
    }
    if dl > rules.max_data {
        return Err(HeaderError::DataTooLarge {
            dl,
            max: rules.max_data,
        });
    }
    let size = blob_size(il, dl);
    if size >= u64::from(RPM_HEADER_MAX_DATA) {
        return Err(HeaderError::HeaderTooLarge {
            size,
            max: u64::from(RPM_HEADER_MAX_DATA),
        });
    }
    Ok((il, dl))
}

fn blob_size(il: u32, dl: u32) -> u64 {
    LENGTHS_SIZE as u64 + ENTRY_SIZE as u64 * u64::from(il) + u64::from(dl)
}

/// A raw index entry as read, before validation.
#[derive(Debug, Clone, Copy)]
struct RawEntry {
    tag: u32,
    ty: u32,
    offset: i32,
    count: u32,
}

fn raw_entry(index: &[u8], i: usize) -> RawEntry {
    let at = i * ENTRY_SIZE;
    let word = |k: usize| be32(index, at + 4 * k).unwrap_or(0);
    RawEntry {
        tag: word(0),
        ty: word(1),
        offset: word(2) as i32,
        count: word(3),
    }
}

/// The parts of a blob, with the region found by `verify_region`.
struct Blob<'a> {
    raw: Vec<RawEntry>,
    data: &'a [u8],
    dl: u32,
    region: Option<Region>,
}

#[derive(Debug, Clone, Copy)]
struct Region {
    tag: u32,
    /// Offset of the trailer in the data store, as the region entry gives it.
    trailer_offset: u32,
    /// Entries covered by the region, the region entry included.
    ril: u32,
    /// Data bytes covered by the region, its trailer included.
    rdl: u32,
}

/// Parses `il`, `dl`, index and data (no intro); returns the header and its size.
fn parse_blob(bytes: &[u8], rules: Rules) -> Result<(Header, usize), HeaderError> {
    let (il, dl) = lengths(bytes, rules)?;
    let size = blob_size(il, dl);
    if (bytes.len() as u64) < size {
        return Err(truncated(
            "header blob (8 + 16 * il + dl)",
            size,
            bytes.len(),
        ));
    }
    let index_end = LENGTHS_SIZE + il as usize * ENTRY_SIZE;
    let index = &bytes[LENGTHS_SIZE..index_end];
    let data = &bytes[index_end..size as usize];
    let raw: Vec<RawEntry> = (0..il as usize).map(|i| raw_entry(index, i)).collect();
    let mut blob = Blob {
        raw,
        data,
        dl,
        region: None,
    };
    blob.region = verify_region(&blob, rules)?;
    let entries = verify_info(&blob)?;
    let dribbles_from = check_accounting(&blob, &entries)?;
    let header = Header {
        entries,
        data: data.to_vec(),
        region: blob.region.map(|r| r.tag),
        dribbles_from,
    };
    Ok((header, size as usize))
}

fn is_region_tag(tag: u32) -> bool {
    matches!(
        tag,
        Tag::HEADERIMAGE | Tag::HEADERSIGNATURES | Tag::HEADERIMMUTABLE
    )
}

/// rpm's `hdrblobVerifyRegion`: `Ok(None)` for a header without the region
/// tag (legacy; the entry checks then apply to every entry).
fn verify_region(blob: &Blob, rules: Rules) -> Result<Option<Region>, HeaderError> {
    let first = *blob.raw.first().ok_or(HeaderError::NoTags)?;
    let mut tag = rules.region_tag;
    if tag == ANY_REGION && is_region_tag(first.tag) {
        tag = first.tag;
    }
    if first.tag != tag {
        return Ok(None);
    }
    if first.ty != DataType::BIN || first.count != REGION_TRAILER_SIZE {
        return Err(HeaderError::BadRegionTag {
            tag,
            ty: first.ty,
            count: first.count,
        });
    }
    let trailer_at = i64::from(first.offset);
    let trailer_end = trailer_at + i64::from(REGION_TRAILER_SIZE);
    if trailer_at < 0 || trailer_end > i64::from(blob.dl) {
        return Err(HeaderError::RegionOffsetOutOfRange {
            tag,
            offset: first.offset,
            dl: blob.dl,
        });
    }
    let trailer = raw_entry(&blob.data[trailer_at as usize..trailer_end as usize], 0);
    let mut trailer_tag = trailer.tag;
    // Some old packages have HEADERIMAGE in the signature region trailer.
    if tag == Tag::HEADERSIGNATURES && trailer_tag == Tag::HEADERIMAGE {
        trailer_tag = Tag::HEADERSIGNATURES;
    }
    if trailer_tag != tag || trailer.ty != DataType::BIN || trailer.count != REGION_TRAILER_SIZE {
        return Err(HeaderError::BadRegionTrailer {
            expected_tag: tag,
            tag: trailer.tag,
            ty: trailer.ty,
            count: trailer.count,
        });
    }
    region_extent(blob, tag, first.offset as u32, trailer.offset, rules)
}

/// Checks the region's entry count and data size from its trailer.
fn region_extent(
    blob: &Blob,
    tag: u32,
    trailer_offset: u32,
    negated_size: i32,
    rules: Rules,
) -> Result<Option<Region>, HeaderError> {
    let il = blob.raw.len() as u32;
    let rdl = trailer_offset + REGION_TRAILER_SIZE;
    let index_bytes = -i64::from(negated_size);
    let ril = index_bytes / ENTRY_SIZE as i64;
    // A region covers at least its own entry (rpm would wrap `ril - 1` around).
    let bad_count = ril < 1 || ril > i64::from(il);
    if index_bytes % ENTRY_SIZE as i64 != 0 || bad_count || rdl > blob.dl {
        return Err(HeaderError::BadRegionSize {
            trailer_offset: index_bytes,
            ril,
            il,
            rdl,
            dl: blob.dl,
        });
    }
    let ril = ril as u32;
    if rules.exact_region && (ril != il || rdl != blob.dl) {
        return Err(HeaderError::RegionNotWholeHeader {
            il,
            ril,
            dl: blob.dl,
            rdl,
        });
    }
    Ok(Some(Region {
        tag,
        trailer_offset,
        ril,
        rdl,
    }))
}

/// rpm's `hdrblobVerifyInfo`: every entry but the region entry, in index order.
/// Returns all entries (region entry first, when there is one) with their lengths.
fn verify_info(blob: &Blob) -> Result<Vec<Entry>, HeaderError> {
    let mut out = Vec::with_capacity(blob.raw.len());
    let skip = usize::from(blob.region.is_some());
    if let (Some(r), Some(first)) = (blob.region, blob.raw.first()) {
        out.push(Entry {
            tag: first.tag,
            ty: first.ty,
            offset: r.trailer_offset,
            count: first.count,
            len: REGION_TRAILER_SIZE,
        });
    }
    let typecheck = matches!(
        blob.region.map(|r| r.tag),
        Some(Tag::HEADERIMMUTABLE | Tag::HEADERIMAGE)
    );
    let mut end = 0u32;
    for (i, raw) in blob.raw.iter().enumerate().skip(skip) {
        let entry =
            verify_entry(blob, raw, end, typecheck).map_err(|problem| HeaderError::Entry {
                index: i as u32,
                tag: raw.tag,
                problem,
            })?;
        end = entry.offset + entry.len;
        out.push(entry);
    }
    Ok(out)
}

fn verify_entry(
    blob: &Blob,
    e: &RawEntry,
    end: u32,
    typecheck: bool,
) -> Result<Entry, EntryProblem> {
    check_identity(e, end, blob.dl)?;
    check_placement(e, blob.dl, typecheck)?;
    let offset = e.offset as u32;
    let len = data_length(blob.data, e.ty, offset, e.count)?;
    let entry_end = offset + len;
    if let Some(r) = blob.region {
        let trailer = r.rdl - REGION_TRAILER_SIZE;
        if entry_end > trailer && offset < r.rdl {
            return Err(EntryProblem::OverlapsTrailer {
                end: entry_end,
                trailer,
            });
        }
    }
    Ok(Entry {
        tag: e.tag,
        ty: e.ty,
        offset,
        count: e.count,
        len,
    })
}

/// The first half of rpm's per-entry checks: ordering, tag, type, count.
fn check_identity(e: &RawEntry, end: u32, dl: u32) -> Result<(), EntryProblem> {
    // rpm compares the previous end with the offset as unsigned.
    if end > e.offset as u32 {
        return Err(EntryProblem::Overlap {
            previous_end: end,
            offset: e.offset,
        });
    }
    if e.tag < Tag::HEADERI18NTABLE {
        let min = Tag::HEADERI18NTABLE;
        return Err(EntryProblem::TagBelowMinimum { min });
    }
    if e.ty > DataType::I18NSTRING {
        return Err(EntryProblem::BadType { ty: e.ty });
    }
    if e.count < 1 || e.count > dl {
        return Err(EntryProblem::BadCount { count: e.count, dl });
    }
    Ok(())
}

/// The second half: alignment, offset range, array cap, declared tag type.
fn check_placement(e: &RawEntry, dl: u32, typecheck: bool) -> Result<(), EntryProblem> {
    let (ty, offset, count) = (e.ty, e.offset, e.count);
    let align = DataType::item_size(ty).unwrap_or(1).max(1);
    if offset.rem_euclid(align as i32) != 0 {
        return Err(EntryProblem::Misaligned { ty, offset, align });
    }
    if offset < 0 || offset as u32 > dl {
        return Err(EntryProblem::OffsetOutOfRange { offset, dl });
    }
    if ty != DataType::BIN && count > MAX_ARRAY_COUNT {
        let max = MAX_ARRAY_COUNT;
        return Err(EntryProblem::ArrayTooLong { count, max });
    }
    if typecheck && !tag_type_ok(e.tag, ty) {
        let expected = declared_type(e.tag).unwrap_or(DataType::NULL);
        return Err(EntryProblem::TypeMismatch {
            expected,
            actual: ty,
        });
    }
    Ok(())
}

/// rpm's `dataLength` on disk data: the bytes the entry covers, proven to lie
/// inside the data store. `offset <= data.len()` is already checked.
fn data_length(data: &[u8], ty: u32, offset: u32, count: u32) -> Result<u32, EntryProblem> {
    let dl = data.len() as u32;
    let from = data.get(offset as usize..).unwrap_or(&[]);
    let len = match ty {
        DataType::STRING | DataType::STRING_ARRAY | DataType::I18NSTRING => {
            if ty == DataType::STRING && count != 1 {
                return Err(EntryProblem::StringCount { count });
            }
            strings_length(from, count).ok_or(EntryProblem::Unterminated {
                offset: offset as i32,
                count,
            })?
        }
        _ => {
            let size = DataType::item_size(ty).unwrap_or(0);
            let len = u64::from(size) * u64::from(count);
            if len > from.len() as u64 {
                return Err(EntryProblem::DataOutOfRange {
                    offset: offset as i32,
                    len: len.min(u64::from(u32::MAX)) as u32,
                    dl,
                });
            }
            len as u32
        }
    };
    if len == 0 {
        return Err(EntryProblem::NoData);
    }
    Ok(len)
}

/// Length of `count` NUL-terminated strings at the start of `data`, terminators included.
///
/// Whole 64-byte blocks whose NULs cannot include the last terminator are
/// skipped by counting them (the count vectorises); only the final block is
/// searched byte by byte. File digests and names make these arrays the
/// bulk of a header.
fn strings_length(data: &[u8], count: u32) -> Option<u32> {
    const BLOCK: usize = 64;
    let (mut at, mut left) = (0usize, count as usize);
    while left > 0 {
        let rest = data.get(at..)?;
        if let Some(block) = rest.get(..BLOCK) {
            // Summed as u8 (at most 64) so that it vectorises byte-wide.
            let nuls = usize::from(block.iter().map(|&b| u8::from(b == 0)).sum::<u8>());
            if nuls < left {
                (at, left) = (at + BLOCK, left - nuls);
                continue;
            }
        }
        at += rest.iter().position(|&b| b == 0)? + 1;
        left -= 1;
    }
    u32::try_from(at).ok()
}

/// rpm's `typeSizes`-based padding (`alignDiff`) used when it re-derives the
/// data size on import.
fn align_diff(ty: u32, at: u64) -> u64 {
    match DataType::item_size(ty) {
        Some(size) if size > 1 => {
            let size = u64::from(size);
            (size - at % size) % size
        }
        _ => 0,
    }
}

fn accounted(entries: &[Entry], start: u64) -> u64 {
    entries
        .iter()
        .fold(start, |at, e| at + align_diff(e.ty, at) + u64::from(e.len))
}

/// rpm's `hdrblobImport` re-derives the data store size from the entries
/// (alignment padding allowed, nothing else); a mismatch means hidden or
/// shared bytes, and rpm refuses the header. Returns where dribbles start.
fn check_accounting(blob: &Blob, entries: &[Entry]) -> Result<usize, HeaderError> {
    let dl = blob.dl;
    let (used, dribbles_from) = match blob.region {
        None => (accounted(entries, 0), entries.len()),
        Some(r) => {
            let ril = if r.trailer_offset != 0 {
                r.ril as usize
            } else {
                entries.len()
            };
            let ril = ril.clamp(1, entries.len());
            let region = accounted(&entries[1..ril], 0);
            let all = accounted(&entries[ril..], region);
            (all + u64::from(REGION_TRAILER_SIZE), ril)
        }
    };
    if used != u64::from(dl) {
        return Err(HeaderError::DataNotAccounted {
            accounted: used,
            dl,
        });
    }
    Ok(dribbles_from)
}

/// Builds small synthetic headers for unit tests (never claimed to be rpm's output).
#[cfg(test)]
pub(crate) mod synth {
    use super::{DataType, Tag, ENTRY_SIZE};

    /// One entry to lay out: tag, type, count, big-endian data.
    type Item = (u32, u32, u32, Vec<u8>);

    #[derive(Default, Clone)]
    pub struct Build {
        items: Vec<Item>,
    }

    impl Build {
        pub fn raw(mut self, tag: u32, ty: u32, count: u32, data: Vec<u8>) -> Self {
            self.items.push((tag, ty, count, data));
            self
        }
        pub fn string(self, tag: u32, s: &str) -> Self {
            let mut d = s.as_bytes().to_vec();
            d.push(0);
            self.raw(tag, DataType::STRING, 1, d)
        }
        pub fn strings(self, tag: u32, v: &[&str]) -> Self {
            let d = v.iter().flat_map(|s| s.bytes().chain([0])).collect();
            self.raw(tag, DataType::STRING_ARRAY, v.len() as u32, d)
        }
        pub fn u16s(self, tag: u32, v: &[u16]) -> Self {
            let d = v.iter().flat_map(|x| x.to_be_bytes()).collect();
            self.raw(tag, DataType::INT16, v.len() as u32, d)
        }
        pub fn u32s(self, tag: u32, v: &[u32]) -> Self {
            let d = v.iter().flat_map(|x| x.to_be_bytes()).collect();
            self.raw(tag, DataType::INT32, v.len() as u32, d)
        }
        pub fn u64s(self, tag: u32, v: &[u64]) -> Self {
            let d = v.iter().flat_map(|x| x.to_be_bytes()).collect();
            self.raw(tag, DataType::INT64, v.len() as u32, d)
        }
        pub fn chars(self, tag: u32, v: &[u8]) -> Self {
            self.raw(tag, DataType::CHAR, v.len() as u32, v.to_vec())
        }

        /// Index entries and data, each item aligned for its type.
        fn layout(&self) -> (Vec<[u32; 4]>, Vec<u8>) {
            let mut index = Vec::new();
            let mut data = Vec::new();
            for (tag, ty, count, bytes) in &self.items {
                let align = DataType::item_size(*ty).unwrap_or(1).max(1) as usize;
                while data.len() % align != 0 {
                    data.push(0);
                }
                index.push([*tag, *ty, data.len() as u32, *count]);
                data.extend_from_slice(bytes);
            }
            (index, data)
        }

        /// A header whose first entry is an immutable region covering everything.
        pub fn region(&self) -> Vec<u8> {
            self.region_tagged(Tag::HEADERIMMUTABLE)
        }

        pub fn region_tagged(&self, region: u32) -> Vec<u8> {
            let (mut index, mut data) = self.layout();
            let il = index.len() as u32 + 1;
            index.insert(0, [region, DataType::BIN, data.len() as u32, 16]);
            let trailer = [
                region,
                DataType::BIN,
                (-(il as i32 * ENTRY_SIZE as i32)) as u32,
                16,
            ];
            data.extend(trailer.iter().flat_map(|w| w.to_be_bytes()));
            assemble(&index, &data)
        }

        /// A legacy header without a region.
        pub fn legacy(&self) -> Vec<u8> {
            let (index, data) = self.layout();
            assemble(&index, &data)
        }
    }

    pub fn assemble(index: &[[u32; 4]], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((index.len() as u32).to_be_bytes());
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(index.iter().flatten().flat_map(|w| w.to_be_bytes()));
        out.extend_from_slice(data);
        out
    }

    /// Overwrites word `field` (0 tag, 1 type, 2 offset, 3 count) of index entry `entry`.
    pub fn set_word(blob: &mut [u8], entry: usize, field: usize, v: u32) {
        let at = 8 + ENTRY_SIZE * entry + 4 * field;
        blob[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// Start of the data store of a blob.
    pub fn data_start(blob: &[u8]) -> usize {
        let il = u32::from_be_bytes(blob[0..4].try_into().unwrap()) as usize;
        8 + ENTRY_SIZE * il
    }

    pub fn with_intro(blob: &[u8]) -> Vec<u8> {
        let mut v = super::HEADER_INTRO.to_vec();
        v.extend_from_slice(blob);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::synth::{assemble, data_start, set_word, with_intro, Build};
    use super::*;

    /// A real package built by tests/fixtures/rpm/make.sh.
    const FIXTURE_RPM: &[u8] = include_bytes!("../../tests/fixtures/rpm/pyvet-fixture-digest8.rpm");
    const LEAD: usize = 96;

    /// The main header of the fixture, intro included.
    fn real_main_header() -> &'static [u8] {
        let (_, sig_len) = Header::parse_signature(&FIXTURE_RPM[LEAD..]).unwrap();
        let at = LEAD + sig_len.div_ceil(8) * 8;
        let (_, len) = Header::parse_package_main(&FIXTURE_RPM[at..]).unwrap();
        &FIXTURE_RPM[at..at + len]
    }

    fn sample() -> Build {
        Build::default()
            .string(Tag::NAME, "pkg")
            .u32s(Tag::EPOCH, &[7])
            .u16s(Tag::FILEMODES, &[0o100644, 0o40755])
            .strings(Tag::BASENAMES, &["a", "b"])
    }

    fn entry_problem(r: Result<Header, HeaderError>) -> (u32, u32, EntryProblem) {
        match r {
            Err(HeaderError::Entry {
                index,
                tag,
                problem,
            }) => (index, tag, problem),
            other => panic!("expected an entry error, got {other:?}"),
        }
    }

    #[test]
    fn synthetic_header_reads_back_typed_values() {
        let h = Header::parse(&sample().region()).unwrap();
        assert_eq!(h.region_tag(), Some(Tag::HEADERIMMUTABLE));
        assert_eq!(h.string(Tag::NAME).unwrap().as_deref(), Some("pkg"));
        assert_eq!(h.u32(Tag::EPOCH).unwrap(), Some(7));
        assert_eq!(
            h.u16_array(Tag::FILEMODES).unwrap(),
            Some(vec![0o100644, 0o40755])
        );
        let names = h.string_array(Tag::BASENAMES).unwrap().unwrap();
        assert_eq!(names, [b"a".as_slice(), b"b"]);
        assert_eq!(h.string(Tag::VERSION).unwrap(), None);
    }

    #[test]
    fn accessor_of_the_wrong_type_is_an_error() {
        let h = Header::parse(&sample().region()).unwrap();
        let e = h.u32_array(Tag::NAME).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::WrongType {
                    tag: Tag::NAME,
                    actual: DataType::STRING,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(h.string(Tag::EPOCH).is_err());
        assert!(h.u64_array(Tag::FILEMODES).is_err());
    }

    #[test]
    fn i18n_string_gives_the_first_and_u64_and_chars_read() {
        let summary = b"hello\0bonjour\0".to_vec();
        let b = Build::default()
            .raw(Tag::SUMMARY, DataType::I18NSTRING, 2, summary)
            .chars(Tag::FILESTATES, &[0, 2])
            .u64s(Tag::LONGFILESIZES, &[1 << 40, 3]);
        let h = Header::parse(&b.region()).unwrap();
        assert_eq!(h.string(Tag::SUMMARY).unwrap().as_deref(), Some("hello"));
        assert_eq!(
            h.u8_array(Tag::FILESTATES).unwrap(),
            Some([0u8, 2].as_slice())
        );
        assert_eq!(
            h.u64_array(Tag::LONGFILESIZES).unwrap(),
            Some(vec![1 << 40, 3])
        );
    }

    #[test]
    fn bad_type_is_refused() {
        let mut blob = sample().region();
        set_word(&mut blob, 2, 1, 12);
        let (index, tag, p) = entry_problem(Header::parse(&blob));
        assert_eq!(
            (index, tag, p),
            (2, Tag::EPOCH, EntryProblem::BadType { ty: 12 })
        );
    }

    #[test]
    fn zero_count_is_refused() {
        let mut blob = sample().region();
        set_word(&mut blob, 3, 3, 0);
        let (_, tag, p) = entry_problem(Header::parse(&blob));
        assert_eq!(
            (tag, p),
            (Tag::FILEMODES, EntryProblem::BadCount { count: 0, dl: 32 })
        );
    }

    #[test]
    fn misaligned_int32_is_refused() {
        let mut blob = sample().region();
        set_word(&mut blob, 2, 2, 5);
        let (_, _, p) = entry_problem(Header::parse(&blob));
        let expected = EntryProblem::Misaligned {
            ty: DataType::INT32,
            offset: 5,
            align: 4,
        };
        assert_eq!(p, expected);
    }

    #[test]
    fn offset_outside_the_data_is_refused() {
        let mut blob = sample().region();
        set_word(&mut blob, 4, 2, 40);
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(p, EntryProblem::OffsetOutOfRange { offset: 40, dl: 32 });
        set_word(&mut blob, 4, 2, (-4i32) as u32);
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(p, EntryProblem::OffsetOutOfRange { offset: -4, dl: 32 });
    }

    #[test]
    fn unterminated_strings_are_refused() {
        let blob = Build::default()
            .raw(Tag::NAME, DataType::STRING, 1, b"abc".to_vec())
            .legacy();
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(
            p,
            EntryProblem::Unterminated {
                offset: 0,
                count: 1
            }
        );
        let blob = Build::default()
            .raw(
                Tag::BASENAMES,
                DataType::STRING_ARRAY,
                3,
                b"a\0b\0".to_vec(),
            )
            .legacy();
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(
            p,
            EntryProblem::Unterminated {
                offset: 0,
                count: 3
            }
        );
    }

    #[test]
    fn string_with_count_above_one_is_refused() {
        let blob = Build::default()
            .raw(Tag::NAME, DataType::STRING, 2, b"a\0b\0".to_vec())
            .legacy();
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(p, EntryProblem::StringCount { count: 2 });
    }

    #[test]
    fn fixed_size_data_past_the_end_is_refused() {
        let blob = Build::default()
            .raw(Tag::EPOCH, DataType::INT32, 3, vec![0; 8])
            .legacy();
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(
            p,
            EntryProblem::DataOutOfRange {
                offset: 0,
                len: 12,
                dl: 8
            }
        );
    }

    #[test]
    fn null_type_entry_is_refused() {
        let blob = Build::default()
            .raw(5000, DataType::NULL, 1, vec![0; 4])
            .legacy();
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(p, EntryProblem::NoData);
    }

    #[test]
    fn overlapping_entries_are_refused() {
        let mut blob = sample().region();
        set_word(&mut blob, 3, 2, 0);
        let (index, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(index, 3);
        assert_eq!(
            p,
            EntryProblem::Overlap {
                previous_end: 8,
                offset: 0
            }
        );
    }

    #[test]
    fn ordinary_tag_below_100_is_refused() {
        let blob = Build::default().string(99, "x").legacy();
        let (_, tag, p) = entry_problem(Header::parse(&blob));
        assert_eq!((tag, p), (99, EntryProblem::TagBelowMinimum { min: 100 }));
    }

    #[test]
    fn known_tag_with_another_type_class_is_refused_in_immutable_region() {
        let b = Build::default().u32s(Tag::NAME, &[1]);
        let (_, _, p) = entry_problem(Header::parse(&b.region()));
        let expected = EntryProblem::TypeMismatch {
            expected: DataType::STRING,
            actual: DataType::INT32,
        };
        assert_eq!(p, expected);
        // String tags may use any string type, as in rpm.
        let b = Build::default().raw(Tag::NAME, DataType::I18NSTRING, 1, b"n\0".to_vec());
        assert!(Header::parse(&b.region()).is_ok());
        // Signature headers are not type-checked (rpm cannot either).
        let b = Build::default().u32s(Tag::NAME, &[1]);
        assert!(Header::parse(&b.region_tagged(Tag::HEADERSIGNATURES)).is_ok());
    }

    #[test]
    fn array_count_cap_applies_except_to_bin() {
        let n = MAX_ARRAY_COUNT + 1;
        let chars = Build::default().raw(5000, DataType::INT8, n, vec![1; n as usize]);
        let (_, _, p) = entry_problem(Header::parse(&chars.legacy()));
        assert_eq!(
            p,
            EntryProblem::ArrayTooLong {
                count: n,
                max: MAX_ARRAY_COUNT
            }
        );
        let bin = Build::default().raw(5000, DataType::BIN, n, vec![1; n as usize]);
        assert!(Header::parse(&bin.legacy()).is_ok());
    }

    #[test]
    fn entry_into_the_region_trailer_is_refused() {
        // 4 data bytes, then the trailer; a BIN of 8 bytes runs into it.
        let mut blob = Build::default()
            .raw(5000, DataType::BIN, 4, vec![1; 4])
            .region();
        set_word(&mut blob, 1, 3, 8);
        let (_, _, p) = entry_problem(Header::parse(&blob));
        assert_eq!(p, EntryProblem::OverlapsTrailer { end: 8, trailer: 4 });
    }

    #[test]
    fn tag_and_data_caps() {
        let mut blob = vec![0u8; 8];
        blob[0..4].copy_from_slice(&(RPM_HEADER_MAX_TAGS + 1).to_be_bytes());
        let e = Header::parse(&blob).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::TooManyTags {
                    il: 0x10000,
                    max: 0xffff
                }
            ),
            "{e:?}"
        );
        blob[0..4].copy_from_slice(&1u32.to_be_bytes());
        blob[4..8].copy_from_slice(&RPM_HEADER_MAX_DATA.to_be_bytes());
        let e = Header::parse(&blob).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::DataTooLarge {
                    dl: 0x1000_0000,
                    ..
                }
            ),
            "{e:?}"
        );
        blob[0..4].copy_from_slice(&RPM_HEADER_MAX_TAGS.to_be_bytes());
        blob[4..8].copy_from_slice(&(RPM_HEADER_MAX_DATA - 1).to_be_bytes());
        let e = Header::parse(&blob).unwrap_err();
        assert!(matches!(e, HeaderError::HeaderTooLarge { .. }), "{e:?}");
        // A signature header has rpm's tighter caps.
        let sig = with_intro(&Build::default().u32s(1000, &[1; 33]).legacy());
        let mut sig = sig.clone();
        sig[8..12].copy_from_slice(&33u32.to_be_bytes());
        let e = Header::parse_signature(&sig).unwrap_err();
        assert!(
            matches!(e, HeaderError::TooManyTags { il: 33, max: 32 }),
            "{e:?}"
        );
    }

    #[test]
    fn sizes_must_match_the_blob() {
        let blob = sample().region();
        let mut longer = blob.clone();
        longer.push(0);
        let e = Header::parse(&longer).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::SizeMismatch {
                    declared: 120,
                    actual: 121
                }
            ),
            "{e:?}"
        );
        let e = Header::parse(&blob[..blob.len() - 1]).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::Truncated {
                    needed: 120,
                    available: 119,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(matches!(Header::parse(&[0u8; 8]), Err(HeaderError::NoTags)));
    }

    #[test]
    fn intro_must_be_rpms_magic() {
        let mut h = with_intro(&sample().region());
        let (_, used) = Header::parse_with_intro(&h).unwrap();
        assert_eq!(used, h.len());
        h[3] = 0x02;
        let e = Header::parse_with_intro(&h).unwrap_err();
        assert!(
            matches!(e, HeaderError::BadMagic { found } if found[3] == 2),
            "{e:?}"
        );
    }

    #[test]
    fn region_tag_and_trailer_are_checked() {
        let blob = sample().region();
        let trailer = data_start(&blob) + 16;
        let mut bad = blob.clone();
        set_word(&mut bad, 0, 1, DataType::INT32);
        let e = Header::parse(&bad).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::BadRegionTag {
                    tag: 63,
                    ty: 4,
                    count: 16
                }
            ),
            "{e:?}"
        );

        let mut bad = blob.clone();
        set_word(&mut bad, 0, 2, 20);
        let e = Header::parse(&bad).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::RegionOffsetOutOfRange {
                    offset: 20,
                    dl: 32,
                    ..
                }
            ),
            "{e:?}"
        );

        let mut bad = blob.clone();
        bad[trailer..trailer + 4].copy_from_slice(&62u32.to_be_bytes());
        let e = Header::parse(&bad).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::BadRegionTrailer {
                    expected_tag: 63,
                    tag: 62,
                    ..
                }
            ),
            "{e:?}"
        );

        let mut bad = blob.clone();
        bad[trailer + 12..trailer + 16].copy_from_slice(&15u32.to_be_bytes());
        let e = Header::parse(&bad).unwrap_err();
        assert!(
            matches!(e, HeaderError::BadRegionTrailer { count: 15, .. }),
            "{e:?}"
        );

        let mut bad = blob.clone();
        bad[trailer + 8..trailer + 12].copy_from_slice(&(-88i32).to_be_bytes());
        let e = Header::parse(&bad).unwrap_err();
        assert!(matches!(e, HeaderError::BadRegionSize { .. }), "{e:?}");

        let mut bad = blob;
        bad[trailer + 8..trailer + 12].copy_from_slice(&(-96i32).to_be_bytes());
        let e = Header::parse(&bad).unwrap_err();
        assert!(
            matches!(e, HeaderError::BadRegionSize { ril: 6, il: 5, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn signature_trailer_may_say_headerimage() {
        let mut blob = sample().region_tagged(Tag::HEADERSIGNATURES);
        let trailer = data_start(&blob) + 16;
        blob[trailer..trailer + 4].copy_from_slice(&Tag::HEADERIMAGE.to_be_bytes());
        let (h, _) = Header::parse_signature(&with_intro(&blob)).unwrap();
        assert_eq!(h.region_tag(), Some(Tag::HEADERSIGNATURES));
        // The fix-up is tied to the signature region tag, not to the entry point.
        assert!(Header::parse(&blob).is_ok());
        let mut main = sample().region();
        let trailer = data_start(&main) + 16;
        main[trailer..trailer + 4].copy_from_slice(&Tag::HEADERIMAGE.to_be_bytes());
        assert!(matches!(
            Header::parse(&main),
            Err(HeaderError::BadRegionTrailer {
                expected_tag: 63,
                tag: 61,
                ..
            })
        ));
    }

    /// Region `NAME old`, then a dribble `NAME new` after the trailer, as an
    /// rpmdb may store after rpm modified an installed header.
    fn with_dribble() -> Vec<u8> {
        let index = [
            [Tag::HEADERIMMUTABLE, DataType::BIN, 4, 16],
            [Tag::NAME, DataType::STRING, 0, 1],
            [Tag::NAME, DataType::STRING, 20, 1],
        ];
        let mut data = b"old\0".to_vec();
        for w in [Tag::HEADERIMMUTABLE, DataType::BIN, (-32i32) as u32, 16] {
            data.extend(w.to_be_bytes());
        }
        data.extend(b"new\0");
        assemble(&index, &data)
    }

    #[test]
    fn dribble_overrides_the_region_entry() {
        let h = Header::parse(&with_dribble()).unwrap();
        assert_eq!(h.string(Tag::NAME).unwrap().as_deref(), Some("new"));
    }

    #[test]
    fn package_header_region_must_cover_everything() {
        let e = Header::parse_package_main(&with_intro(&with_dribble())).unwrap_err();
        let expected = (2, 3, 20, 24);
        assert!(
            matches!(e, HeaderError::RegionNotWholeHeader { ril, il, rdl, dl } if (ril, il, rdl, dl) == expected),
            "{e:?}"
        );
    }

    #[test]
    fn unaccounted_data_bytes_are_refused() {
        let mut data = b"a\0".to_vec();
        data.extend([0xee; 4]);
        let blob = assemble(&[[Tag::NAME, DataType::STRING, 0, 1]], &data);
        let e = Header::parse(&blob).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::DataNotAccounted {
                    accounted: 2,
                    dl: 6
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn real_header_parses_with_every_entry_checked() {
        let (h, used) = Header::parse_package_main(real_main_header()).unwrap();
        assert_eq!(used, real_main_header().len());
        assert_eq!(h.region_tag(), Some(Tag::HEADERIMMUTABLE));
        assert_eq!(
            h.string(Tag::NAME).unwrap().as_deref(),
            Some("pyvet-fixture")
        );
        assert_eq!(h.u32(Tag::FILEDIGESTALGO).unwrap(), Some(8));
        assert!(h.entries().len() > 20);
    }

    /// Every prefix of a real header fails, both as it is (declared size too
    /// large) and with `dl` rewritten to fit the prefix, so that the entry
    /// checks run on data that really was cut.
    #[test]
    fn every_prefix_of_a_real_header_is_an_error() {
        let full = &real_main_header()[HEADER_INTRO.len()..];
        let index_end = data_start(full);
        for len in 0..full.len() {
            let cut = &full[..len];
            assert!(Header::parse(cut).is_err(), "prefix {len} parsed");
            assert!(Header::parse_with_intro(&with_intro(cut)).is_err());
            if len >= index_end {
                let mut refit = cut.to_vec();
                refit[4..8].copy_from_slice(&((len - index_end) as u32).to_be_bytes());
                assert!(Header::parse(&refit).is_err(), "refit prefix {len} parsed");
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let il = rng.below(6) as u32;
            let dl = rng.below(64) as u32;
            let mut blob = assemble(&[], &[]);
            blob[0..4].copy_from_slice(&il.to_be_bytes());
            blob[4..8].copy_from_slice(&dl.to_be_bytes());
            blob.extend((0..16 * il + dl).map(|_| rng.next_u64() as u8));
            // Small types and offsets make deeper checks reachable.
            for i in 0..il as usize {
                set_word(&mut blob, i, 1, rng.below(11) as u32);
                set_word(&mut blob, i, 2, rng.below(dl as usize + 2) as u32);
                set_word(&mut blob, i, 3, rng.below(5) as u32);
            }
            if let Ok(h) = Header::parse(&blob) {
                exercise(&h);
            }
        }
    }

    #[test]
    fn flipped_bytes_of_a_real_header_never_panic() {
        let real = real_main_header();
        let mut rng = crate::testutil::XorShift::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..3_000 {
            let mut h = real.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(h.len());
                h[at] = rng.next_u64() as u8;
            }
            if let Ok((h, _)) = Header::parse_with_intro(&h) {
                exercise(&h);
            }
        }
    }

    /// Calls every accessor on every tag; results may be errors, never panics.
    fn exercise(h: &Header) {
        for e in h.entries() {
            let t = e.tag;
            let _ = (h.string(t), h.string_array(t), h.bin(t), h.u8_array(t));
            let _ = (h.u16_array(t), h.u32_array(t), h.u64_array(t));
        }
        let _ = crate::db::rpm::files(h);
    }

    /// The block-skipping search agrees with a plain one-string-at-a-time
    /// scan on every prefix of arrays that cross 64-byte blocks.
    #[test]
    fn strings_length_matches_a_plain_scan() {
        fn plain(data: &[u8], count: u32) -> Option<u32> {
            let mut at = 0usize;
            for _ in 0..count {
                at += data.get(at..)?.iter().position(|&b| b == 0)? + 1;
            }
            u32::try_from(at).ok()
        }
        let mut data = Vec::new();
        for i in 0..300usize {
            data.extend(std::iter::repeat(b'x').take(i * 7 % 90));
            data.push(0);
        }
        for end in [0, 1, 63, 64, 65, 200, data.len() - 1, data.len()] {
            let d = &data[..end];
            for count in 0..=302 {
                assert_eq!(strings_length(d, count), plain(d, count), "{end} {count}");
            }
        }
        assert_eq!(strings_length(&[0; 200], 200), Some(200));
        assert_eq!(strings_length(&[0; 200], 201), None);
    }
}
