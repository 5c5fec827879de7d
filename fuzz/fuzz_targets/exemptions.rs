//! Fuzz target: see `pinscope::fuzzing::exemptions`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pinscope::fuzzing::exemptions(data));
