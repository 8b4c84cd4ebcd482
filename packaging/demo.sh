#!/bin/sh
# Builds the helper, installs a setuid copy and the example ACL in a throwaway directory,
# and lets an unprivileged QEMU put a guest NIC on a managed bridge inside throwaway
# network, mount and pid namespaces. Shows the tap in the bridge, its port flags and its
# static FDB entry, then stops QEMU and shows that the tap is gone. Touches no link of this
# machine and leaves no mount: the namespaces (unshare, not `ip netns`, which leaves
# /run/netns mounted) vanish with their last process, QEMU included.
set -eu
cd "$(dirname "$0")/.."
. packaging/common.sh
need_root demo
packaging/deps.sh
find_cargo

work=$(mktemp -d /tmp/fdb-bridge-helper-demo.XXXXXX)
made_etc_qemu=""
cleanup() {
    rm -rf "$work"
    # The mount point for the namespace's /etc/qemu, if this run had to make it.
    if [ -n "$made_etc_qemu" ]; then rmdir /etc/qemu 2>/dev/null || true; fi
    give_back
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cargo build --release --locked
chmod 755 "$work"
install -o root -g root -m 4755 target/release/fdb-bridge-helper "$work/"
mkdir -m 755 "$work/etc" "$work/run"
chown nobody "$work/run"
install -m 644 packaging/examples/bridge.conf packaging/examples/fdb-bridge-helper.conf "$work/etc/"
if [ ! -d /etc/qemu ]; then
    mkdir -m 755 /etc/qemu
    made_etc_qemu=1
fi

# --kill-child: if this script is interrupted, the namespace's first process is killed,
# and with it every process in the pid namespace (QEMU daemonizes inside it).
# shellcheck disable=SC2016
unshare --net --mount --pid --fork --mount-proc --kill-child sh -eu -c '
    work=$1
    mount -t sysfs sysfs /sys
    mount --bind "$work/etc" /etc/qemu
    ip link set lo up
    ip link add br0 type bridge && ip link set br0 up
    for f in bridge.conf fdb-bridge-helper.conf; do echo "== /etc/qemu/$f"; cat "/etc/qemu/$f"; done
    echo "== qemu-system-x86_64 as user nobody, helper=\"$work/fdb-bridge-helper --mac=52:54:00:12:34:56\""
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        qemu-system-x86_64 -machine none -nodefaults -display none \
        -netdev "bridge,id=n0,br=br0,helper=$work/fdb-bridge-helper --mac=52:54:00:12:34:56" \
        -daemonize -pidfile "$work/run/qemu.pid" 2>&1 | grep -v "has no peer" || true
    echo "== ip -d link show master br0 (the tap, up, vnet_hdr on, fe: address)"
    ip -d link show master br0 | grep -E "^[0-9]+:|link/ether|tun type"
    echo "== bridge -d link show (learning off, flood off)"
    bridge -d link show | grep -oE "^[0-9]+: [^:]+|learning o[nf]+ flood o[nf]+"
    echo "== bridge fdb show br br0 static (the guest MAC, static, on the tap)"
    bridge fdb show br br0 | grep " static"
    kill "$(cat "$work/run/qemu.pid")"
    sleep 0.5
    echo "== after QEMU exits: taps left: $(ip -o link show type tun | wc -l)," \
        "static entries left: $(bridge fdb show br br0 | grep -c " static" || true)"
' sh "$work"
