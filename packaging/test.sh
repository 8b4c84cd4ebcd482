#!/bin/sh
# The whole test suite: formatting, lints, unit tables and the real-kernel integration
# tests (namespaces, bridges, taps, setuid and file-caps copies, real QEMU), then the
# benchmark in smoke mode. Needs root. Every step runs even if an earlier one failed; the
# exit status is non-zero if any did. Arguments go to `cargo test`.
set -eu
cd "$(dirname "$0")/.."
. packaging/common.sh
need_root tests
packaging/deps.sh
find_cargo

# The test users and groups are the names tests/common/mod.rs declares. Those this run
# creates are removed when it ends, failed or not; those that existed are kept. Never
# inside the tests: runs in other checkouts share them.
names=$(sed -n 's/^pub const [A-Z_]*: &str = "\(fbh-[a-z0-9-]*\)";.*/\1/p' tests/common/mod.rs)
if [ -z "$names" ]; then
    echo "fdb-bridge-helper: failed to find the test user names in tests/common/mod.rs" >&2
    exit 1
fi
new_users="" new_groups="" new_etc_qemu=""
for name in $names; do
    getent passwd "$name" >/dev/null || new_users="$new_users $name"
    getent group "$name" >/dev/null || new_groups="$new_groups $name"
done
[ -e /etc/qemu ] || new_etc_qemu=1
# `ip netns add` (the harness's namespaces) mounts /run/netns once; undo it if this run did.
new_netns_mount=""
mountpoint -q /run/netns 2>/dev/null || new_netns_mount=1
cleanup() {
    for name in $new_users; do
        if getent passwd "$name" >/dev/null; then userdel "$name" || true; fi
    done
    for name in $new_groups; do
        if getent group "$name" >/dev/null; then groupdel "$name" || true; fi
    done
    # The tests' mount point for their own /etc/qemu.
    if [ -n "$new_etc_qemu" ]; then rmdir /etc/qemu 2>/dev/null || true; fi
    if [ -n "$new_netns_mount" ] && [ -z "$(ip netns list 2>/dev/null)" ]; then
        umount /run/netns 2>/dev/null || true
    fi
    give_back
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

failed=""
step() {
    name=$1
    shift
    echo "== $name: $*"
    "$@" || failed="$failed $name"
}
step fmt cargo fmt --all --check
step clippy cargo clippy --locked --all-targets -- -D warnings
# The libvirt tests run the hook binary, which `cargo test` builds only in test mode.
step build cargo build --locked --workspace --bins
# --no-fail-fast: a test binary that crashes must not hide the results of the others.
step test cargo test --locked --no-fail-fast "$@"
# The .deb and .rpm: built, checked, the .deb installed, used by QEMU and purged.
# Skipped when arguments pick tests: it builds the release binaries and two packages.
if [ $# -eq 0 ]; then step packages packaging/packages.sh; fi
# The benchmark in smoke mode keeps it from rotting; its figures are not meaningful here.
step bench cargo bench --locked --bench helper -- --quick
if [ -n "$failed" ]; then
    echo "fdb-bridge-helper: failed to pass the test suite: failed steps:$failed" >&2
    exit 1
fi
echo "all steps passed: fmt clippy build test packages bench"
