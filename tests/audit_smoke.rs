//! The scenario root builds with the real tools, and an untouched root
//! verifies clean with rpm itself.

mod common;

use common::rpmroot::RpmRoot;

#[test]
fn status_quo_root_builds_and_rpm_verifies_it_clean() {
    let r = RpmRoot::status_quo();
    assert!(r
        .path("/usr/lib/python3.11/json/__pycache__/decoder.cpython-311.opt-2.pyc")
        .is_file());
    assert!(r.path("/var/lib/rpm/rpmdb.sqlite").is_file());
    assert_eq!(r.rpm_verify(), Vec::<String>::new());
}
