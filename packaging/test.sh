#!/bin/sh
# The whole test suite: formatting, lints, unit tables and the real-kernel integration
# tests (namespaces, bridges, taps, setuid and file-caps copies, real QEMU). Needs root.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "fdb-bridge-helper: failed to run tests: they need root (namespaces, setuid copies): sudo $0" >&2
    exit 1
fi
packaging/deps.sh
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked "$@"
# The benchmark in smoke mode keeps it from rotting; its figures are not meaningful here.
cargo bench --locked --bench helper -- --quick
