#!/bin/sh
# Installs the Debian packages the build, the demo and the tests need when they are missing:
# QEMU (the real caller and qemu-bridge-helper), iproute2, strace, setcap, unshare and
# setpriv, useradd, libnss-extrausers (a real non-files NSS source for the tests).
# Rust itself comes from rustup (see README): Debian 12's rustc is too old.
set -eu
pkgs="qemu-system-x86 qemu-system-common iproute2 strace libcap2-bin util-linux passwd libnss-extrausers"
missing=""
for pkg in $pkgs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
