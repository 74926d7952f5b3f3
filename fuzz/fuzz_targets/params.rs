#![no_main]
//! See satang_input::fuzzing::params for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| satang_input::fuzzing::params(data));
