#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pyvet_fuzz::packed(data));
