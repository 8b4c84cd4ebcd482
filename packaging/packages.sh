#!/bin/sh
# Builds the .deb (cargo-deb) and the .rpm (cargo-generate-rpm) and checks them: lintian
# on the .deb, modes and owners of the .rpm (`rpm -qlvp`). Then installs the .deb for
# real, twice: under a dpkg-statoverride of 0755 (postinst must leave the mode alone),
# and without (the helper setuid root); runs one managed QEMU call as user `nobody`
# against the installed /usr/libexec/fdb-bridge-helper inside throwaway namespaces; purges
# it and checks that nothing is left. Needs root. test.sh runs it as its own step.
#
# It refuses to run where fdb-bridge-helper is installed already (by a package or by
# hand): it would purge or overwrite an admin's install.
set -eu
cd "$(dirname "$0")/.."
. packaging/common.sh
need_root "the package tests"
find_cargo

fail() {
    echo "fdb-bridge-helper: failed to test the packages: $*" >&2
    exit 1
}

helper=/usr/libexec/fdb-bridge-helper
hook=/usr/libexec/fdb-bridge-helper-libvirt-hook
if dpkg-query -W -f='${Status}' fdb-bridge-helper 2>/dev/null | grep -q installed || [ -e "$helper" ] || [ -e "$hook" ]; then
    fail "fdb-bridge-helper is installed on this machine; remove it first"
fi
if dpkg-statoverride --list "$helper" >/dev/null 2>&1; then
    fail "a dpkg-statoverride for $helper exists on this machine; this check would change it"
fi

# The packaging tools, built once into ~/.cargo/bin. Unoptimized (--debug): measured on 2
# shared cores, cargo-deb builds in 0.5 min instead of 3 and cargo-generate-rpm in 2 instead
# of 6.5, and each still makes its package in about 2 s (the compression is C code).
for tool in deb generate-rpm; do
    command -v "cargo-$tool" >/dev/null || cargo install --locked --debug --quiet "cargo-$tool"
done

work=$(mktemp -d /tmp/fdb-bridge-helper-packages.XXXXXX)
installed="" overridden="" made_etc_qemu=""
cleanup() {
    if [ -n "$installed" ]; then dpkg --purge fdb-bridge-helper >/dev/null 2>&1 || true; fi
    if [ -n "$overridden" ]; then dpkg-statoverride --remove "$helper" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
    if [ -n "$made_etc_qemu" ]; then rmdir /etc/qemu 2>/dev/null || true; fi
    give_back
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== build"
cargo build --release --locked --workspace --bins
mkdir -p target/man target/packages
for page in fdb-bridge-helper.8 fdb-bridge-helper.conf.5; do
    gzip -9n <"packaging/$page" >"target/man/$page.gz"
done
rm -f target/packages/*
cargo deb --no-build --quiet --output target/packages/
cargo generate-rpm --output target/packages/
deb=$(ls target/packages/*.deb)
rpm=$(ls target/packages/*.rpm)

echo "== $deb"
dpkg-deb --contents "$deb"
echo "== lintian $deb"
lintian --fail-on error,warning --info "$deb" || fail "lintian found problems in $deb"

echo "== rpm -qlvp $rpm"
list=$(rpm -qlvp "$rpm" 2>/dev/null)
echo "$list"
# mode, owner, group of each installed path.
want() {
    echo "$list" | awk -v p="$2" '$NF == p { print $1, $3, $4 }' | grep -qx -- "$1 root root" ||
        fail "$rpm: $2 is not $1 root root"
}
want -rwsr-xr-x "$helper"
want -rwxr-xr-x "$hook"
want -rw-r--r-- /usr/share/man/man8/fdb-bridge-helper.8.gz
want -rw-r--r-- /usr/share/man/man5/fdb-bridge-helper.conf.5.gz
want -rw-r--r-- /usr/share/doc/fdb-bridge-helper/examples/bridge.conf
if echo "$list" | grep -q " /etc/"; then fail "$rpm installs under /etc"; fi

echo "== dpkg -i under a statoverride of 0755: the mode stays"
overridden=1
dpkg-statoverride --add root root 0755 "$helper"
installed=1
dpkg -i "$deb" >/dev/null
[ "$(stat -c %a "$helper")" = 755 ] || fail "postinst ignored the statoverride: $(stat -c %a "$helper")"
dpkg --purge fdb-bridge-helper >/dev/null
dpkg-statoverride --remove "$helper"
overridden=""

echo "== dpkg -i: setuid root"
dpkg -i "$deb" >/dev/null
for check in "$helper 4755 root root" "$hook 755 root root"; do
    set -- $check
    [ "$(stat -c '%a %U %G' "$1")" = "$2 $3 $4" ] || fail "$1 is $(stat -c '%a %U %G' "$1"), not $2 $3 $4"
done
man -w fdb-bridge-helper >/dev/null && man -w 5 fdb-bridge-helper.conf >/dev/null ||
    fail "man cannot find the installed pages"
[ ! -e /etc/qemu/bridge.conf ] || dpkg -S /etc/qemu/bridge.conf 2>/dev/null | grep -vq fdb-bridge-helper ||
    fail "the package installed /etc/qemu/bridge.conf"

echo "== QEMU as nobody with the installed $helper, on a managed bridge"
chmod 755 "$work"
mkdir -m 755 "$work/etc" "$work/run"
chown nobody "$work/run"
printf 'allow br0\n' >"$work/etc/bridge.conf"
printf 'managed br0\n' >"$work/etc/fdb-bridge-helper.conf"
chmod 644 "$work/etc/"*
if [ ! -d /etc/qemu ]; then
    mkdir -m 755 /etc/qemu
    made_etc_qemu=1
fi
# shellcheck disable=SC2016
unshare --net --mount --pid --fork --mount-proc --kill-child sh -eu -c '
    work=$1 helper=$2 mac=52:54:00:7e:57:01
    mount -t sysfs sysfs /sys
    mount --bind "$work/etc" /etc/qemu
    ip link set lo up
    ip link add br0 type bridge && ip link set br0 up
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        qemu-system-x86_64 -machine none -nodefaults -display none \
        -netdev "bridge,id=n0,br=br0,helper=$helper --mac=$mac" \
        -daemonize -pidfile "$work/run/qemu.pid" 2>"$work/run/qemu.log" || { cat "$work/run/qemu.log"; exit 1; }
    tap=$(ip -o link show master br0 | sed -n "s/^[0-9]*: \([^:@]*\).*/\1/p")
    echo "tap: $tap"
    bridge -d link show dev "$tap" | grep -q "learning off flood off" || { echo "port flags wrong"; exit 1; }
    bridge fdb show br br0 | grep -q "$mac dev $tap .*static" || { echo "no static entry"; exit 1; }
    kill "$(cat "$work/run/qemu.pid")"
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(ip -o link show type tun)" ] && break; sleep 0.2; done
    [ -z "$(ip -o link show type tun)" ] || { echo "tap left after QEMU exited"; exit 1; }
    echo "managed port, static entry, nothing left after QEMU"
' sh "$work" "$helper" || fail "the installed helper did not work under QEMU"

echo "== dpkg --purge: nothing left"
dpkg --purge fdb-bridge-helper >/dev/null
installed=""
left=$(dpkg-deb --contents "$deb" | awk '{ print substr($6, 2) }' | grep -v '/$' |
    while read -r path; do [ ! -e "$path" ] || echo "$path"; done)
[ -z "$left" ] || fail "left after purge: $left"
[ ! -e /usr/share/doc/fdb-bridge-helper ] || fail "left after purge: /usr/share/doc/fdb-bridge-helper"
if dpkg-query -W fdb-bridge-helper >/dev/null 2>&1; then fail "dpkg still knows the package"; fi
if dpkg-statoverride --list "$helper" >/dev/null 2>&1; then fail "a statoverride is left"; fi
echo "packages passed: $deb $rpm"
