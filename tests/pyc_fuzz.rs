//! Hostile-input properties of the header and marshal parsers on real pycs
//! of every version: no prefix of a code object is accepted, and arbitrary
//! byte changes never panic (they give facts or a typed error).

mod common;

mod pyc_common;

use pyc_common::fixtures_dir;
use pyvet::format::marshal::read_code_facts;
use pyvet::format::pyc::PycHeader;

/// One pristine pyc per fixture interpreter.
fn samples() -> Vec<(String, Vec<u8>)> {
    pyc_common::rows(&fixtures_dir())
        .into_iter()
        .filter(|r| r.case == "doc-timestamp-opt0" || r.case == "uni-checked-hash-opt1")
        .map(|r| {
            (
                r.pyc.clone(),
                std::fs::read(fixtures_dir().join(&r.pyc)).unwrap(),
            )
        })
        .collect()
}

fn version(h: &PycHeader) -> (u8, u8) {
    let v = h.python.as_ref().unwrap().info.version;
    (v.major, v.minor)
}

#[test]
fn every_truncation_is_rejected() {
    let samples = samples();
    assert!(samples.len() >= 18, "{} samples", samples.len());
    for (name, bytes) in &samples {
        let h = PycHeader::parse(bytes).unwrap();
        let payload = &bytes[h.size()..];
        assert!(read_code_facts(payload, version(&h)).is_ok(), "{name}");
        for cut in 0..payload.len() {
            assert!(
                read_code_facts(&payload[..cut], version(&h)).is_err(),
                "{name} cut at {cut} accepted"
            );
        }
        for cut in 0..h.size() {
            assert!(
                PycHeader::parse(&bytes[..cut]).is_err(),
                "{name} header cut at {cut} accepted"
            );
        }
    }
}

#[test]
fn byte_changes_never_panic() {
    let mut rng = common::XorShift::new(0xD1B5_4A32_D192_ED03);
    let mut next = move || rng.next_u64();
    for (_, bytes) in samples() {
        for _ in 0..3000 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] = next() as u8;
            }
            if let Ok(h) = PycHeader::parse(&b) {
                if let Some(k) = &h.python {
                    let _ = read_code_facts(
                        &b[h.size()..],
                        (k.info.version.major, k.info.version.minor),
                    );
                }
            }
        }
    }
}
