#!/bin/sh
# Builds the helper, installs a setuid copy and the example ACL in a throwaway directory,
# and, inside throwaway network, mount and pid namespaces, lets two unprivileged QEMUs put
# a guest NIC on two bridges side by side: br0, which the example ACL marks `managed`, and
# br1, a plain one, each with an uplink to a "LAN" veth. Shows both ports' flags and the
# static FDB entry, then the effect: frames to an unknown MAC sent from the LAN, counted
# where they arrive (the plain guest gets every one, the managed guest none), and frames
# to the managed guest's own MAC reaching it. Then stops QEMU and shows that the taps are
# gone. The frames are sent and counted by `examples/frames.rs`, built here. Touches no
# link of this machine and leaves no mount: the namespaces (unshare, not `ip netns`,
# which leaves /run/netns mounted) vanish with their last process, QEMU included.
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
cargo build --release --locked --example frames
chmod 755 "$work"
install -o root -g root -m 4755 target/release/fdb-bridge-helper "$work/"
install -m 755 target/release/examples/frames "$work/"
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
    managed_mac=52:54:00:12:34:56 plain_mac=52:54:00:12:34:57
    unknown=02:00:00:00:00:99 lan_mac=02:00:00:00:00:01 n=100
    mount -t sysfs sysfs /sys
    mount --bind "$work/etc" /etc/qemu
    ip link set lo up
    # br0 (managed by the ACL) and br1 (plain), each with an uplink to a LAN veth.
    for i in 0 1; do
        ip link add br$i type bridge && ip link set br$i up
        ip link add up$i type veth peer name lan$i
        ip link set up$i master br$i && ip link set up$i up
        ip link set lan$i address $lan_mac && ip link set lan$i up
    done
    for f in bridge.conf fdb-bridge-helper.conf; do echo "== /etc/qemu/$f"; cat "/etc/qemu/$f"; done
    qemu() {
        echo "== qemu-system-x86_64 as user nobody, -netdev bridge,br=$1,helper=\"$2\""
        setpriv --reuid=nobody --regid=nogroup --clear-groups \
            qemu-system-x86_64 -machine none -nodefaults -display none \
            -netdev "bridge,id=n0,br=$1,helper=$2" \
            -daemonize -pidfile "$work/run/qemu-$1.pid" 2>&1 | grep -v "has no peer" || true
    }
    qemu br0 "$work/fdb-bridge-helper --mac=$managed_mac"
    qemu br1 "$work/fdb-bridge-helper"
    tap_of() { ip -o link show master "$1" type tun | sed -n "s/^[0-9]*: \([^:@]*\).*/\1/p"; }
    managed=$(tap_of br0) plain=$(tap_of br1)
    sleep 1 # the kernel brings new links up asynchronously (linkwatch)
    echo
    printf "%-28s %-22s %s\n" "" "plain guest ($plain, br1)" "managed guest ($managed, br0)"
    flags() { bridge -d link show dev "$1" | grep -oE "learning o[nf]+ flood o[nf]+" | head -n1; }
    printf "%-28s %-22s %s\n" "port flags" "$(flags "$plain")" "$(flags "$managed")"
    entry() { bridge fdb show br "$1" | grep " dev $2 .*static" | cut -d" " -f1 | head -n1; }
    printf "%-28s %-22s %s\n" "static FDB entry" "$(entry br1 "$plain" | grep . || echo none)" \
        "$(entry br0 "$managed") static sticky"
    # Frames from the LAN: counted on each tap while they are sent.
    count() {
        "$work/frames" count "$1" "$2" 1500 >"$work/run/count-$1" &
        sleep 0.3
        "$work/frames" send "$3" "$2" $lan_mac $n
        wait
        cat "$work/run/count-$1"
    }
    got_plain=$(count "$plain" $unknown lan1) got_managed=$(count "$managed" $unknown lan0)
    printf "%-28s %-22s %s\n" "$n frames to unknown MAC" "received $got_plain" "received $got_managed"
    got_own=$(count "$managed" $managed_mac lan0)
    printf "%-28s %-22s %s\n" "$n frames to the guest MAC" "-" "received $got_own"
    echo
    echo "Unknown unicast is flooded to every plain guest port; a managed port gets only"
    echo "frames for its own MAC, through its static entry."
    kill "$(cat "$work/run/qemu-br0.pid")" "$(cat "$work/run/qemu-br1.pid")"
    sleep 0.5
    echo "== after QEMU exits: taps left: $(ip -o link show type tun | wc -l)," \
        "static entries on br0 left: $(bridge fdb show br br0 | grep -c " static" || true)"
    [ "$got_plain" = $n ] && [ "$got_managed" = 0 ] && [ "$got_own" = $n ] || {
        echo "fdb-bridge-helper: failed to show the effect: the counts are not $n, 0 and $n" >&2
        exit 1
    }
' sh "$work"
