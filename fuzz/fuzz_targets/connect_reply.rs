//! Fuzz target: see `pinscope::fuzzing::connect_reply`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pinscope::fuzzing::connect_reply(data));
