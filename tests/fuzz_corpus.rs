//! Replays the fuzzers' inputs through their properties on stable, without cargo-fuzz:
//! every file in `fuzz/corpus/<target>/` (seeds and the minimized corpus, which must not be
//! missing or empty) and in `fuzz/regressions/<target>/` (inputs that once failed).
//! The properties are the fuzz targets' own, from `fuzz/props.rs`.

#[path = "../fuzz/props.rs"]
mod props;

use std::any::Any;
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The inputs in `dir`, sorted; names starting with `.` (`.gitkeep`) are not inputs.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("failed to read {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("failed to read {}: {e}", dir.display())))
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    paths
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_owned()
    }
}

/// Runs `check` on every input of `target`, and fails naming each input that failed.
fn replay(target: &str, check: fn(&[u8])) {
    let corpus_dir = fuzz_dir().join("corpus").join(target);
    let corpus = inputs(&corpus_dir);
    assert!(
        !corpus.is_empty(),
        "the fuzz corpus {} is empty: restore it from git",
        corpus_dir.display()
    );
    let regressions_dir = fuzz_dir().join("regressions").join(target);
    let regressions = if regressions_dir.exists() {
        inputs(&regressions_dir)
    } else {
        Vec::new()
    };
    let mut failures = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
        if let Err(payload) = panic::catch_unwind(|| check(&data)) {
            failures.push(format!("{}: {}", path.display(), panic_message(&*payload)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} `{target}` fuzz inputs violate a property of fuzz/props.rs (a bug in src/, \
         or a property to correct; reproduce with `cargo +nightly fuzz run {target} INPUT` in fuzz/):\n{}",
        failures.len(),
        corpus.len() + regressions.len(),
        failures.join("\n")
    );
}

#[test]
fn acl_corpus_and_regressions_hold() {
    replay("acl", props::check_acl);
}

#[test]
fn cli_corpus_and_regressions_hold() {
    replay("cli", props::check_cli);
}

/// The input formats themselves, so that a broken splitter cannot make every check vacuous.
#[test]
fn input_formats_split_as_documented() {
    let files = props::acl_files(b"allow br0\n%%\ninclude /i2\n%%\n\n%%\ndeny all\n%%\nextra");
    assert_eq!(
        files,
        [&b"allow br0"[..], b"include /i2", b"", b"deny all\n%%\nextra"]
    );
    assert_eq!(props::acl_files(b""), [&b""[..]]);
    assert!(props::cli_args(b"").is_empty());
    assert_eq!(props::cli_args(b"--br=br0\0\0--fd=3").len(), 3);
}
