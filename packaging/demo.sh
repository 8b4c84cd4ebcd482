#!/bin/sh
# Builds the helper, installs a setuid copy in a throwaway directory, and lets an
# unprivileged QEMU put a guest NIC on a managed bridge inside a throwaway network and
# mount namespace. Shows the tap in the bridge, its port flags and its static FDB entry,
# then stops QEMU and shows that the tap is gone. Touches no link of this machine.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "fdb-bridge-helper: failed to run demo: it needs root (namespaces, a setuid copy): sudo $0" >&2
    exit 1
fi
packaging/deps.sh
cargo build --release --locked

work=$(mktemp -d /tmp/fdb-bridge-helper-demo.XXXXXX)
ns=fbh-demo-$$
cleanup() {
    [ -f "$work/run/qemu.pid" ] && kill "$(cat "$work/run/qemu.pid")" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
chmod 755 "$work"
install -o root -g root -m 4755 target/release/fdb-bridge-helper "$work/"
mkdir "$work/etc" "$work/run"
chown nobody "$work/run"
printf 'allow br0\nmanaged br0\n' >"$work/etc/bridge.conf"
mkdir -p /etc/qemu # an empty mount point; the namespace's /etc/qemu is the demo's own

ip netns add "$ns"
# shellcheck disable=SC2016
ip netns exec "$ns" sh -eu -c '
    work=$1
    mount --bind "$work/etc" /etc/qemu
    ip link set lo up
    ip link add br0 type bridge && ip link set br0 up
    echo "== /etc/qemu/bridge.conf"; cat /etc/qemu/bridge.conf
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
    echo "== after QEMU exits: taps left: $(ip -o link show type tun | wc -l)"
' sh "$work"
