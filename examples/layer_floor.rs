//! The floor under reading a container image at all: each layer blob's
//! SHA-256 (its digest) and its decompressed stream's (the diff_id), with
//! the inflater and hasher pyvet uses, one thread per layer, nothing else
//! (no tar parsing, no file hashing, no audit). `bench/image.sh` runs it
//! beside `pyvet audit --image` and `--root`, so the part of an image audit
//! that no reader which verifies what it reads can avoid is visible.
//!
//! Usage: `layer_floor BLOB...` (gzip or uncompressed); prints each blob's
//! two digests.

use std::io::{BufRead, BufReader, Read};

use sha2::{Digest, Sha256};

/// Reads `r` to its end through `hash`; the number of bytes.
fn drain(mut r: impl Read, hash: &mut Sha256) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 128 << 10];
    let mut n = 0;
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            return Ok(n);
        }
        hash.update(&buf[..got]);
        n += got as u64;
    }
}

/// Hashes everything read from `inner` into the blob digest.
struct Tee<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = self.inner.read(buf)?;
        self.hash.update(&buf[..got]);
        Ok(got)
    }
}

/// The blob digest and the diff_id of one layer.
fn layer(path: &str) -> std::io::Result<(String, String)> {
    let file = std::fs::File::open(path)?;
    let mut blob = BufReader::with_capacity(
        128 << 10,
        Tee {
            inner: file,
            hash: Sha256::new(),
        },
    );
    let gzip = blob.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut diff = Sha256::new();
    if gzip {
        let mut z = flate2::bufread::MultiGzDecoder::new(blob);
        drain(&mut z, &mut diff)?;
        blob = z.into_inner();
    } else {
        drain(&mut blob, &mut diff)?;
    }
    let blob_digest = blob.into_inner().hash.finalize();
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok((hex(&blob_digest), hex(&diff.finalize())))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let blobs: Vec<String> = std::env::args().skip(1).collect();
    let threads: Vec<_> = blobs
        .iter()
        .cloned()
        .map(|b| std::thread::spawn(move || layer(&b)))
        .collect();
    for (b, t) in blobs.iter().zip(threads) {
        let (blob, diff) = t.join().map_err(|_| "a layer thread panicked")??;
        println!("{b}: blob sha256:{blob} diff_id sha256:{diff}");
    }
    Ok(())
}
