//! Fuzz target: see `pinscope::fuzzing::chain`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pinscope::fuzzing::chain(data));
