//! libFuzzer target: arbitrary bytes as a stack file (and its `.env`) must never panic the loader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rstack::spec::fuzz_load(data);
});
