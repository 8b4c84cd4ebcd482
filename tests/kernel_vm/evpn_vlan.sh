# VLAN-aware bridges across hosts, on the VM's kernel: namespaces A and B as hosts (veth underlay,
# loopback VTEPs), per host one `vlan_filtering` br0 with a VXLAN device per VNI (vxlan101 the
# access port of VLAN 101, vxlan102 of VLAN 102) and FRR's zebra and bgpd (iBGP, l2vpn evpn).
# Set by the test: $MODULES (the vxlan module and its dependencies, in order), $G1 … $G4 (the
# guests' MACs), $FRR (directory of the daemons' configs: A.zebra.conf, A.bgpd.conf, …).
for m in $MODULES; do insmod "/lib/modules/extra/$m.ko"; done
VNIS="101 102"
declare -A VTEP=([A]=10.255.0.1 [B]=10.255.0.2) UNDERLAY=([A]=10.0.0.1 [B]=10.0.0.2)
declare -A PEER=([A]=B [B]=A)
NS=
# The helper and the guests run in host $NS: lib.sh's `start` runs fbh-guest by this name.
fbh-guest() { exec ip netns exec "$NS" /usr/bin/fbh-guest "$@"; }
# on HOST CMD…: CMD (guest, guest_try) with the helper in HOST.
on() {
    NS=$1
    shift
    "$@"
}
# at HOST CMD…: CMD in HOST's network namespace.
at() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}
# Microseconds since the epoch, without a process.
now() { echo "${EPOCHREALTIME/./}"; }

ip netns add A
ip netns add B
for h in A B; do
    at $h sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add ul0 netns A type veth peer name ul0 netns B
for h in A B; do
    p=${PEER[$h]}
    at $h ip link set lo up
    at $h ip addr add "${VTEP[$h]}/32" dev lo
    at $h ip addr add "${UNDERLAY[$h]}/30" dev ul0
    at $h ip link set ul0 up
    at $h ip route add "${VTEP[$p]}/32" via "${UNDERLAY[$p]}"
    at $h ip link add br0 type bridge vlan_filtering 1
    for v in $VNIS; do
        # mtu before `type vxlan`: after it the words are VXLAN options.
        at $h ip link add "vxlan$v" mtu 1450 type vxlan id "$v" local "${VTEP[$h]}" dstport 4789 nolearning
        at $h ip link set "vxlan$v" master br0
        at $h bridge link set dev "vxlan$v" learning off neigh_suppress on
        # The VXLAN port's PVID is its access VLAN: zebra maps VLAN $v to VNI $v through it.
        at $h bridge vlan add dev "vxlan$v" vid "$v" pvid untagged
        at $h bridge vlan del dev "vxlan$v" vid 1
        at $h ip link set "vxlan$v" up
    done
    at $h ip link set br0 up
done

# FRR as user frr (the test adds it and the groups FRR was built with); state in /run/frr/HOST.
mkdir -p /var/tmp/frr /var/run/frr
chown frr:frr /var/tmp/frr /var/run/frr
# run_frr HOST DAEMON
run_frr() {
    local d=/run/frr/$1
    mkdir -p "$d"
    chown frr:frr "$d"
    cp "$FRR/$1.$2.conf" "$d/$2.conf"
    at "$1" "/usr/lib/frr/$2" -F traditional -P 0 -u frr -g frr -z "$d/zserv.api" \
        --vty_socket "$d" -i "$d/$2.pid" -f "$d/$2.conf" >"$d/$2.log" 2>&1 &
}
wait_sock() {
    local i
    for ((i = 0; i < 500; i++)); do
        [[ -S $1 ]] && return 0
        nap 0.02
    done
    echo "fbh-vm: no socket $1" >&2
    frr_logs
    return 1
}
frr_logs() {
    local h
    for h in A B; do
        echo "=== host $h" >&2
        tail -n 15 /run/frr/$h/*.log >&2 || true
        at $h bridge fdb show br br0 >&2 || true
    done
}
# until CONDITION... holds (a command), polled every $POLL s (20 ms) for up to 15 s; the logs if
# never.
until_true() {
    local end=$(($(now) + 15000000))
    while (($(now) < end)); do
        "$@" && return 0
        nap "${POLL:-0.02}"
    done
    echo "fbh-vm: never: $*" >&2
    frr_logs
    return 1
}
# Each host has the other's VTEP in both VNIs' flood lists (type-3 routes): EVPN is up.
evpn_up() {
    local h v
    for h in A B; do
        for v in $VNIS; do
            at $h bridge fdb show dev "vxlan$v" | grep -q "^00:00:00:00:00:00 dst ${VTEP[${PEER[$h]}]} self" || return 1
        done
    done
}
# Both zebras, then both bgpds once zebra listens (a bgpd that finds no zebra retries 10 s
# later).
t0=$(now)
run_frr A zebra
run_frr B zebra
wait_sock /run/frr/A/zserv.api
wait_sock /run/frr/B/zserv.api
t1=$(now)
run_frr A bgpd
run_frr B bgpd
# Polled less often: each look is a few processes, and the daemons need the one CPU.
POLL=0.2 until_true evpn_up
fact frr-up-ms "$((($(now) - t0) / 1000)) zebra $(((t1 - t0) / 1000))"

# The bridge's entries for MAC on host H, one per line joined by ';' (master and self).
entries() { at "$1" bridge fdb show br br0 | awk -v m="$2" '$1 == m {$1 = $1; printf "%s;", $0}'; }
has() { [[ $(entries "$1" "$2") == *"$3"* ]]; }
lacks() { [[ $(entries "$1" "$2") != *"$3"* ]]; }
stat() { at "$1" cat "/sys/class/net/$2/statistics/$3"; }

# Event times from `bridge monitor fdb` on each host: the entry on A's tap, then on B's vxlan.
for h in A B; do
    at $h bridge -timestamp monitor fdb >"/run/vm/mon.$h" 2>&1 &
done
nap 0.3
# stamp HOST REGEX: microseconds of day of the first event matching REGEX (each event follows a
# "Timestamp: Mon Nov 23 14:47:06 2026 879537 usec" line).
stamp() {
    wait_line "/run/vm/mon.$1" "$2" 10 >/dev/null
    awk -v re="$2" '/^Timestamp: / { split($5, t, ":"); at = (t[1] * 3600 + t[2] * 60 + t[3]) * 1000000 + $7; next }
        $0 ~ re { print at; found = 1; exit } END { exit !found }' "/run/vm/mon.$1"
}

# a. A guest in VLAN 101 on A is known on B in VLAN 101, before it sends a frame.
on A guest a1 1000 --use-vnet --br=br0 --mac="$G1" --vlan=101
until_true has B "$G1" "dev vxlan101 vlan 101"
until_true has B "$G1" "dev vxlan101 dst ${VTEP[A]} self"
fact a.on-a "$(entries A "$G1")"
fact a.on-b "$(entries B "$G1")"
tap_a1=${TAP[a1]}
fact a.tap-rx "$(stat A "${TAP[a1]}" rx_packets)"
fact a.vxlan-tx "$(stat A vxlan101 tx_packets) $(stat A vxlan102 tx_packets)"
added_a=$(stamp A "^$G1 dev ${TAP[a1]} ")
added_b=$(stamp B "^$G1 dev vxlan101 vlan 101 .*master br0")
fact a.advertise-ms $(((added_b - added_a) / 1000))

# b. VLAN 102 guests on both hosts (G2 on A, G4 on B); G3 in VLAN 101 on B. G2 reaches B in
# VLAN 102 only.
on A guest a2 1000 --use-vnet --br=br0 --mac="$G2" --vlan=102
on B guest b1 1001 --use-vnet --br=br0 --mac="$G3" --vlan=101
on B guest b2 1001 --use-vnet --br=br0 --mac="$G4" --vlan=102
until_true has A "$G3" "dev vxlan101 vlan 101"
until_true has B "$G2" "dev vxlan102 vlan 102"
fact b.g2-on-b "$(entries B "$G2")"
fact b.g3-on-a "$(entries A "$G3")"
# Unicast a1 -> b1 and back, then each VLAN's broadcast as the barrier: what the others got
# had arrived by then (one path, one queue per host).
send a1 "$G3" "$G1" a1-to-b1
wait_rx b1 a1-to-b1
send b1 "$G1" "$G3" b1-to-a1
wait_rx a1 b1-to-a1
# From VLAN 102 to G3, a VLAN 101 guest's address: unknown in VLAN 102, so nobody's.
send a2 "$G3" "$G2" a2-to-g3
send a1 ff:ff:ff:ff:ff:ff "$G1" a1-bcast
send a2 ff:ff:ff:ff:ff:ff "$G2" a2-bcast
wait_rx b1 a1-bcast
wait_rx b2 a2-bcast
nap 0.2
for g in a1 a2 b1 b2; do
    fact "b.$g.rx" "$(awk '/^rx / {printf "%s ", $4}' "/run/vm/$g.out")"
done

# c. On B, A's guest's MAC: refused in VLAN 101 (a remote host's there), free in VLAN 102.
code=0
on B guest_try c101 1001 --use-vnet --br=br0 --mac="$G1" --vlan=101 || code=$?
fact c.101.code "$code"
fact c.101.err "$(tr '\n' ' ' <"/run/vm/c101.err")"
code=0
on B guest_try c102 1001 --use-vnet --br=br0 --mac="$G1" --vlan=102 || code=$?
fact c.102.code "$code"
fact c.102.on-b "$(entries B "$G1")"
until_true has A "$G1" "dev vxlan102 vlan 102"
fact c.102.on-a "$(entries A "$G1")"

# a. The guest's fd closes: the entry goes from A's tap, then from B's vxlan101.
stop a1
until_true lacks B "$G1" "dev vxlan101 vlan 101"
gone_a=$(stamp A "^Deleted $G1 dev $tap_a1 ")
gone_b=$(stamp B "^Deleted $G1 dev vxlan101 vlan 101 .*master br0")
fact a.withdraw-ms $(((gone_b - gone_a) / 1000))
fact a.gone-b "$(entries B "$G1")"
