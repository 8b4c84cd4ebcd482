//! The ACL parser on an in-memory file system (see `fuzz/props.rs` for the input format),
//! then the decision for br0 and br1 on what it parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../props.rs"]
mod props;

fuzz_target!(|data: &[u8]| props::check_acl(data));
