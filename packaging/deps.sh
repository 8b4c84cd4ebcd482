#!/bin/sh
# Installs what the build, the demo and the tests need on a Debian-like machine:
# QEMU (the real caller and qemu-bridge-helper), iproute2, strace, setcap, setpriv,
# libnss-extrausers (a real non-files NSS source for the tests); for the kernel-VM tests,
# static busybox, gcc with glibc's static libc (the in-VM caller), xz and binutils (to take
# vmlinux out of the Debian kernel package, which the tests fetch themselves); frr (zebra
# and bgpd for the two-host EVPN tests, which start their own daemons: the system service
# must never run, so a policy-rc.d that refuses every start is in place during the install
# where the machine has none).
# Rust itself comes from rustup (see README): Debian 12's rustc is too old.
set -eu
pkgs="qemu-system-x86 qemu-system-common iproute2 strace libcap2-bin util-linux passwd libnss-extrausers"
pkgs="$pkgs busybox-static gcc libc6-dev xz-utils binutils frr"
# libvirt's session daemon and virsh, for the libvirt test tier (tests/libvirt/, `cargo test --test libvirt`).
pkgs="$pkgs libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"
# The package checks (packaging/packages.sh): lintian for the .deb, rpm for the .rpm.
pkgs="$pkgs lintian rpm"
missing=""
for pkg in $pkgs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# fdb-bridge-helper deps.sh: no service starts during this install.\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
        trap 'exit 1' HUP INT TERM
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
