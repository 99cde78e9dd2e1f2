//! See [`iron_fuzz::reply_skim`] for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| iron_fuzz::reply_skim(data));
