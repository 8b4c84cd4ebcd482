//! The argv parser on NUL-separated raw arguments (see `fuzz/props.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../props.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::check_cli(data));
