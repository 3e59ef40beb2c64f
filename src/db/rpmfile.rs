//! `.rpm` package files: the lead, the signature header and the main header.
//!
//! What a package says it installs is all in the main header: [`read`]
//! fetches exactly lead + signature + padding + main header, with every read
//! sized from lengths that were checked against the caps first, and never
//! touches the (possibly huge, compressed) payload. [`open`] stops at the
//! same point and hands over the file for [`payload`], which streams the
//! payload when file contents are needed (`pyvet size PKG`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::db::rpm::package_from_header;
use crate::error::{Error, Result};
use crate::format::rpmheader::{Header, HeaderError};
use crate::fsutil;
use crate::manifest::{Backend, Manifest, Package, Source};

pub mod payload;

/// Size of the lead (`struct rpmlead_s`).
pub const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
/// Lead major versions rpm 4 accepts (3 for v3/v4 packages, 4 for v6).
const SUPPORTED_MAJOR: std::ops::RangeInclusive<u8> = 3..=4;
/// Offset and expected value of `signature_type` in the lead (`RPMSIGTYPE_HEADERSIG`).
const SIGNATURE_TYPE_AT: usize = 78;
const SIGNATURE_TYPE_HEADERSIG: u16 = 5;
/// The signature header is padded so the main header starts 8-byte aligned.
const SIGNATURE_ALIGN: usize = 8;
/// Bytes that give a header's size: intro (8) plus `il` and `dl`.
const HEADER_PREFIX: usize = 16;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpmFileError {
    #[error("{what}: need {needed} bytes, only {available} present")]
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    #[error("bad lead magic {found:02x?}, expected ed ab ee db")]
    BadLeadMagic { found: [u8; 4] },
    #[error("unsupported package format {major}.{minor}, expected major version 3 or 4")]
    UnsupportedVersion { major: u8, minor: u8 },
    #[error("signature type {found} in the lead, expected {expected} (header signature)")]
    BadSignatureType { found: u16, expected: u16 },
    #[error("signature header: {0}")]
    Signature(#[source] HeaderError),
    #[error("main header: {0}")]
    Header(#[source] HeaderError),
}

/// Checks the 96-byte lead.
fn check_lead(lead: &[u8]) -> Result<(), RpmFileError> {
    let lead = lead.get(..LEAD_SIZE).ok_or(RpmFileError::Truncated {
        what: "lead",
        needed: LEAD_SIZE as u64,
        available: lead.len() as u64,
    })?;
    if lead[..4] != LEAD_MAGIC {
        let mut found = [0u8; 4];
        found.copy_from_slice(&lead[..4]);
        return Err(RpmFileError::BadLeadMagic { found });
    }
    let (major, minor) = (lead[4], lead[5]);
    if !SUPPORTED_MAJOR.contains(&major) {
        return Err(RpmFileError::UnsupportedVersion { major, minor });
    }
    let sig_type = u16::from_be_bytes([lead[SIGNATURE_TYPE_AT], lead[SIGNATURE_TYPE_AT + 1]]);
    if sig_type != SIGNATURE_TYPE_HEADERSIG {
        return Err(RpmFileError::BadSignatureType {
            found: sig_type,
            expected: SIGNATURE_TYPE_HEADERSIG,
        });
    }
    Ok(())
}

fn padded(len: usize) -> usize {
    len.div_ceil(SIGNATURE_ALIGN) * SIGNATURE_ALIGN
}

/// Parses a `.rpm` from memory: lead, signature header, main header (the payload is not read).
pub fn parse(bytes: &[u8], source: Source) -> Result<Package, RpmFileError> {
    let (header, _) = parse_header(bytes)?;
    package_from_header(&header, source).map_err(RpmFileError::Header)
}

/// The main header of a `.rpm` held in memory, and the offset of the
/// payload (the first byte after the main header).
pub fn parse_header(bytes: &[u8]) -> Result<(Header, u64), RpmFileError> {
    check_lead(bytes)?;
    let after_lead = &bytes[LEAD_SIZE..];
    let (_sig, sig_len) = Header::parse_signature(after_lead).map_err(RpmFileError::Signature)?;
    let main_at = padded(sig_len);
    let main = after_lead.get(main_at..).ok_or(RpmFileError::Truncated {
        what: "signature header padding",
        needed: (LEAD_SIZE + main_at) as u64,
        available: bytes.len() as u64,
    })?;
    let (header, main_len) = Header::parse_package_main(main).map_err(RpmFileError::Header)?;
    Ok((header, (LEAD_SIZE + main_at + main_len) as u64))
}

/// Reads the header of a `.rpm` package file.
pub fn read(path: &Path) -> Result<Manifest> {
    let mut reader = Bounded::open(path)?;
    let bytes = reader.header_bytes()?;
    let source = Source {
        backend: Backend::RpmFile,
        file: path.to_path_buf(),
    };
    let package = parse(&bytes, source).map_err(|e| Error::format(path, e))?;
    Ok(Manifest {
        packages: vec![package],
    })
}

/// A package file opened for its payload.
pub struct Opened {
    /// The main header (file list, `PAYLOADCOMPRESSOR`, ...).
    pub header: Header,
    /// The file, positioned at the payload's first byte.
    pub payload: File,
    /// Where the payload starts in the file.
    pub payload_offset: u64,
    /// Bytes from there to the end of the file (at open time).
    pub payload_len: u64,
}

/// Opens a `.rpm` and reads lead, signature and main header (sizes checked
/// before anything is read), leaving the file at the payload.
pub fn open(path: &Path) -> Result<Opened> {
    let mut reader = Bounded::open(path)?;
    let bytes = reader.header_bytes()?;
    let (header, payload_offset) = parse_header(&bytes).map_err(|e| Error::format(path, e))?;
    Ok(Opened {
        header,
        payload: reader.file,
        payload_offset,
        payload_len: reader.left,
    })
}

/// Reads a file front to back, never past its size at open time.
struct Bounded<'p> {
    file: File,
    path: &'p Path,
    left: u64,
    total: u64,
    buf: Vec<u8>,
}

impl<'p> Bounded<'p> {
    /// Opens a regular file (never a FIFO or device) at its start.
    fn open(path: &'p Path) -> Result<Self> {
        let (file, meta) = fsutil::open_regular(path)?;
        Ok(Bounded {
            file,
            path,
            left: meta.len(),
            total: meta.len(),
            buf: Vec::new(),
        })
    }

    /// Lead, signature header with padding, and main header, sizes checked first.
    fn header_bytes(&mut self) -> Result<Vec<u8>> {
        self.take(LEAD_SIZE, "lead")?;
        check_lead(&self.buf).map_err(|e| Error::format(self.path, e))?;
        let sig_size =
            self.header_size(Header::signature_size_with_intro, RpmFileError::Signature)?;
        self.take(padded(sig_size) - HEADER_PREFIX, "signature header")?;
        let main_size = self.header_size(Header::size_with_intro, RpmFileError::Header)?;
        self.take(main_size - HEADER_PREFIX, "main header")?;
        Ok(std::mem::take(&mut self.buf))
    }

    /// Reads a header's first 16 bytes and returns its whole size.
    fn header_size(
        &mut self,
        size: fn(&[u8]) -> Result<usize, HeaderError>,
        wrap: fn(HeaderError) -> RpmFileError,
    ) -> Result<usize> {
        let start = self.buf.len();
        self.take(HEADER_PREFIX, "header intro")?;
        size(&self.buf[start..]).map_err(|e| Error::format(self.path, wrap(e)))
    }

    /// Appends exactly `n` more bytes, or fails without allocating when the
    /// file is too short to hold them.
    fn take(&mut self, n: usize, what: &'static str) -> Result<()> {
        if n as u64 > self.left {
            let e = RpmFileError::Truncated {
                what,
                needed: self.buf.len() as u64 + n as u64,
                available: self.total,
            };
            return Err(Error::format(self.path, e));
        }
        let start = self.buf.len();
        self.buf.resize(start + n, 0);
        self.file
            .read_exact(&mut self.buf[start..])
            .map_err(|e| Error::io(self.path, e))?;
        self.left -= n as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/rpm/pyvet-fixture-digest10.rpm");

    fn source() -> Source {
        Source {
            backend: Backend::RpmFile,
            file: PathBuf::from("fixture.rpm"),
        }
    }

    #[test]
    fn fixture_parses() {
        let p = parse(FIXTURE, source()).unwrap();
        assert_eq!(p.nevra(), "pyvet-fixture-3:1.2-4.noarch");
        assert_eq!(p.files.len(), 16);
    }

    #[test]
    fn lead_is_checked() {
        let mut b = FIXTURE.to_vec();
        b[0] = 0;
        let e = parse(&b, source()).unwrap_err();
        assert!(
            matches!(
                e,
                RpmFileError::BadLeadMagic {
                    found: [0, 0xab, 0xee, 0xdb]
                }
            ),
            "{e:?}"
        );
        let mut b = FIXTURE.to_vec();
        b[4] = 5;
        let e = parse(&b, source()).unwrap_err();
        assert!(
            matches!(e, RpmFileError::UnsupportedVersion { major: 5, minor: 0 }),
            "{e:?}"
        );
        let mut b = FIXTURE.to_vec();
        b[SIGNATURE_TYPE_AT + 1] = 1;
        let e = parse(&b, source()).unwrap_err();
        assert!(
            matches!(
                e,
                RpmFileError::BadSignatureType {
                    found: 1,
                    expected: 5
                }
            ),
            "{e:?}"
        );
        let e = parse(&FIXTURE[..50], source()).unwrap_err();
        assert!(
            matches!(
                e,
                RpmFileError::Truncated {
                    needed: 96,
                    available: 50,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn signature_and_main_header_errors_say_which() {
        let mut b = FIXTURE.to_vec();
        b[LEAD_SIZE] = 0;
        let e = parse(&b, source()).unwrap_err();
        assert!(
            matches!(e, RpmFileError::Signature(HeaderError::BadMagic { .. })),
            "{e:?}"
        );
        let (_, sig) = Header::parse_signature(&FIXTURE[LEAD_SIZE..]).unwrap();
        let mut b = FIXTURE.to_vec();
        b[LEAD_SIZE + padded(sig)] = 0;
        let e = parse(&b, source()).unwrap_err();
        assert!(
            matches!(e, RpmFileError::Header(HeaderError::BadMagic { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn every_prefix_up_to_the_main_header_end_errors() {
        let (_, sig) = Header::parse_signature(&FIXTURE[LEAD_SIZE..]).unwrap();
        let main_at = LEAD_SIZE + padded(sig);
        let (_, main) = Header::parse_package_main(&FIXTURE[main_at..]).unwrap();
        for len in 0..main_at + main {
            assert!(parse(&FIXTURE[..len], source()).is_err(), "prefix {len}");
        }
        assert!(parse(&FIXTURE[..main_at + main], source()).is_ok());
    }

    /// A signature header that claims 64 MiB of data in a small file is
    /// refused from its declared size, before anything that large is read.
    #[test]
    fn read_refuses_declared_sizes_the_file_cannot_hold() {
        let mut b = FIXTURE[..LEAD_SIZE + HEADER_PREFIX].to_vec();
        let dl_at = LEAD_SIZE + 12;
        b[dl_at..dl_at + 4].copy_from_slice(&(64u32 << 20).to_be_bytes());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big.rpm");
        std::fs::write(&p, &b).unwrap();
        let e = read(&p).unwrap_err();
        let Error::Format { source, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(
            matches!(
                **source,
                crate::error::FormatError::RpmFile(RpmFileError::Truncated {
                    what: "signature header",
                    available: 112,
                    ..
                })
            ),
            "{e:?}"
        );
        b[dl_at..dl_at + 4].copy_from_slice(&((64u32 << 20) + 1).to_be_bytes());
        std::fs::write(&p, &b).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("more than the limit"), "{e}");
    }

    #[test]
    fn read_refuses_a_fifo_and_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pkg.rpm");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("pkg.rpm") && e.contains("not a regular file"),
            "{e}"
        );
    }
}
