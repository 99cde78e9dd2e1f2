//! See [`iron_fuzz::request_parse`] for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| iron_fuzz::request_parse(data));
