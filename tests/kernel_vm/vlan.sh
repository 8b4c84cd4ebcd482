# VLANs on the VM's kernel. Set by the test: $A $B $C (managed guests' MACs), $D (a plain
# guest's source address), $L (a host on the LAN, in VLAN 101 only), $UNKNOWN.
# br0: vlan_filtering 1, managed and locked, uplink eth0 a trunk tagged in 101 and 102 and
# nothing else.
# br1: vlan_filtering 1, plain, uplink eth1 a trunk tagged in 201 and 202.
# br2: no vlan_filtering.
# eth2 is a host outside (promiscuous: it sees every frame on the hub), with 8021q links
# eth2.101 … eth2.202: what a listener there gets came tagged with that VLAN, what it sends
# leaves tagged.
for br in br0 br1; do ip link add "$br" type bridge vlan_filtering 1; done
ip link add br2 type bridge
ip link set eth0 master br0
ip link set eth1 master br1
bridge vlan add dev eth0 vid 101-102
bridge vlan add dev eth1 vid 201-202
bridge vlan del dev eth0 vid 1
bridge vlan del dev eth1 vid 1
for v in 101 102 201 202; do ip link add link eth2 name "eth2.$v" type vlan id "$v"; done
ip link set eth2 promisc on
for link in br0 br1 br2 eth0 eth1 eth2 eth2.101 eth2.102 eth2.201 eth2.202; do ip link set "$link" up; done
X=$(cat /sys/class/net/eth2/address)

# A guest's port: its VLANs as `bridge vlan show` prints them ("VID FLAGS…;" each), its FDB
# entries, alternative names, learning, flood and locked.
port() {
    local tap=${TAP[$1]}
    fact "$1.vlans" "$(bridge vlan show dev "$tap" | awk -v dev="$tap" 'NR > 1 && NF { sub("^" dev, ""); $1 = $1; printf "%s;", $0 }')"
    fact "$1.fdb" "$(bridge fdb show dev "$tap" | awk '!/permanent/ {printf "%s;", $0}')"
    fact "$1.altnames" "$(ip -d link show "$tap" | awk '/altname/ {printf "%s;", $2}')"
    fact "$1.flags" "$(cat "/sys/class/net/$tap/brport/learning") $(cat "/sys/class/net/$tap/brport/unicast_flood") $(bridge -d link show dev "$tap" | grep -o 'locked o[nf]*')"
}
# refuse NAME UID ARG…: a call that must fail; reports its exit code and message.
refuse() {
    local code=0
    guest_try "$@" || code=$?
    fact "$1.code" "$code"
    fact "$1.err" "$(tr '\n' ' ' <"/run/vm/$1.err")"
}
fact uplink-alone "$(promisc eth0)"

# Managed guests in VLANs on br0: alice's in 101 and 102 (A in both), bob's in 101. Plain
# ones on br1, called without arguments: each caller's vlan-default.
guest a1 1000 --use-vnet --br=br0 --mac="$A" --vlan=101
guest a2 1000 --use-vnet --br=br0 --mac="$B" --vlan=102
guest b1 1001 --use-vnet --br=br0 --mac="$C" --vlan=101
guest a3 1000 --use-vnet --br=br0 --mac="$A" --vlan=102
guest p1 1000 --use-vnet --br=br1
guest p2 1001 --use-vnet --br=br1
for g in a1 a2 b1 a3 p1 p2; do port "$g"; done
fact managed-guests "$(promisc eth0)"
fact plain-guests "$(promisc eth1)"
fact call-time "$(helper_time a1) $(helper_time a2) $(helper_time b1) $(helper_time p1)"

# Refused: a VLAN outside the caller's grants, a bridge that does not filter VLANs, an
# address claimed already in that VLAN.
refuse r-alice-103 1000 --use-vnet --br=br0 --mac=52:54:00:b1:00:09 --vlan=103
refuse r-unfiltered 1000 --use-vnet --br=br2 --vlan=5
refuse r-claimed 1000 --use-vnet --br=br0 --mac="$A" --vlan=101

# Frames: the guests' own, then the outside host's. Once the wanted ones have arrived (one
# hub, one queue per port), every listener reports every frame it got.
for v in 101 102 201 202; do packet "o$v" "eth2.$v"; done
send a1 ff:ff:ff:ff:ff:ff "$A" a1-bcast
send a1 ff:ff:ff:ff:ff:ff 52:54:00:b1:00:99 a1-spoof
send a1 "$B" "$A" a1-to-b
send a1 "$C" "$A" a1-to-c
send a1 "$X" "$A" a1-out
send a2 "$X" "$B" a2-out
send p1 "$UNKNOWN" "$D" p1-unknown
send o101 "$B" "$X" o101-to-b
send o102 "$B" "$X" o102-to-b
send o101 "$A" "$X" o101-to-a
send o102 "$A" "$X" o102-to-a
send o101 "$UNKNOWN" "$X" o101-unknown
send o201 "$UNKNOWN" "$X" unknown-201
send o202 "$UNKNOWN" "$X" unknown-202
send o101 ff:ff:ff:ff:ff:ff "$L" lan-hello
for want in "b1 a1-bcast" "o101 a1-bcast" "b1 a1-to-c" "o101 a1-to-b" "o101 a1-out" "o102 a2-out" \
    "a2 o102-to-b" "a1 o101-to-a" "a3 o102-to-a" "p1 unknown-201" "p2 unknown-202" \
    "o201 p1-unknown" "a1 lan-hello"; do
    wait_rx $want
done
nap 0.3
for g in a1 a2 b1 a3 p1 p2 o101 o102 o201 o202; do
    fact "$g.rx" "$(awk '/^rx / {printf "%s ", $4}' "/run/vm/$g.out")"
done

# A host's address the bridge learned in VLAN 101 (from lan-hello): refused there, free in 102.
fact learned "$(bridge fdb show dev eth0 | awk -v l="$L" '$1 == l {printf "%s;", $0}')"
refuse r-learned 1000 --use-vnet --br=br0 --mac="$L" --vlan=101
guest l2 1000 --use-vnet --br=br0 --mac="$L" --vlan=102
port l2
fact managed-guests-after "$(promisc eth0)"

# One plain port in a VLAN on br0 (the ACL no longer says managed): the uplink goes
# promiscuous until that port is gone.
grep -Ev '^(managed|locked)' /etc/qemu/bridge.conf >/run/vm/acl && cat /run/vm/acl >/etc/qemu/bridge.conf
guest q 1000 --use-vnet --br=br0 --vlan=101
port q
fact with-plain "$(promisc eth0)"
stop q
fact plain-gone "$(promisc eth0)"
