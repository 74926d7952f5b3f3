#![no_main]
//! See satang_input::fuzzing::form for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| satang_input::fuzzing::form(data));
