#!/bin/sh
# Installs what the build, the demo and the tests need on a Debian-like machine:
# QEMU (the real caller and qemu-bridge-helper), iproute2, strace, setcap, setpriv,
# libnss-extrausers (a real non-files NSS source for the tests); for the kernel-VM tests,
# static busybox, gcc with glibc's static libc (the in-VM caller), xz and binutils (to take
# vmlinux out of the Debian kernel package, which the tests fetch themselves).
set -eu
pkgs="qemu-system-x86 qemu-system-common iproute2 strace libcap2-bin util-linux passwd libnss-extrausers"
pkgs="$pkgs busybox-static gcc libc6-dev xz-utils binutils"
missing=""
for pkg in $pkgs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "fdb-bridge-helper: failed to find cargo: install a Rust toolchain (rustup) first" >&2
    exit 1
fi
