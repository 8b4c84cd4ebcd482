#!/bin/sh
# Installs what the build, the demo and the tests need on a Debian-like machine:
# QEMU (the real caller and qemu-bridge-helper), iproute2, strace, setcap, setpriv,
# libnss-extrausers (a real non-files NSS source for the tests).
set -eu
pkgs="qemu-system-x86 qemu-system-common iproute2 strace libcap2-bin util-linux passwd libnss-extrausers"
# libvirt's session daemon and virsh, for the libvirt test tier (tests/libvirt.rs).
pkgs="$pkgs libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"
missing=""
for pkg in $pkgs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -qq
    # No service may start on install (libvirtd, virtlogd): a policy-rc.d that says
    # no, where none exists, for the install only.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
        trap 'rm -f "$policy"' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "fdb-bridge-helper: failed to find cargo: install a Rust toolchain (rustup) first" >&2
    exit 1
fi
