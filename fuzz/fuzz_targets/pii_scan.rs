//! See [`iron_fuzz::pii_scan`] for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| iron_fuzz::pii_scan(data));
